"""Turn an AST back into canonical model text (``parse(to_text(m)) == m``)."""

from __future__ import annotations

from . import nodes as n

_PREC = {"+": 1, "-": 1, "*": 2, "/": 2, "^": 4}
_NEG_PREC = 3
_ATOM_PREC = 5


def _num(v: float) -> str:
    if v == int(v) and abs(v) < 1e15:
        return f"{int(v)}.0" if v >= 0 else f"-{int(-v)}.0"
    return repr(float(v))


def _prec(f: n.Formula) -> int:
    if isinstance(f, n.BinOp):
        return _PREC[f.op]
    if isinstance(f, n.Neg):
        return _NEG_PREC
    return _ATOM_PREC


def formula_text(f: n.Formula) -> str:
    if isinstance(f, n.Num):
        return _num(f.value)
    if isinstance(f, n.Var):
        return f.name
    if isinstance(f, n.Call):
        return "fc(r)" if f.func == "fc" else f"{f.func}({formula_text(f.arg)})"
    if isinstance(f, n.Neg):
        inner = formula_text(f.operand)
        return f"-({inner})" if _prec(f.operand) < _NEG_PREC else f"-{inner}"
    if isinstance(f, n.BinOp):
        p = _PREC[f.op]
        left, right = formula_text(f.left), formula_text(f.right)
        if f.op == "^":
            if _prec(f.left) <= p:
                left = f"({left})"
            if _prec(f.right) < _NEG_PREC:
                right = f"({right})"
            return f"{left}^{right}"
        if _prec(f.left) < p:
            left = f"({left})"
        if _prec(f.right) <= p:
            right = f"({right})"
        return f"{left} {f.op} {right}"
    raise TypeError(f"not a formula node: {f!r}")


def basis_spec_text(spec: n.BasisSpec) -> str:
    if isinstance(spec, n.ShortBasis):
        return f"{spec.kind}{spec.size}"
    if isinstance(spec, n.ThreeBody):
        return f"T[{_ref(spec.radial, False)} P{spec.order}]"
    if isinstance(spec, n.Angular):
        return (f"A[{_ref(spec.radial, False)} P{spec.lmax}" + (f" B{spec.body}" if spec.body != 3 else "")
                + (f" D{spec.degree}" if spec.degree is not None else "") + "]")
    params = []
    for p in spec.params:
        s = f"{p.name} = {_num(p.value)}"
        if p.lower is not None:
            s += f" in [{_num(p.lower)}, {_num(p.upper)}]"
        params.append(s)
    return f"basis {spec.size} ({', '.join(params)}): {formula_text(spec.formula)}"


def _ref(ref: n.BasisRef, glued: bool) -> str:
    if ref.spec is not None:
        return basis_spec_text(ref.spec) + (" " if glued and isinstance(ref.spec, n.MANY_BODY) else "")
    return ref.name + (" " if glued else "")


def expr_text(e: n.Expr, unicode: bool = False) -> str:
    plus, times = (" ⊕ ", " ⊗ ") if unicode else (" + ", " * ")
    if isinstance(e, n.Linear):
        return _ref(e.basis, False)
    if isinstance(e, n.Exp):
        return f"E[{_ref(e.basis, True)}L{e.layers}]"
    if isinstance(e, n.NExp):
        return f"N[E[{_ref(e.basis, True)}L{e.layers}]]"
    if isinstance(e, n.Core):
        return "ZBL" if e.inner is None else f"ZBL[{_num(e.inner)}, {_num(e.outer)}]"
    if isinstance(e, n.Sum):
        return plus.join(f"({expr_text(t, unicode)})" if isinstance(t, n.Sum) else expr_text(t, unicode)
                         for t in e.terms)
    if isinstance(e, n.Product):
        left, right = expr_text(e.left, unicode), expr_text(e.right, unicode)
        if isinstance(e.left, n.Sum):
            left = f"({left})"
        if isinstance(e.right, (n.Sum, n.Product)):
            right = f"({right})"
        return left + times + right
    raise TypeError(f"not a model expression: {e!r}")


def to_text(model: n.Model, unicode: bool = False, multiline: bool = False) -> str:
    """Canonical text of a model; one line with ``;`` separators unless ``multiline``."""
    parts = []
    if model.cutoff is not None:
        parts.append(f"cutoff = {_num(model.cutoff)}")
    if model.elements is not None:
        parts.append("elements = " + ", ".join(model.elements))
    for d in model.bases:
        parts.append(f"{d.name} = {basis_spec_text(d.spec)}")
    parts.append(expr_text(model.expr, unicode))
    return ("\n" if multiline else "; ").join(parts)
