"""The C backend: derived SymPy forms -> one self-contained C source.

The source has three parts, in this order:

1. the model's physics (``templates/model.c``): the cutoff, the pair functions phi_a(r) and the
   per-atom energy F(psi, chi) with their derivatives, printed by :mod:`.printer` after
   common-subexpression elimination (docs/theory.md §9);
2. the many-body descriptors (``templates/manybody.c``: moments, the term table, their adjoints)
   when the model has any;
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
TEMPLATES = ("model.c", "manybody.c", "passes.c")


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
            "NPHI": len(m.pair_functions()), "NMB": len(m.psi) - m.n_pair_psi}


class Patterns:
    """The sparse structure of the Jacobian's tangents (docs/theory.md §5.3), the union over
    species: which entries of dU/dtheta, dV/dtheta and the Hessian blocks can be non-zero, and
    hence which parameters the tangent of each adjoint W_a = U_a + sum V fc (and of V_c) holds."""

    def __init__(self, m: LoweredModel, d: Derived):
        NPSI, NCHI = len(m.psi), len(m.chi)
        index = {p.symbol: k for k, p in enumerate(m.params)}
        bp = [index[p.symbol] for p in m.basis_params]
        self.up = sorted(set().union(*[a.Up.keys() for a in d.atom]))
        self.vp = sorted(set().union(*[a.Vp.keys() for a in d.atom]))
        self.hpp = sorted(set().union(*[a.Hpp.keys() for a in d.atom]))
        self.hpc = sorted(set().union(*[a.Hpc.keys() for a in d.atom]))
        self.hcc = sorted(set().union(*[a.Hcc.keys() for a in d.atom]))
        wcols = [set() for _ in range(NPSI)]
        vcols = [set() for _ in range(NCHI)]
        for a, k in self.up:
            wcols[a].add(k)
        for c, k in self.vp:
            vcols[c].add(k)
        for a, _ in self.hpp:
            wcols[a].update(bp)
        for a, c in self.hpc:
            wcols[a].update(bp)
            vcols[c].update(bp)
        for c, _ in self.hcc:
            vcols[c].update(bp)
        for c in range(NCHI):
            wcols[m.chi_src[c]].update(vcols[c])
        self.w = [sorted(x) for x in wcols]
        self.v = [sorted(x) for x in vcols]
        wpos = {(a, k): e for e, (a, k) in enumerate((a, k) for a in range(NPSI) for k in self.w[a])}
        vpos = {(c, k): e for e, (c, k) in enumerate((c, k) for c in range(NCHI) for k in self.v[c])}
        self.arrays = {
            "w_start": _starts(self.w), "w_col": [k for row in self.w for k in row],
            "v_start": _starts(self.v), "v_col": [k for row in self.v for k in row],
            "up_to_w": [wpos[e] for e in self.up], "vp_to_v": [vpos[e] for e in self.vp],
            "v_to_w": [wpos[(m.chi_src[c], k)] for c in range(NCHI) for k in self.v[c]],
            "w_basis": [wpos.get((a, t), -1) for a in range(NPSI) for t in bp],
            "v_basis": [vpos.get((c, t), -1) for c in range(NCHI) for t in bp],
            "hpp_row": [a for a, _ in self.hpp], "hpp_col": [b for _, b in self.hpp],
            "hpc_row": [a for a, _ in self.hpc], "hpc_col": [c for _, c in self.hpc],
            "hcc_row": [c for c, _ in self.hcc], "hcc_col": [e for _, e in self.hcc],
        }
        self.sizes = {"UP_NNZ": len(self.up), "VP_NNZ": len(self.vp), "HPP_NNZ": len(self.hpp),
                      "HPC_NNZ": len(self.hpc), "HCC_NNZ": len(self.hcc),
                      "W_NNZ": len(self.arrays["w_col"]), "V_NNZ": len(self.arrays["v_col"])}


def _starts(rows) -> list[int]:
    out = [0]
    for row in rows:
        out.append(out[-1] + len(row))
    return out


def _defines(m: LoweredModel, nq: int, pat: Patterns) -> str:
    s = _sizes(m)
    index = {p.symbol: k for k, p in enumerate(m.params)}
    K = m.n_species
    lines = [f"#define COMPOT_NP {s['NP']}", f"#define COMPOT_NPSI {s['NPSI']}",
             f"#define COMPOT_NPSI2 {m.n_pair_psi}", f"#define COMPOT_NPHI {s['NPHI']}",
             f"#define COMPOT_NMB {s['NMB']}", f"#define COMPOT_NCHI {s['NCHI']}",
             f"#define COMPOT_NB {s['NB']}", f"#define COMPOT_NQ {nq}", f"#define COMPOT_NSPECIES {K}",
             f"#define COMPOT_CUTOFF {c_double(m.cutoff)}", f"#define COMPOT_INV_RC {c_double(1.0 / m.cutoff)}",
             c_array("int", "compot_chi_src", m.chi_src)]
    if s["NMB"]:
        mb = m.many_body
        blocks = mb.blocks
        lines += [f"#define COMPOT_NM {mb.n_moments}", f"#define COMPOT_LMAX {mb.lmax}",
                  f"#define COMPOT_NLM {(mb.lmax + 1) ** 2}", f"#define COMPOT_NBLOCK {len(blocks)}",
                  f"#define COMPOT_NTERMS {len(mb.terms)}"]
        lines.append(c_array("int", "compot_lm_l", [l for l in range(mb.lmax + 1) for _ in range(2 * l + 1)],
                             "l of each harmonic index lm = l*l + l + m"))
        lines.append(c_array("int", "compot_blk_lmax", [b.lmax for b in blocks],
                             "moment blocks: largest l, number of radial functions, offset in M, "
                             "first entry in compot_blk_phi"))
        lines.append(c_array("int", "compot_blk_n", [len(b.phi) for b in blocks]))
        lines.append(c_array("int", "compot_blk_off", [b.offset for b in blocks]))
        lines.append(c_array("int", "compot_blk_first", _starts([b.phi for b in blocks])[:-1]))
        rad = mb.radial
        lines.append(f"#define COMPOT_NRAD {len(rad)}")
        lines.append(c_array("int", "compot_blk_rad", [rad.index(f) for b in blocks for f in b.phi],
                             "index of each block function among the radial values (compot_radial)"))
        pairs = [(rad.index(a), rad.index(b)) for sb in mb.selfs for a, b in sb.pairs]
        lines.append(f"#define COMPOT_NSELF {len(pairs)}")
        lines.append(f"#define COMPOT_SELF_OFF {mb.selfs[0].offset if mb.selfs else 0}")
        lines.append(c_array("int", "compot_self_a", [a for a, _ in pairs],
                             "self moments S = sum_j phi_a phi_b (three-body bases' j = k terms)"))
        lines.append(c_array("int", "compot_self_b", [b for _, b in pairs]))
        lines.append(c_array("int", "compot_term_k", [t[0] for t in mb.terms],
                             "term table: psi[NPSI2 + k] += coef sum_{i<n} M[a+i] (* M[b+i]) (* M[c+i])"))
        lines.append(c_array("int", "compot_term_n", [t[5] for t in mb.terms]))
        lines.append(c_array("int", "compot_term_a", [t[2] for t in mb.terms]))
        lines.append(c_array("int", "compot_term_b", [t[3] for t in mb.terms]))
        lines.append(c_array("int", "compot_term_c", [t[4] for t in mb.terms]))
        lines.append(c_array("double", "compot_term_coef", [c_double(t[1]) for t in mb.terms]))
    lines.append(c_array("int", "compot_basis_param", [index[p.symbol] for p in m.basis_params]))
    lines.append(c_array("int", "compot_pair_type", m.pair_type_table,
                         "pair type of species (si, sj): compot_pair_type[si * NSPECIES + sj]; types: "
                         + (" ".join(m.pair_types) if K > 1 else "one")))
    lines.append("/* sparse tangents of the Jacobian (docs/theory.md §5.3) */")
    lines += [f"#define COMPOT_{k} {v}" for k, v in pat.sizes.items()]
    lines += [c_array("int", f"compot_{k}", v) for k, v in pat.arrays.items()]
    return "\n".join(lines)


def physics_source(m: LoweredModel, d: Derived | None = None) -> str:
    """The model-specific part: sizes, tables, pair functions and per-atom energy (with the
    derivatives the passes need)."""
    if d is None:
        d = derive(m)
    s = _sizes(m)
    NP, NPSI, NCHI, NB, NPHI = s["NP"], s["NPSI"], s["NCHI"], s["NB"], s["NPHI"]
    pat = Patterns(m, d)
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
    radial = radial_jac = []
    if m.many_body is not None:
        # the radial values of the moments: the same hoisted forms, the subset compot_radial needs
        rad = m.many_body.radial
        nr = len(rad)
        rg = [f"g[{i}]" for i in range(nr)] + [f"dg[{i}]" for i in range(nr)]
        rg_b = [f"gb[{i * NB + b}]" for i in range(nr) for b in range(NB)] + \
               [f"dgb[{i * NB + b}]" for i in range(nr) for b in range(NB)]

        def pick(h):
            return [h[f] for f in rad] + [h[NPHI + f] for f in rad]

        def pick_b(h):
            return [h[2 * NPHI + f * NB + b] for f in rad for b in range(NB)] + \
                   [h[2 * NPHI + NPHI * NB + f * NB + b] for f in rad for b in range(NB)]

        radial = _zero([("g", nr), ("dg", nr)]) + \
            switch("t", [block(list(zip(rg, pick(ph))), {}, simd_exp=True) for ph in pair_h])
        radial_jac = _zero([("g", nr), ("dg", nr), ("gb", nr * NB), ("dgb", nr * NB)]) + \
            switch("t", [block(list(zip(rg + rg_b, pick(jh) + pick_b(jh))), {}) for jh in jac_h])

    def atom_list(a):
        return [("F", a.F)] + [(f"U[{k}]", e) for k, e in enumerate(a.U)] + \
               [(f"V[{c}]", e) for c, e in enumerate(a.V)]

    def jac_list(a):
        jac = atom_list(a)
        jac += [(f"Fp[{k}]", e) for k, e in sorted(a.Fp.items())]
        for arr, pattern, forms in (("Up", pat.up, a.Up), ("Vp", pat.vp, a.Vp), ("Hpp", pat.hpp, a.Hpp),
                                    ("Hpc", pat.hpc, a.Hpc), ("Hcc", pat.hcc, a.Hcc)):
            jac += [(f"{arr}[{e}]", forms[key]) for e, key in enumerate(pattern) if key in forms]
        return jac

    atom = _zero([("U", NPSI), ("V", NCHI)]) + \
        switch("s", [block(atom_list(a), sm, simd_exp=True) for a in d.atom])
    atom_jac = _zero([("U", NPSI), ("V", NCHI), ("Fp", NP)] +
                     [(arr, pat.sizes[f"{arr.upper()}_NNZ"]) for arr in ("Up", "Vp", "Hpp", "Hpc", "Hcc")]) + \
        switch("s", [block(jac_list(a), sm) for a in d.atom])
    return Template(template("model.c")).substitute(
        version=__version__, text=m.text, np=NP, names=" ".join(m.parameter_names),
        defines=_defines(m, len(table), pat), precompute="\n".join(block(q_assign, {}, prefix="u")),
        pair="\n".join(pair), pair_jac="\n".join(pair_jac), atom="\n".join(atom),
        atom_jac="\n".join(atom_jac)) + (_radial_source(radial, radial_jac) + _ylm_source(m.many_body.lmax)
                                         if m.many_body else "")


def _radial_source(radial: list[str], radial_jac: list[str]) -> str:
    head = "(const double r, const int t, const double* p, const double* q, double* g, double* dg"
    return "\n".join([
        "", "/* the radial values of the moments (a subset of the pair functions) and their derivatives */",
        f"static inline void compot_radial{head}) {{",
        "    (void)p; (void)q; (void)r; (void)t;", "    double fc, dfc;", "    compot_cutoff(r, &fc, &dfc);",
        *radial, "}", "",
        "/* as compot_radial, plus derivatives by the basis parameters: gb[i*NB+b], dgb[i*NB+b] */",
        f"static inline void compot_radial_jac{head},", "                                     double* gb, double* dgb) {",
        "    (void)p; (void)q; (void)r; (void)t;", "    double fc, dfc;", "    compot_cutoff(r, &fc, &dfc);",
        *radial_jac, "}", ""])


def _ylm_source(lmax: int) -> str:
    """compot_ylm(u, Y, dY): the harmonics Yhat_lm(u) (docs/theory.md §3.2) and, when dY != NULL,
    their gradients by the components of u (dY[3 lm + x]), generated from the exact polynomials."""
    from ...harmonics import X, Y, Z, harmonics

    H = harmonics(lmax)
    sm = {X: sp.Symbol("u[0]"), Y: sp.Symbol("u[1]"), Z: sp.Symbol("u[2]")}
    values = [(f"Y[{k}]", h) for k, h in enumerate(H)]
    grads = [(f"dY[{3 * k + x}]", sp.diff(h, v)) for k, h in enumerate(H) for x, v in enumerate((X, Y, Z))]
    lines = ["", f"/* real harmonics Yhat_lm(u) in Racah's normalisation, l <= {lmax}, index l*l + l + m,",
             " * and (dY != NULL) their gradients by u: dY[3 lm + x] */",
             "static inline void compot_ylm(const double* u, double* Y, double* dY) {"]
    lines += block(values, sm, prefix="y")
    lines.append("    if (!dY) return;")
    lines.append(f"    memset(dY, 0, sizeof(double) * {3 * len(H)});")
    lines += block(grads, sm, prefix="z")
    lines.append("}")
    return "\n".join(lines) + "\n"


def c_source(m: LoweredModel, d: Derived | None = None, passes: bool = True) -> str:
    """The whole C source: physics, many-body descriptors (if any) and the passes."""
    parts = [physics_source(m, d)]
    if m.many_body is not None:
        parts.append(template("manybody.c"))
    if passes:
        parts.append(template("passes.c"))
    text = "\n".join(parts)
    if "\\" in text or '"""' in text:
        raise AssertionError("generated C must not contain backslashes or triple quotes")
    return text


def sources(m: LoweredModel, name: str = "compot_model", csrc: str | None = None) -> dict[str, str]:
    """``{name.h: the C source}``."""
    return {f"{name}.h": csrc if csrc is not None else c_source(m)}
