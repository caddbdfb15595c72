"""Lower the typed AST to the IR: name parameters (docs/theory.md §4.4), apply the shift and basis-sharing
rules (docs/theory.md §4.2–4.3), and build SymPy expressions of the basis functions and of E_i."""

from __future__ import annotations

import math
import warnings

import sympy as sp

from ..errors import ModelError
from ..grammar import nodes as n
from ..grammar.printer import basis_spec_text, expr_text, to_text
from . import zbl
from .harmonics import coupling
from .ir import R, Basis, LoweredModel, ManyBody, MomentBlock, Param, ProductNode, SelfBlock, SumNode, TermNode, fc

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


def _find_core(e):
    if isinstance(e, n.Core):
        return e
    if isinstance(e, n.Sum):
        return next((c for c in map(_find_core, e.terms) if c is not None), None)
    return None


def angular_invariants(nr: int, lmax: int, body: int, degree: int | None) -> list[tuple]:
    """The invariants of an angular basis (docs/theory.md §3.2) as tuples of (n, l) factors
    (0-based n): body order 3: (n1, l), (n2, l) with n1 <= n2; body order 4: three factors in
    non-decreasing (n, l) order with l1 + l2 + l3 even and |l1 - l2| <= l3 <= l1 + l2; all with
    sum(n) + sum(l) <= degree (0-based n, i.e. sum(n - 1) for 1-based) when a degree is given."""
    ok = (lambda fs: True) if degree is None else (lambda fs: sum(a + b for a, b in fs) <= degree)
    out = []
    if body == 3:
        for n1 in range(nr):
            for n2 in range(n1, nr):
                for l in range(lmax + 1):
                    if ok(((n1, l), (n2, l))):
                        out.append(((n1, l), (n2, l)))
        return out
    pairs = [(nn, l) for nn in range(nr) for l in range(lmax + 1)]
    for x in range(len(pairs)):
        for y in range(x, len(pairs)):
            for z in range(y, len(pairs)):
                fs = (pairs[x], pairs[y], pairs[z])
                l1, l2, l3 = (f[1] for f in fs)
                if (l1 + l2 + l3) % 2 or not abs(l1 - l2) <= l3 <= l1 + l2 or not ok(fs):
                    continue
                out.append(fs)
    return out


