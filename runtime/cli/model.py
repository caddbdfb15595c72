"""``compot show`` and ``compot compile``: a model's parameters and analytic forms, and its
standalone kernel sources."""

from __future__ import annotations

from .common import add_json, add_model_args, emit_json, model_text, parse_elements


def cmd_show(args) -> int:
    import sympy as sp

    from ...compiler.derive import derive
    from ...compiler.pipeline import lower_text

    from ...compiler.presets import PRESETS

    text = model_text(args.expr)
    elements = parse_elements(args.elements)
    if text.strip() in PRESETS and not elements and "ZBL" in PRESETS[text.strip()]:
        # a preset with a core term needs elements to be lowered: show its text
        preset = {"preset": text.strip(), "model": PRESETS[text.strip()],
                  "note": "give --elements to see its parameters and energy"}
        if args.json:
            emit_json(preset)
        else:
            print(f"preset {preset['preset']}: {preset['model']}\n({preset['note']})")
        return 0
    lowered = lower_text(text, cutoff=args.cutoff, elements=elements)
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
        "preset": text.strip() if text.strip() in PRESETS else None,
        "model": lowered.text,
        "cutoff": lowered.cutoff,
        "elements": list(lowered.elements) if lowered.elements else None,
        "body_order": lowered.body_order,
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
                jac[p.name] = fmt(d.Fp.get(k, 0))
        out["jacobian"] = jac
    if args.json:
        emit_json(out)
        return 0
    print(f"model      {out['model']}")
    print(f"parameters {len(lin)} linear + {len(nonlin)} nonlinear = {len(lowered.params)}")
    print(f"body order {out['body_order']}")
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


def cmd_compile(args) -> int:
    from ..export import write_standalone

    files = write_standalone(model_text(args.expr), args.output, cutoff=args.cutoff,
                             elements=parse_elements(args.elements), name=args.name)
    if args.json:
        emit_json({"files": files})
    else:
        print("wrote " + ", ".join(files))
        print(f"build: cd {args.output} && python setup.py build_ext --inplace")
    return 0



def register(sub) -> None:
    p = sub.add_parser("show", help="parameters and derived analytic forms of a model (or preset)")
    add_model_args(p)
    p.add_argument("--jacobian", action="store_true", help="also print dE_i/dtheta")
    p.add_argument("--latex", action="store_true", help="LaTeX instead of plain formulas")
    add_json(p)
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("compile", help="write standalone kernel sources that build without compot")
    add_model_args(p)
    p.add_argument("-o", "--output", required=True, help="output directory")
    p.add_argument("--name", default="compot_model", help="module name (default compot_model)")
    add_json(p)
    p.set_defaults(func=cmd_compile)
