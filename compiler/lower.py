"""Lower the typed AST to the IR: name parameters (SPEC 6), apply the shift and basis-sharing
rules (SPEC 3.4), and build SymPy expressions of the basis functions and of E_i."""

from __future__ import annotations

import math
import warnings

import sympy as sp

from ..errors import ModelError
from ..grammar import nodes as n
from ..grammar.printer import basis_spec_text, to_text
from .ir import R, Basis, LoweredModel, Param, ProductNode, SumNode, TermNode, fc

#: default cutoff radius (Angstrom) when neither the text nor the caller sets one [choice]
DEFAULT_CUTOFF = 5.0

_FUNCS = {"exp": sp.exp, "log": sp.log, "sqrt": sp.sqrt, "sin": sp.sin, "cos": sp.cos,
          "tanh": sp.tanh}


def _number(v: float):
    return sp.Integer(int(v)) if float(v).is_integer() and abs(v) < 2**53 else sp.Float(v)


def formula_to_sympy(f: n.Formula, env: dict) -> sp.Expr:
    """Build a SymPy expression from a formula AST (no text is evaluated)."""
    if isinstance(f, n.Num):
        return _number(f.value)
    if isinstance(f, n.Var):
        return env[f.name]
    if isinstance(f, n.Neg):
        return -formula_to_sympy(f.operand, env)
    if isinstance(f, n.BinOp):
        a, b = formula_to_sympy(f.left, env), formula_to_sympy(f.right, env)
        if f.op == "+":
            return a + b
        if f.op == "-":
            return a - b
        if f.op == "*":
            return a * b
        if f.op == "/":
            if b == 0:
                raise ModelError("division by zero in formula", f.pos.line, f.pos.column)
            return a / b
        return a**b
    if isinstance(f, n.Call):
        if f.func == "fc":
            return fc(R)
        return _FUNCS[f.func](formula_to_sympy(f.arg, env))
    raise TypeError(f"not a formula node: {f!r}")


def _uses_fc(f: n.Formula) -> bool:
    if isinstance(f, n.Call):
        return f.func == "fc" or _uses_fc(f.arg)
    if isinstance(f, n.Neg):
        return _uses_fc(f.operand)
    if isinstance(f, n.BinOp):
        return _uses_fc(f.left) or _uses_fc(f.right)
    return False


def default_bounds(role: str, cutoff: float, kind: str = "") -> tuple[float, float, bool]:
    """Default search domain of a nonlinear parameter: (lower, upper, log_scale). [choice]

    alpha is scaled by the cutoff so that exp(-alpha r^2) ranges from nearly flat to sharply
    peaked inside r_c; beta > 1 spreads the even-tempered family; lambda of E terms acts on
    psi = O(1..10), of N terms on chi = O(10..100).
    """
    rc2 = cutoff * cutoff
    if role == "alpha":
        return 0.05 / rc2, 20.0 / rc2, True
    if role == "beta":
        return 1.05, 4.0, False
    if role == "lambda":
        return (-0.1, 0.1, False) if kind == "N" else (-1.0, 1.0, False)
    if role == "weight":
        return 0.1, 10.0, True
    raise ValueError(role)


