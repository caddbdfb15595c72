"""Code generation: derived SymPy expressions -> plain C functions -> a Cython module.

The C part (``c_source``) holds the model's physics as straight-line code after common-subexpression
elimination, plus the model-independent driver loops of ``templates/driver.c``.  It compiles on its
own (the standalone export and the LAMMPS plug-in reuse it).  ``pyx_source`` wraps it for Python.
Output is deterministic: regenerating a model gives identical bytes.
"""

from __future__ import annotations

from importlib import resources

import sympy as sp
from sympy.printing.c import C99CodePrinter
from sympy.printing.precedence import precedence

from .. import __version__
from .derive import DFC, FC, Derived, derive
from .ir import R, LoweredModel

from .version import GENERATOR_VERSION  # noqa: F401  (re-exported)


class _Printer(C99CodePrinter):
    """C99 printer that writes small integer powers as products (no pow() in inner loops)."""

    def _print_Pow(self, expr):
        base, ex = expr.as_base_exp()
        if ex.is_Integer and 2 <= int(ex) <= 8:
            b = self.parenthesize(base, precedence(expr))
            return "(" + "*".join([b] * int(ex)) + ")"
        if ex.is_Integer and -8 <= int(ex) <= -1:
            return "(1.0/" + self._print(sp.Pow(base, -ex, evaluate=False)) + ")"
        if ex == sp.Rational(1, 2):
            return f"sqrt({self._print(base)})"
        return super()._print_Pow(expr)


_PRINTER = _Printer({"strict": False})


def _hoist(exprs: list[sp.Expr], params: set, table: dict) -> list[sp.Expr]:
    """Replace parameter-only factors/summands by symbols q[k] (computed once per call)."""
    memo: dict = {}

    def is_p(e):
        return (not e.is_Number) and bool(e.free_symbols) and e.free_symbols <= params

    def sym_for(e):
        if e not in table:
            table[e] = sp.Symbol(f"q[{len(table)}]")
        return table[e]

    def h(e):
        if e in memo:
            return memo[e]
        if e.is_Atom:
            out = e
        elif is_p(e):
            out = sym_for(e)
        elif isinstance(e, (sp.Mul, sp.Add)):
            pargs = [a for a in e.args if is_p(a) or a.is_Number]
            rest = [a for a in e.args if not (is_p(a) or a.is_Number)]
            if rest and any(not a.is_Number for a in pargs):
                out = e.func(sym_for(e.func(*pargs)), *[h(a) for a in rest])
            else:
                out = e.func(*[h(a) for a in e.args])
        else:
            out = e.func(*[h(a) for a in e.args])
        memo[e] = out
        return out

    return [h(e) for e in exprs]


def _block(assignments: list[tuple[str, sp.Expr]], symmap: dict, indent: str = "    ",
           prefix: str = "t", simd_exp: bool = False) -> list[str]:
    """C statements for ``target = expr`` pairs after common-subexpression elimination.

    ``simd_exp``: the exponentials (those not nested in another) are computed first, all in one
    loop that the compiler vectorises when a SIMD exp is declared (COMPOT_SIMD_EXP)."""
    assignments = [(t, e) for t, e in assignments if e != 0]
    if not assignments:
        return []
    exprs = [e.xreplace(symmap) for _, e in assignments]
    lines = []
    if simd_exp:
        exps = sorted({x for e in exprs for x in e.atoms(sp.exp) if not x.args[0].has(sp.exp)},
                      key=sp.default_sort_key)
        if len(exps) >= 2:
            arr = f"{prefix}x"
            reps, args = sp.cse([x.args[0] for x in exps], symbols=sp.numbered_symbols(prefix + "a"),
                                order="canonical")
            lines.append(f"{indent}double {arr}[{len(exps)}];")
            lines += [f"{indent}const double {s} = {_PRINTER.doprint(e)};" for s, e in reps]
            lines += [f"{indent}{arr}[{m}] = {_PRINTER.doprint(a)};" for m, a in enumerate(args)]
            lines.append(f"{indent}COMPOT_SIMD")
            lines.append(f"{indent}for (int m = 0; m < {len(exps)}; m++) {arr}[m] = exp({arr}[m]);")
            exprs = [e.xreplace({x: sp.Symbol(f"{arr}[{m}]") for m, x in enumerate(exps)}) for e in exprs]
    reps, reduced = sp.cse(exprs, symbols=sp.numbered_symbols(prefix), order="canonical")
    lines += [f"{indent}const double {s} = {_PRINTER.doprint(e)};" for s, e in reps]
    lines += [f"{indent}{t} = {_PRINTER.doprint(e)};" for (t, _), e in zip(assignments, reduced)]
    return lines


