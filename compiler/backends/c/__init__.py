"""The C backend: derived SymPy forms -> one self-contained C source.

The source has three parts, in this order:

1. the model's physics (``templates/model.c``): the cutoff, the pair functions phi_a(r) and the
   per-atom energy F(psi, chi) with their derivatives, printed by :mod:`.printer` after
   common-subexpression elimination (docs/theory.md §7);
2. the many-body descriptors (``templates/threebody.c``) when the model has any;
3. the physics passes (``templates/passes.c``): the model-independent chain rule over a flat
   list of neighbour pairs, written once and called by every other backend (Cython, LAMMPS,
   standalone).

Nothing here reads or writes files; :func:`sources` returns ``{filename: text}``.
"""

from __future__ import annotations

from importlib import resources
from string import Template

import sympy as sp

from ....version import __version__
from ...derive import DFC, FC, Derived, derive
from ...ir import R, LoweredModel
from .printer import block, c_array, c_double, hoist, switch

#: the files of this backend's templates, in the order they are concatenated
TEMPLATES = ("model.c", "threebody.c", "passes.c")


def template(name: str) -> str:
    return resources.files(__package__).joinpath("templates", name).read_text(encoding="utf-8")


def symbol_map(m: LoweredModel) -> dict:
    """SymPy symbols of the IR -> the C array elements that hold them."""
    sm = {p.symbol: sp.Symbol(f"p[{k}]") for k, p in enumerate(m.params)}
    sm.update({s: sp.Symbol(f"psi[{a}]") for a, s in enumerate(m.psi)})
    sm.update({s: sp.Symbol(f"chi[{c}]") for c, s in enumerate(m.chi)})
    sm.update({R: sp.Symbol("r"), FC: sp.Symbol("fc"), DFC: sp.Symbol("dfc")})
    return sm


def _zero(arrays) -> list[str]:
    return [f"    memset({a}, 0, sizeof(double) * {n});" for a, n in arrays if n]


def _sizes(m: LoweredModel) -> dict:
    return {"NP": len(m.params), "NPSI": len(m.psi), "NCHI": len(m.chi), "NB": len(m.basis_params),
            "NPHI": len(m.pair_functions()), "N3": len(m.three_body)}


def _defines(m: LoweredModel, nq: int) -> str:
    s = _sizes(m)
    index = {p.symbol: k for k, p in enumerate(m.params)}
    K = m.n_species
    lines = [f"#define COMPOT_NP {s['NP']}", f"#define COMPOT_NPSI {s['NPSI']}",
             f"#define COMPOT_NPSI2 {m.n_pair_psi}", f"#define COMPOT_NPHI {s['NPHI']}",
             f"#define COMPOT_N3 {s['N3']}", f"#define COMPOT_NCHI {s['NCHI']}",
             f"#define COMPOT_NB {s['NB']}", f"#define COMPOT_NQ {nq}", f"#define COMPOT_NSPECIES {K}",
             f"#define COMPOT_CUTOFF {c_double(m.cutoff)}", f"#define COMPOT_INV_RC {c_double(1.0 / m.cutoff)}",
             c_array("int", "compot_chi_src", m.chi_src)]
    if s["N3"]:
        lines.append(f"#define COMPOT_LMAX {max(l for _, _, l in m.three_body)}")
        lines.append(c_array("int", "compot_t3", [x for t in m.three_body for x in t],
                             "three-body descriptors psi[NPSI2 + m]: (phi index a, phi index b, "
                             "Legendre degree l)"))
    lines.append(c_array("int", "compot_basis_param", [index[p.symbol] for p in m.basis_params]))
    lines.append(c_array("int", "compot_pair_type", m.pair_type_table,
                         "pair type of species (si, sj): compot_pair_type[si * NSPECIES + sj]; types: "
                         + (" ".join(m.pair_types) if K > 1 else "one")))
    return "\n".join(lines)


