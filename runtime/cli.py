"""The ``compot`` command line.  Every command takes ``--help`` and ``--json``.

Errors caused by input print one line ``compot: error: ...`` on stderr and exit with status 2;
an interrupted command exits 130.  Set ``COMPOT_DEBUG=1`` to see tracebacks of internal errors.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings

from .. import __version__
from ..errors import CompotError

EXIT_ERROR = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse's own convention)
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message}\n")


def _emit_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, indent=1, default=_json_default) + "\n")


def _json_default(o):
    import numpy as np

    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    raise TypeError(type(o).__name__)


def _common(p):
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def _model_args(p):
    p.add_argument("expr", help="model text, e.g. 'E[G8L4] + N[E[G8L4]]' (or @file to read it)")
    p.add_argument("--cutoff", type=float, default=None, help="cutoff radius in Angstrom (default 5)")
    p.add_argument("--elements", default=None, help="comma-separated elements, e.g. Nb")


def _model_text(expr: str) -> str:
    if expr.startswith("@"):
        path = expr[1:]
        try:
            with open(path, encoding="utf-8") as f:
                return f.read()
        except OSError as exc:
            raise CompotError(f"cannot read model file {path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise CompotError(f"model file {path} is not UTF-8 text") from None
    return expr


def _elements(s):
    return [e.strip() for e in s.split(",") if e.strip()] if s else None


# ---------------------------------------------------------------------------- show
def cmd_show(args) -> int:
    import sympy as sp

    from ..compiler.derive import derive
    from ..compiler.lower import lower
    from ..grammar import parse

    lowered = lower(parse(_model_text(args.expr)), cutoff=args.cutoff, elements=_elements(args.elements))
    lin = [p for p in lowered.params if p.linear]
    nonlin = [p for p in lowered.params if not p.linear]
    d = derive(lowered) if args.jacobian else None
    names = lowered.latex_names()
    fmt = (lambda e: sp.latex(e, symbol_names=names)) if args.latex else sp.sstr
    npair = lowered.n_pair_psi
    descriptors = {str(s): ("sum_j " if a < npair else "sum_(j!=k) ") + fmt(lowered.descriptor_expression(a))
                   for a, s in enumerate(lowered.psi)}
    neighbour = {str(s): f"sum_j fc(r_ij) {lowered.psi[lowered.chi_src[c]]}(j)"
                 for c, s in enumerate(lowered.chi)}
    dphi = {f"d{s}/dr": fmt(sp.diff(f, sp.Symbol("r", positive=True)))
            for s, f in zip(lowered.psi[:npair], lowered.pair_functions())}
    pair_force = ("dE/dr_ij = sum_a W_a(i) dphi_a(r_ij)/dr"
                  + (" + fc'(r_ij) sum_c V_c(i) psi_src(c)(j)" if lowered.chi else "")
                  + "; W_a = dE_i/dpsi_a" + (" + sum_k V_a(k) fc(r_ki)" if lowered.chi else "")
                  + (", V_c = dE_i/dchi_c" if lowered.chi else ""))
    out = {
        "model": lowered.text,
        "cutoff": lowered.cutoff,
        "elements": list(lowered.elements) if lowered.elements else None,
        "n_linear": len(lin), "n_nonlinear": len(nonlin),
        "linear": [p.name for p in lin], "nonlinear": [p.name for p in nonlin],
        "bounds": {p.name: [p.lower, p.upper] for p in nonlin},
        "energy": fmt(lowered.energy),
        "descriptors": descriptors, "neighbour_descriptors": neighbour,
        "pair_force": pair_force, "dphi_dr": dphi,
        "warnings": lowered.warnings,
    }
    if d is not None:
        jac = {}
        bindex = {q.name: b for b, q in enumerate(lowered.basis_params)}
        for k, p in enumerate(lowered.params):
            if p.name in bindex:
                b = bindex[p.name]
                jac[p.name] = {f"d{s}/d{p.name}": fmt(row[b])
                               for s, row in zip(lowered.psi, d.phi_b) if row[b] != 0}
            else:
                jac[p.name] = fmt(d.Fp[k])
        out["jacobian"] = jac
    if args.json:
        _emit_json(out)
        return 0
    print(f"model      {out['model']}")
    print(f"parameters {len(lin)} linear + {len(nonlin)} nonlinear = {len(lowered.params)}")
    print()
    print(f"{'parameter':<22} {'kind':<10} search domain")
    for p in lowered.params:
        dom = "" if p.linear else f"[{p.lower:.4g}, {p.upper:.4g}]" + (" (log)" if p.log_scale else "")
        print(f"{p.name:<22} {'linear' if p.linear else 'nonlinear':<10} {dom}")
    print()
    print(f"E_i = {out['energy']}")
    print()
    print("descriptors of atom i (r = r_ij; three-body: r_ij, r_ik and the angle theta_jik):")
    for k, v in descriptors.items():
        print(f"  {k} = {v}")
    for k, v in neighbour.items():
        print(f"  {k} = {v}")
    print()
    print("pair force: " + pair_force)
    for k, v in dphi.items():
        print(f"  {k} = {v}")
    if d is not None:
        print()
        print("Jacobian dE_i/dtheta (basis parameters act through the descriptors):")
        for k, v in out["jacobian"].items():
            if isinstance(v, dict):
                for kk, vv in v.items():
                    print(f"  {kk} = {vv}")
            else:
                print(f"  dE_i/d{k} = {v}")
    return 0


# ---------------------------------------------------------------------------- compile
def cmd_compile(args) -> int:
    from .standalone import write_standalone

    files = write_standalone(_model_text(args.expr), args.output, cutoff=args.cutoff,
                             elements=_elements(args.elements), name=args.name)
    if args.json:
        _emit_json({"files": files})
    else:
        print("wrote " + ", ".join(files))
        print(f"build: cd {args.output} && python setup.py build_ext --inplace")
    return 0


def cmd_demo(args) -> int:
    from .demo import run_demo

    out = run_demo(args.output, args.model, seed=args.seed, quiet=args.quiet, as_json=args.json)
    if args.json:
        _emit_json(out)
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="compot", description="compot: compile, train and judge composable "
                 "interatomic potentials written as text.")
    ap.add_argument("--version", action="version", version=f"compot {__version__}")
    sub = ap.add_subparsers(dest="command", metavar="command", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser("show", help="parameters and derived analytic forms of a model")
    _model_args(p)
    p.add_argument("--jacobian", action="store_true", help="also print dE_i/dtheta")
    p.add_argument("--latex", action="store_true", help="LaTeX instead of plain formulas")
    _common(p)
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("compile", help="write standalone kernel sources that build without compot")
    _model_args(p)
    p.add_argument("-o", "--output", required=True, help="output directory")
    p.add_argument("--name", default="compot_model", help="module name (default compot_model)")
    _common(p)
    p.set_defaults(func=cmd_compile)

    p = sub.add_parser("demo", help="generate EMT data, train, evaluate and analyse (no files needed)")
    p.add_argument("-o", "--output", default="compot-demo", help="output directory (default compot-demo)")
    p.add_argument("--model", default="E[G6L4] + N[E[G6L4]]", help="model text to train")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true")
    _common(p)
    p.set_defaults(func=cmd_demo)

    from . import cli_train  # training, metrics, FIM commands
    cli_train.register(sub, _common, _model_args)
    return ap


def main(argv=None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    debug = bool(os.environ.get("COMPOT_DEBUG"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = lambda m, *a, **k: print(f"compot: warning: {m}", file=sys.stderr)
            return int(args.func(args) or 0)
    except CompotError as exc:
        if debug:
            raise
        print(f"compot: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("compot: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # an internal error: still one line unless debugging
        if debug:
            raise
        print(f"compot: internal error: {type(exc).__name__}: {exc} (set COMPOT_DEBUG=1 for a "
              "traceback, and please report it)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