class _Lowering:
    def __init__(self, model: n.Model, cutoff: float, elements=None):
        self.model = model
        self.cutoff = cutoff
        self.elements = list(elements) if elements and len(elements) > 1 else None
        els = self.elements or []
        self.pair_types = [f"{els[a]}-{els[b]}" for a in range(len(els)) for b in range(a, len(els))] \
            if self.elements else [""]
        self.shift_subs: list[dict] = [{} for _ in (els or [None])]
        self.defs = {d.name: d for d in model.bases}
        self.bases: list[Basis] = []
        self.named: dict[str, Basis] = {}
        self.anon_counter = 0
        self.term_counter = 0
        self.product_counter = 0
        self.params: list[Param] = []       # term/product params, post-order
        self.warnings: list[str] = []
        self.n_chi = 0

    # ------------------------------------------------------------ bases
    def _new_label(self) -> str:
        while True:
            self.anon_counter += 1
            label = f"b{self.anon_counter}"
            if label not in self.defs:
                return label

    def _make_three_body(self, spec: n.ThreeBody, group: int, label: str | None = None) -> Basis:
        """A three-body basis (SPEC 3.5): descriptors (a, b, l) for the pair functions a <= b of
        its radial basis and Legendre degrees l = 0..order.  An inline radial basis is private to
        it; a named one may be shared with pair terms."""
        radial = self._resolve(spec.radial, {}, group)
        if radial.kind == "T":
            raise ModelError("the radial basis of a three-body basis must be a pair basis",
                             spec.radial.pos.line, spec.radial.pos.column)
        if label is None:
            label = self._new_label()
        nr = radial.size
        triplets = [(a, b, l) for a in range(nr) for b in range(a, nr) for l in range(spec.order + 1)]
        basis = Basis(label, "T", len(triplets), [], [[] for _ in self.pair_types],
                      text=basis_spec_text(spec), group=group, radial=radial, triplets=triplets)
        self.bases.append(basis)
        return basis

    def _make_basis(self, label: str, spec: n.BasisSpec, group: int) -> Basis:
        """One set of basis parameters per unordered element pair (paper App. A), suffixed
        ``[X-Y]`` when the model has several elements, plus composition weights ``a[X-Y]`` for all
        pair types but the first (fixed to 1)."""
        cutoff = self.cutoff
        params: list[Param] = []

        def P(role, sym_name, **kw):
            p = Param(f"{label}.{sym_name}", False, role, label, sp.Symbol(f"{label}.{sym_name}"),
                      group=group, **kw)
            params.append(p)
            return p

        by_type = []
        kind = "G" if isinstance(spec, n.ShortBasis) and spec.kind == "G" else \
            ("C" if isinstance(spec, n.ShortBasis) else "custom")
        auto_fc = isinstance(spec, n.CustomBasis) and not _uses_fc(spec.formula)
        for t, pt in enumerate(self.pair_types):
            sfx = f"[{pt}]" if pt else ""
            functions = []
            if kind == "G":
                lo, hi, log = default_bounds("alpha", cutoff)
                alpha = P("alpha", "alpha" + sfx, lower=lo, upper=hi, log_scale=log)
                lo, hi, log = default_bounds("beta", cutoff)
                beta = P("beta", "beta" + sfx, lower=lo, upper=hi, log_scale=log)
                for nu in range(1, spec.size + 1):
                    functions.append(sp.exp(-alpha.symbol * beta.symbol**(nu - 1) * R**2) * fc(R))
            elif kind == "C":
                x = 2 * R / sp.Float(cutoff) - 1
                for nu in range(1, spec.size + 1):
                    functions.append(sp.chebyshevt_poly(nu - 1, x, polys=False) * fc(R) if nu > 1
                                     else fc(R))
            else:
                env = {"r": R}
                for bp in spec.params:
                    lo, hi = bp.lower, bp.upper
                    if lo is None:
                        v = bp.value
                        lo, hi = (v / 4, 4 * v) if v > 0 else ((4 * v, v / 4) if v < 0 else (-1.0, 1.0))
                    env[bp.name] = P("basis", bp.name + sfx, lower=lo, upper=hi, value=bp.value).symbol
                for nu in range(1, spec.size + 1):
                    env["nu"] = sp.Integer(nu)
                    f = formula_to_sympy(spec.formula, env)
                    functions.append(f * fc(R) if auto_fc else f)
                if t == 0 and len(set(functions)) < len(functions):
                    self.warnings.append(f"basis {label} has identical functions (does its formula use nu?)")
            if t > 0:
                lo, hi, log = default_bounds("weight", cutoff)
                a = P("weight", "a" + sfx, lower=lo, upper=hi, log_scale=log, value=1.0)
                functions = [a.symbol * f for f in functions]
            by_type.append(functions)
        basis = Basis(label, kind, spec.size, params, by_type, text=basis_spec_text(spec), group=group)
        self.bases.append(basis)
        return basis

    def _resolve(self, ref: n.BasisRef, scope: dict, group: int) -> Basis:
        if ref.name is not None:
            if ref.name not in self.named:
                spec = self.defs[ref.name].spec
                self.named[ref.name] = self._make_three_body(spec, group, ref.name) \
                    if isinstance(spec, n.ThreeBody) else self._make_basis(ref.name, spec, group)
            b = self.named[ref.name]
        else:
            key = ref.spec
            if key not in scope:
                scope[key] = self._make_three_body(ref.spec, group) \
                    if isinstance(ref.spec, n.ThreeBody) else \
                    self._make_basis(self._new_label(), ref.spec, group)
            b = scope[key]
        for x in (b, b.radial):
            if x is not None and x.group != group:
                x.group = 0
                for p in x.params:
                    p.group = 0
        return b

    # ------------------------------------------------------------ terms
    def lower(self, e: n.Expr, scope: dict, additive: bool, group: int):
        """Return (tree node, SymPy expression).  ``additive``: this node may own a shift."""
        if isinstance(e, n.Sum):
            children, exprs = [], []
            for k, t in enumerate(e.terms):
                g = (k + 1) if group == -1 else group
                node, ex = self.lower(t, scope, additive and k == 0, g)
                children.append(node)
                exprs.append(ex)
            self._check_degenerate(children)
            return SumNode(children), sp.Add(*exprs)
        if isinstance(e, n.Product):
            gl, gr = (1, 2) if group == -1 else (group, group)
            left, el = self.lower(e.left, {}, True, gl)
            self.product_counter += 1
            label = f"p{self.product_counter}"
            right, er = self.lower(e.right, {}, True, gr)
            shift, sym = self._shift(label, group if group > 0 else 0) if additive else ([], 0)
            ex = el * er + sym
            return ProductNode(label, left, right, shift), ex
        # a single term
        g = 1 if group == -1 else group
        basis = self._resolve(e.basis, scope, g)
        basis.descriptor = True
        self.term_counter += 1
        label = f"t{self.term_counter}"
        params = []
        if isinstance(e, n.Linear):
            cs = [self._param(label, f"c[{nu}]", "c", g) for nu in range(1, basis.size + 1)]
            params += cs
            psi = self._psi(basis)
            ex = sp.Add(*[c.symbol * p for c, p in zip(cs, psi)])
            kind, layers = "linear", 0
        else:
            kind = "E" if isinstance(e, n.Exp) else "N"
            layers = e.layers
            cs = [[self._param(label, f"c[{k},{nu}]", "c", g) for nu in range(1, basis.size + 1)]
                  for k in range(1, layers + 1)]
            lo, hi, log = default_bounds("lambda", self.cutoff, kind)
            lams = [self._param(label, f"lambda[{k}]", "lambda", g, linear=False, lower=lo,
                                upper=hi) for k in range(1, layers + 1)]
            params += [c for row in cs for c in row] + lams
            x = self._psi(basis) if kind == "E" else self._chi(basis)
            ex = sp.Add(*[cs[k][nu].symbol * sp.exp(lams[k].symbol * x[nu])
                          for k in range(layers) for nu in range(basis.size)])
        shift, sym = self._shift(label, g) if additive else ([], 0)
        ex = ex + sym
        params += shift
        return TermNode(label, kind, basis, layers, params, shift), ex

    def _shift(self, owner, group):
        """Shift parameter(s): one, or one per element ``s[X]``; returns (params, symbol in F)."""
        if not self.elements:
            p = self._param(owner, "s", "s", group)
            return [p], p.symbol
        ps = [self._param(owner, f"s[{e}]", "s", group) for e in self.elements]
        placeholder = sp.Symbol(f"{owner}.s[X_i]")
        for k, p in enumerate(ps):
            self.shift_subs[k][placeholder] = p.symbol
        return ps, placeholder

    def _param(self, owner, sym, role, group, linear=True, **kw) -> Param:
        name = f"{owner}.{sym}"
        p = Param(name, linear, role, owner, sp.Symbol(name), group=group, **kw)
        self.params.append(p)
        return p

    @staticmethod
    def _index_names(basis: Basis) -> list[str]:
        if basis.kind == "T":
            return [f"{a + 1},{b + 1},P{l}" for a, b, l in basis.triplets]
        return [str(nu) for nu in range(1, basis.size + 1)]

    def _psi(self, basis: Basis) -> list[sp.Symbol]:
        return [sp.Symbol(f"psi[{basis.label},{x}]") for x in self._index_names(basis)]

    def _chi(self, basis: Basis) -> list[sp.Symbol]:
        if basis.chi_offset is None:
            basis.chi_offset = -1  # marks use; offsets are assigned after lowering
        return [sp.Symbol(f"chi[{basis.label},{x}]") for x in self._index_names(basis)]

    def _check_degenerate(self, children):
        seen = {}
        for c in children:
            if isinstance(c, TermNode):
                key = (c.kind, c.basis.label, c.layers)
                if key in seen:
                    self.warnings.append(
                        f"terms {seen[key]} and {c.label} are identical ({c.kind} on basis "
                        f"{c.basis.label}): the model is degenerate; name distinct bases "
                        f"(a = {c.basis.text}; b = {c.basis.text}) if you want two")
                seen[key] = c.label