def _symmap(m: LoweredModel) -> dict:
    sm = {p.symbol: sp.Symbol(f"p[{k}]") for k, p in enumerate(m.params)}
    sm.update({s: sp.Symbol(f"psi[{a}]") for a, s in enumerate(m.psi)})
    sm.update({s: sp.Symbol(f"chi[{c}]") for c, s in enumerate(m.chi)})
    sm.update({R: sp.Symbol("r"), FC: sp.Symbol("fc"), DFC: sp.Symbol("dfc")})
    return sm


def _fmt_double(x: float) -> str:
    return repr(float(x))


def c_source(m: LoweredModel, d: Derived | None = None, drivers: bool = True) -> str:
    """Self-contained C source of the model's physics and (unless ``drivers=False``, e.g. for the
    LAMMPS pair style, which brings its own loops) the driver loops."""
    if d is None:
        d = derive(m)
    NP, NPSI, NCHI, NB = len(m.params), len(m.psi), len(m.chi), len(m.basis_params)
    NPHI, N3 = len(m.pair_functions()), len(m.three_body)
    index = {p.symbol: k for k, p in enumerate(m.params)}
    bparams = [index[p.symbol] for p in m.basis_params]
    sm = _symmap(m)
    params = set(sm[p.symbol] for p in m.params)

    # pair functions (per pair type), parameter-only subexpressions hoisted into q[]
    table: dict = {}
    pair_h, jac_h = [], []
    for pf in d.pair:
        pair_exprs = [e.xreplace(sm) for e in pf.phi + pf.dphi]
        jac_exprs = [e.xreplace(sm) for row in pf.phi_b for e in row] + \
                    [e.xreplace(sm) for row in pf.dphi_b for e in row]
        pair_h.append(_hoist(pair_exprs, params, table))
        jac_h.append(_hoist(pair_exprs + jac_exprs, params, table))
    q_assign = [(str(s), e) for e, s in sorted(table.items(), key=lambda kv: int(str(kv[1])[2:-1]))]
    K = m.n_species

    def switch(var: str, blocks: list[list[str]]) -> list[str]:
        """One block per case; a single case needs no switch."""
        if len(blocks) == 1:
            return blocks[0]
        lines = [f"    switch ({var}) {{"]
        for k, b in enumerate(blocks):
            lines.append(f"    {'default' if k == len(blocks) - 1 else f'case {k}'}: {{")
            lines += ["    " + ln for ln in b]
            lines.append("        break;")
            lines.append("    }")
        lines.append("    }")
        return lines

    out = []
    w = out.append
    w(f"/* compot {__version__} generated kernel -- do not edit.")
    w(f" * model: {m.text}")
    w(f" * parameters ({NP}): " + " ".join(m.parameter_names))
    w(" */")
    w("#include <math.h>")
    w("#include <stdlib.h>")
    w("#include <string.h>")
    w("/* with OpenMP and -DCOMPOT_SIMD_EXP (glibc's libmvec), loops of exponentials use vector exp */")
    w("#if defined(_OPENMP) && defined(COMPOT_SIMD_EXP)")
    w("#pragma omp declare simd notinbranch")
    w("extern double exp(double);")
    w("#define COMPOT_SIMD _Pragma(\"omp simd\")")
    w("#else")
    w("#define COMPOT_SIMD")
    w("#endif")
    w("")
    w("#define COMPOT_A(x) ((x) > 0 ? (x) : 1)   /* array size of x elements, at least 1 */")
    w(f"#define COMPOT_NP {NP}")
    w(f"#define COMPOT_NPSI {NPSI}")
    w(f"#define COMPOT_NPSI2 {m.n_pair_psi}")
    w(f"#define COMPOT_NPHI {NPHI}")
    w(f"#define COMPOT_N3 {N3}")
    w(f"#define COMPOT_NCHI {NCHI}")
    w(f"#define COMPOT_NB {NB}")
    w(f"#define COMPOT_NQ {len(table)}")
    w(f"#define COMPOT_NSPECIES {K}")
    w(f"#define COMPOT_CUTOFF {_fmt_double(m.cutoff)}")
    w(f"#define COMPOT_INV_RC {_fmt_double(1.0 / m.cutoff)}")
    w(f"static const int compot_chi_src[{max(NCHI, 1)}] = {{{', '.join(map(str, m.chi_src or [0]))}}};")
    if N3:
        w(f"#define COMPOT_LMAX {max(l for _, _, l in m.three_body)}")
        w("/* three-body descriptors psi[NPSI2 + m]: (phi index a, phi index b, Legendre degree l) */")
        w(f"static const int compot_t3[{3 * N3}] = {{{', '.join(str(x) for t in m.three_body for x in t)}}};")
    w(f"static const int compot_basis_param[{max(NB, 1)}] = {{{', '.join(map(str, bparams or [0]))}}};")
    w(f"/* pair type of species (si, sj): compot_pair_type[si * NSPECIES + sj]; types: "
      f"{' '.join(m.pair_types) if K > 1 else 'one'} */")
    w(f"static const int compot_pair_type[{K * K}] = {{{', '.join(map(str, m.pair_type_table))}}};")
    w("")
    w("/* cutoff function fc(r) = 1 - 35x^4 + 84x^5 - 70x^6 + 20x^7, x = r/rc, and its derivative */")
    w("static inline void compot_cutoff(const double r, double* fc, double* dfc) {")
    w("    const double x = r * COMPOT_INV_RC;")
    w("    if (x >= 1.0) { *fc = 0.0; *dfc = 0.0; return; }")
    w("    const double x3 = x * x * x, x4 = x3 * x;")
    w("    *fc = 1.0 + x4 * (-35.0 + x * (84.0 + x * (-70.0 + 20.0 * x)));")
    w("    *dfc = x3 * (-140.0 + x * (420.0 + x * (-420.0 + 140.0 * x))) * COMPOT_INV_RC;")
    w("}")
    w("")
    w("/* parameter-only subexpressions of the pair functions */")
    w("static void compot_precompute(const double* p, double* q) {")
    w("    (void)p; (void)q;")
    out += _block(q_assign, {}, prefix="u")
    w("}")
    w("")
    w("/* pair functions phi_a(r) and d phi_a/dr, a = 0..NPHI-1, for pair type t */")
    w("static inline void compot_pair(const double r, const int t, const double* p, const double* q,")
    w("                               double* phi, double* dphi) {")
    w("    (void)p; (void)q; (void)r; (void)t;")
    w("    double fc, dfc;")
    w("    compot_cutoff(r, &fc, &dfc);")
    tg = [f"phi[{a}]" for a in range(NPHI)] + [f"dphi[{a}]" for a in range(NPHI)]
    if NPHI:
        w(f"    memset(phi, 0, sizeof(double) * {NPHI}); memset(dphi, 0, sizeof(double) * {NPHI});")
    out += switch("t", [_block(list(zip(tg, ph)), {}, simd_exp=True) for ph in pair_h])
    w("}")
    w("")
    w("/* as compot_pair, plus derivatives by the basis parameters: phi_b[a*NB+b], dphi_b[a*NB+b] */")
    w("static inline void compot_pair_jac(const double r, const int t, const double* p, const double* q,")
    w("                                   double* phi, double* dphi, double* phi_b, double* dphi_b) {")
    w("    (void)p; (void)q; (void)r; (void)t;")
    w("    double fc, dfc;")
    w("    compot_cutoff(r, &fc, &dfc);")
    if NPHI:
        w(f"    memset(phi, 0, sizeof(double) * {NPHI}); memset(dphi, 0, sizeof(double) * {NPHI});")
    if NPHI * NB:
        w(f"    memset(phi_b, 0, sizeof(double) * {NPHI * NB}); memset(dphi_b, 0, sizeof(double) * {NPHI * NB});")
    tg_b = [f"phi_b[{a * NB + b}]" for a in range(NPHI) for b in range(NB)] + \
           [f"dphi_b[{a * NB + b}]" for a in range(NPHI) for b in range(NB)]
    out += switch("t", [_block(list(zip(tg + tg_b, jh)), {}) for jh in jac_h])
    w("}")
    w("")
    w("/* per-atom energy F(psi, chi; p) of an atom of species s; U = dF/dpsi, V = dF/dchi */")
    w("static inline double compot_atom(const double* psi, const double* chi, const double* p,")
    w("                                 const int s, double* U, double* V) {")
    w("    (void)psi; (void)chi; (void)p; (void)U; (void)V; (void)s;")
    w("    double F = 0.0;")
    if NPSI:
        w(f"    memset(U, 0, sizeof(double) * {NPSI});")
    if NCHI:
        w(f"    memset(V, 0, sizeof(double) * {NCHI});")

    def atom_list(a):
        return [("F", a.F)] + [(f"U[{k}]", e) for k, e in enumerate(a.U)] + \
               [(f"V[{c}]", e) for c, e in enumerate(a.V)]

    out += switch("s", [_block(atom_list(a), sm, simd_exp=True) for a in d.atom])
    w("    return F;")
    w("}")
    w("")
    w("/* as compot_atom, plus Fp = dF/dp, Up[a*NP+k] = dU_a/dp_k, Vp[c*NP+k], and the Hessian blocks")
    w(" * Hpp[a*NPSI+b] = dU_a/dpsi_b, Hpc[a*NCHI+c] = dU_a/dchi_c, Hcc[c*NCHI+e] = dV_c/dchi_e */")
    w("static inline double compot_atom_jac(const double* psi, const double* chi, const double* p,")
    w("                                     const int s, double* U, double* V, double* Fp, double* Up,")
    w("                                     double* Vp, double* Hpp, double* Hpc, double* Hcc) {")
    w("    (void)psi; (void)chi; (void)p; (void)U; (void)V; (void)Fp; (void)Up; (void)Vp;")
    w("    (void)Hpp; (void)Hpc; (void)Hcc; (void)s;")
    w("    double F = 0.0;")
    for arr, size in (("U", NPSI), ("V", NCHI), ("Fp", NP), ("Up", NPSI * NP), ("Vp", NCHI * NP),
                      ("Hpp", NPSI * NPSI), ("Hpc", NPSI * NCHI), ("Hcc", NCHI * NCHI)):
        if size:
            w(f"    memset({arr}, 0, sizeof(double) * {size});")
    def jac_list(a):
        jac = atom_list(a)
        jac += [(f"Fp[{k}]", e) for k, e in enumerate(a.Fp)]
        jac += [(f"Up[{i * NP + k}]", e) for i, row in enumerate(a.Up) for k, e in enumerate(row)]
        jac += [(f"Vp[{c * NP + k}]", e) for c, row in enumerate(a.Vp) for k, e in enumerate(row)]
        jac += [(f"Hpp[{i * NPSI + b}]", e) for i, row in enumerate(a.Hpp) for b, e in enumerate(row)]
        jac += [(f"Hpc[{i * NCHI + c}]", e) for i, row in enumerate(a.Hpc) for c, e in enumerate(row)]
        jac += [(f"Hcc[{c * NCHI + e2}]", e) for c, row in enumerate(a.Hcc) for e2, e in enumerate(row)]
        return jac

    out += switch("s", [_block(jac_list(a), sm) for a in d.atom])
    w("    return F;")
    w("}")
    w("")
    templates = resources.files(__package__).joinpath("templates")
    threebody = templates.joinpath("threebody.c").read_text(encoding="utf-8") + "\n" if N3 else ""
    driver = templates.joinpath("driver.c").read_text(encoding="utf-8") if drivers else ""
    text = "\n".join(out) + "\n\n" + threebody + driver
    if "\\" in text or '"""' in text:
        raise AssertionError("generated C must not contain backslashes or triple quotes")
    return text


def pyx_source(m: LoweredModel, csrc: str | None = None) -> str:
    """The Cython module wrapping the C source (self-contained, deterministic)."""
    if csrc is None:
        csrc = c_source(m)
    tpl = resources.files(__package__).joinpath("templates", "kernel.pyx").read_text(encoding="utf-8")
    indented = "\n".join(("    " + ln) if ln else "" for ln in csrc.rstrip("\n").split("\n"))
    rep = {
        "@VERSION@": __version__,
        "@TEXT@": m.text.replace("\n", " "),
        "@TEXT_LITERAL@": repr(m.text),
        "@CUTOFF@": repr(float(m.cutoff)),
        "@NAMES@": "(" + "".join(repr(n) + ", " for n in m.parameter_names) + ")",
        "@NPSI@": str(len(m.psi)),
        "@NCHI@": str(len(m.chi)),
        "@NSPECIES@": str(m.n_species),
        "@NP@": str(len(m.params)),
        "@CSOURCE@": indented,
    }
    out = tpl
    for k, v in rep.items():
        out = out.replace(k, v)
    return out