def many_body_table(bases: list[Basis], n_pair_psi: int) -> ManyBody | None:
    """Moment blocks (one per radial basis, up to the largest l its users need), self blocks (for
    three-body bases) and the term table of every many-body descriptor, in psi order."""
    mbs = [b for b in bases if b.many_body]
    if not mbs:
        return None
    blocks: dict[str, MomentBlock] = {}
    selfs: dict[str, SelfBlock] = {}
    for b in mbs:
        r = b.radial
        phi = list(range(r.phi_offset, r.phi_offset + r.size))
        blk = blocks.setdefault(r.label, MomentBlock(r.label, phi, 0))
        blk.lmax = max(blk.lmax, b.lmax)
        if b.kind == "T":
            sb = selfs.setdefault(r.label, SelfBlock([]))
            for a, c, _ in b.triplets:
                if (phi[a], phi[c]) not in sb.pairs:
                    sb.pairs.append((phi[a], phi[c]))
    offset = 0
    for blk in blocks.values():
        blk.offset = offset
        offset += blk.size
    for sb in selfs.values():
        sb.offset = offset
        offset += sb.size
    terms, info = [], []
    for b in sorted(mbs, key=lambda b: b.psi_offset):
        blk = blocks[b.radial.label]
        for k in range(b.size):
            d = b.psi_offset - n_pair_psi + k
            if b.kind == "T":
                a, c, l = b.triplets[k]
                terms.append((d, 1.0, blk.index(a, l, -l), blk.index(c, l, -l), -1, 2 * l + 1))
                sb = selfs[b.radial.label]
                terms.append((d, -1.0, sb.offset + sb.pairs.index((blk.phi[a], blk.phi[c])), -1, -1, 1))
                info.append({"basis": b.label, "kind": "T", "body": 3, "phi": (blk.phi[a], blk.phi[c], l)})
                continue
            fs = b.invariants[k]
            if len(fs) == 2:
                (n1, l), (n2, _) = fs
                terms.append((d, 1.0, blk.index(n1, l, -l), blk.index(n2, l, -l), -1, 2 * l + 1))
            else:
                (n1, l1), (n2, l2), (n3, l3) = fs
                terms += [(d, v, blk.index(n1, l1, m1), blk.index(n2, l2, m2), blk.index(n3, l3, m3), 1)
                          for m1, m2, m3, v in coupling(l1, l2, l3)]
            info.append({"basis": b.label, "kind": "A", "body": b.body, "factors": fs})
    return ManyBody(list(blocks.values()), list(selfs.values()), terms, info)


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
        self.all_elements = list(elements) if elements else None
        self.core = _find_core(model.expr)        # the ZBL term's AST node, if any
        self.core_radii = None                     # (r_in, r_out) once known
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

    def _make_many_body(self, spec, group: int, label: str | None = None) -> Basis:
        """A many-body basis on the pair functions of its radial basis (an inline radial basis is
        private to it; a named one may be shared with pair terms and other many-body bases).

        T[g Pl] (docs/theory.md §3.1): descriptors (a, b, l) for the radial functions a <= b and
        Legendre degrees l = 0..order.  A[g Pl Bk Dd] (§3.2): the invariants of body order k of
        the moments of g up to l, of degree sum(n - 1) + sum(l) <= d."""
        radial = self._resolve(spec.radial, {}, group)
        if radial.many_body:
            raise ModelError("the radial basis of a many-body basis must be a pair basis",
                             spec.radial.pos.line, spec.radial.pos.column)
        if label is None:
            label = self._new_label()
        nr = radial.size
        if isinstance(spec, n.ThreeBody):
            triplets = [(a, b, l) for a in range(nr) for b in range(a, nr) for l in range(spec.order + 1)]
            basis = Basis(label, "T", len(triplets), [], [[] for _ in self.pair_types],
                          text=basis_spec_text(spec), group=group, radial=radial, triplets=triplets,
                          lmax=spec.order, body=3)
        else:
            invariants = angular_invariants(nr, spec.lmax, spec.body, spec.degree)
            if not invariants:
                raise ModelError(f"{basis_spec_text(spec)} has no invariants (raise P or D)",
                                 spec.pos.line, spec.pos.column)
            basis = Basis(label, "A", len(invariants), [], [[] for _ in self.pair_types],
                          text=basis_spec_text(spec), group=group, radial=radial, lmax=spec.lmax,
                          body=spec.body, invariants=invariants)
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
            if self.core is not None:
                on = zbl.switch_on(*self._core_radii())
                functions = [on * f for f in functions]
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
                self.named[ref.name] = self._make_many_body(spec, group, ref.name) \
                    if isinstance(spec, n.MANY_BODY) else self._make_basis(ref.name, spec, group)
            b = self.named[ref.name]
        else:
            key = ref.spec
            if key not in scope:
                scope[key] = self._make_many_body(ref.spec, group) \
                    if isinstance(ref.spec, n.MANY_BODY) else \
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
            k = 0          # trainable terms so far: the first owns the shift; top-level groups
            for t in e.terms:
                if isinstance(t, n.Core):
                    node, ex = self._lower_core(t)
                else:
                    g = (k + 1) if group == -1 else group
                    node, ex = self.lower(t, scope, additive and k == 0, g)
                    k += 1
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

    def _core_radii(self) -> tuple[float, float]:
        if self.core_radii is None:
            if self.core.inner is not None:
                self.core_radii = (self.core.inner, self.core.outer)
            else:
                if not self.all_elements:
                    raise ModelError("ZBL needs the model's elements (elements = ... in the text, or "
                                     "--elements)", self.core.pos.line, self.core.pos.column)
                self.core_radii = zbl.default_radii(self.all_elements)
            if self.core_radii[1] > self.cutoff:
                raise ModelError(f"ZBL outer radius {self.core_radii[1]} exceeds the cutoff {self.cutoff}",
                                 self.core.pos.line, self.core.pos.column)
        return self.core_radii

    def _lower_core(self, e: n.Core):
        """The core repulsion as a pair descriptor with coefficient 1: psi_zbl(i) = sum_j V(r_ij)/2,
        V per unordered element pair; no parameters."""
        if not self.all_elements:
            raise ModelError("ZBL needs the model's elements (elements = ... in the text, or --elements)",
                             e.pos.line, e.pos.column)
        from ase.data import atomic_numbers

        r_in, r_out = self._core_radii()
        els = self.all_elements
        types = [(a, b) for a in range(len(els)) for b in range(a, len(els))] if self.elements else [(0, 0)]
        by_type = [[zbl.pair_energy(atomic_numbers[els[a]], atomic_numbers[els[b]], r_in, r_out) / 2]
                   for a, b in types]
        basis = Basis("zbl", "core", 1, [], by_type, text=expr_text(e), descriptor=True)
        self.bases.append(basis)
        return TermNode("zbl", "core", basis, 0, [], []), self._psi(basis)[0]

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
        if basis.kind == "A":
            return [",".join(f"{nn + 1}l{l}" for nn, l in inv) for inv in basis.invariants]
        if basis.kind == "core":
            return ["zbl"]
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
    pair_bases = [b for b in low.bases if not b.many_body]
    phi_order = [b for b in pair_bases if b.descriptor] + [b for b in pair_bases if not b.descriptor]
    offset = 0
    for b in phi_order:
        b.phi_offset = offset
        offset += b.size
    psi, chi, chi_src = [], [], []
    for b in phi_order:
        if b.descriptor:
            b.psi_offset = len(psi)
            psi += low._psi(b)
    n_pair_psi = len(psi)
    for b in low.bases:
        if b.many_body:
            b.psi_offset = len(psi)
            psi += low._psi(b)
    many_body = many_body_table(low.bases, n_pair_psi)
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
                        low.warnings, energies, list(low.pair_types), table, n_pair_psi, many_body,
                        next((c for c in _terms(tree) if c.kind == "core"), None))


def _terms(node):
    if isinstance(node, TermNode):
        yield node
    elif isinstance(node, SumNode):
        for c in node.children:
            yield from _terms(c)
    else:
        yield from _terms(node.left)
        yield from _terms(node.right)