def lower(model: n.Model, cutoff: float | None = None, elements=None) -> LoweredModel:
    """Lower a parsed model.  ``cutoff``/``elements`` given here must agree with the text."""
    if model.cutoff is not None and cutoff is not None and not math.isclose(model.cutoff, cutoff):
        raise ModelError(f"cutoff {cutoff} disagrees with 'cutoff = {model.cutoff}' in the model text")
    rc = model.cutoff if model.cutoff is not None else (cutoff if cutoff is not None else DEFAULT_CUTOFF)
    try:
        rc = float(rc)
    except (TypeError, ValueError):
        raise ModelError(f"cutoff must be a number, got {cutoff!r}") from None
    from ..grammar.parser import MAX_CUTOFF
    if not math.isfinite(rc) or rc <= 0:
        raise ModelError(f"cutoff must be a positive finite number, got {rc}")
    if rc > MAX_CUTOFF:
        raise ModelError(f"cutoff {rc} Angstrom is larger than the maximum {MAX_CUTOFF}")
    els = model.elements
    if elements is not None:
        if isinstance(elements, str):
            elements = [elements]
        from ase.data import chemical_symbols
        for e in elements:
            if e not in chemical_symbols or e == "X":
                raise ModelError(f"unknown chemical element {e!r}")
            if list(elements).count(e) > 1:
                raise ModelError(f"element {e!r} is listed twice")
        elements = tuple(elements)
        if els is not None and tuple(els) != elements:
            raise ModelError(f"elements {list(elements)} disagree with the model text's {list(els)}")
        els = elements
    low = _Lowering(model, rc, els)
    top_group = -1 if isinstance(model.expr, (n.Sum, n.Product)) else 1
    tree, energy = low.lower(model.expr, {}, True, top_group)
    # descriptor layout: pair descriptors (psi index = phi index), then three-body descriptors;
    # the phi array continues with radial functions used only by three-body bases
    pair_bases = [b for b in low.bases if b.kind != "T"]
    phi_order = [b for b in pair_bases if b.descriptor] + [b for b in pair_bases if not b.descriptor]
    offset = 0
    for b in phi_order:
        b.phi_offset = offset
        offset += b.size
    psi, chi, chi_src, three_body = [], [], [], []
    for b in phi_order:
        if b.descriptor:
            b.psi_offset = len(psi)
            psi += low._psi(b)
    n_pair_psi = len(psi)
    for b in low.bases:
        if b.kind == "T":
            b.psi_offset = len(psi)
            psi += low._psi(b)
            r0 = b.radial.phi_offset
            three_body += [(r0 + a, r0 + c, l) for a, c, l in b.triplets]
    for b in low.bases:
        if b.chi_offset is not None:
            b.chi_offset = len(chi)
            chi += low._chi(b)
            chi_src += list(range(b.psi_offset, b.psi_offset + b.size))
    params = [p for b in low.bases for p in b.params] + low.params
    for w in low.warnings:
        warnings.warn(w, stacklevel=3)
    canonical = to_text(n.Model(model.expr, model.bases, rc, els))
    K = len(els) if els else 1
    energies = [energy.xreplace(low.shift_subs[k]) if low.elements else energy for k in range(K)]
    if low.elements:
        index = {pt: t for t, pt in enumerate(low.pair_types)}
        table = [index["-".join(sorted([els[a], els[b]], key=els.index))] for a in range(K) for b in range(K)]
    else:
        table = [0]
    return LoweredModel(canonical, rc, els, params, low.bases, psi, chi, chi_src, energy, tree,
                        low.warnings, energies, list(low.pair_types), table, n_pair_psi, three_body)