def physics_source(m: LoweredModel, d: Derived | None = None) -> str:
    """The model-specific part: sizes, tables, pair functions and per-atom energy (with the
    derivatives the passes need)."""
    if d is None:
        d = derive(m)
    s = _sizes(m)
    NP, NPSI, NCHI, NB, NPHI = s["NP"], s["NPSI"], s["NCHI"], s["NB"], s["NPHI"]
    sm = symbol_map(m)
    params = set(sm[p.symbol] for p in m.params)

    # pair functions (per pair type), parameter-only subexpressions hoisted into q[]
    table: dict = {}
    pair_h, jac_h = [], []
    for pf in d.pair:
        pair_exprs = [e.xreplace(sm) for e in pf.phi + pf.dphi]
        jac_exprs = [e.xreplace(sm) for row in pf.phi_b for e in row] + \
                    [e.xreplace(sm) for row in pf.dphi_b for e in row]
        pair_h.append(hoist(pair_exprs, params, table))
        jac_h.append(hoist(pair_exprs + jac_exprs, params, table))
    q_assign = [(str(q), e) for e, q in sorted(table.items(), key=lambda kv: int(str(kv[1])[2:-1]))]

    tg = [f"phi[{a}]" for a in range(NPHI)] + [f"dphi[{a}]" for a in range(NPHI)]
    tg_b = [f"phi_b[{a * NB + b}]" for a in range(NPHI) for b in range(NB)] + \
           [f"dphi_b[{a * NB + b}]" for a in range(NPHI) for b in range(NB)]
    pair = _zero([("phi", NPHI), ("dphi", NPHI)])
    pair_jac = pair + _zero([("phi_b", NPHI * NB), ("dphi_b", NPHI * NB)])
    pair += switch("t", [block(list(zip(tg, ph)), {}, simd_exp=True) for ph in pair_h])
    pair_jac += switch("t", [block(list(zip(tg + tg_b, jh)), {}) for jh in jac_h])

    def atom_list(a):
        return [("F", a.F)] + [(f"U[{k}]", e) for k, e in enumerate(a.U)] + \
               [(f"V[{c}]", e) for c, e in enumerate(a.V)]

    def jac_list(a):
        jac = atom_list(a)
        jac += [(f"Fp[{k}]", e) for k, e in enumerate(a.Fp)]
        jac += [(f"Up[{i * NP + k}]", e) for i, row in enumerate(a.Up) for k, e in enumerate(row)]
        jac += [(f"Vp[{c * NP + k}]", e) for c, row in enumerate(a.Vp) for k, e in enumerate(row)]
        jac += [(f"Hpp[{i * NPSI + b}]", e) for i, row in enumerate(a.Hpp) for b, e in enumerate(row)]
        jac += [(f"Hpc[{i * NCHI + c}]", e) for i, row in enumerate(a.Hpc) for c, e in enumerate(row)]
        jac += [(f"Hcc[{c * NCHI + e2}]", e) for c, row in enumerate(a.Hcc) for e2, e in enumerate(row)]
        return jac

    atom = _zero([("U", NPSI), ("V", NCHI)]) + \
        switch("s", [block(atom_list(a), sm, simd_exp=True) for a in d.atom])
    atom_jac = _zero([("U", NPSI), ("V", NCHI), ("Fp", NP), ("Up", NPSI * NP), ("Vp", NCHI * NP),
                      ("Hpp", NPSI * NPSI), ("Hpc", NPSI * NCHI), ("Hcc", NCHI * NCHI)]) + \
        switch("s", [block(jac_list(a), sm) for a in d.atom])
    return Template(template("model.c")).substitute(
        version=__version__, text=m.text, np=NP, names=" ".join(m.parameter_names),
        defines=_defines(m, len(table)), precompute="\n".join(block(q_assign, {}, prefix="u")),
        pair="\n".join(pair), pair_jac="\n".join(pair_jac), atom="\n".join(atom),
        atom_jac="\n".join(atom_jac))


def c_source(m: LoweredModel, d: Derived | None = None, passes: bool = True) -> str:
    """The whole C source: physics, many-body descriptors (if any) and the passes."""
    parts = [physics_source(m, d)]
    if m.three_body:
        parts.append(template("threebody.c"))
    if passes:
        parts.append(template("passes.c"))
    text = "\n".join(parts)
    if "\\" in text or '"""' in text:
        raise AssertionError("generated C must not contain backslashes or triple quotes")
    return text


def sources(m: LoweredModel, name: str = "compot_model", csrc: str | None = None) -> dict[str, str]:
    """``{name.h: the C source}``."""
    return {f"{name}.h": csrc if csrc is not None else c_source(m)}
