"""Parse model text into the typed AST of :mod:`compot.grammar.nodes`.

The Lark parse tree is turned into frozen dataclasses by a Transformer; nothing the user wrote is
ever evaluated.  Every problem is reported as one :class:`ModelSyntaxError` or :class:`ModelError`
naming the line and column.
"""

from __future__ import annotations

import math
import warnings
from functools import lru_cache
from importlib import resources

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from ..errors import ModelError, ModelSyntaxError
from . import nodes as n

#: largest basis size and layer count accepted (a guard against absurd models like G100000)
MAX_SIZE = 64
#: largest Legendre degree of a three-body basis
MAX_LEGENDRE = 12
#: largest angular degree l of an angular-moment basis
MAX_ANGULAR = 8
#: body orders of angular-moment invariants
BODY_ORDERS = (3, 4)
#: largest cutoff radius in Angstrom accepted in model text
MAX_CUTOFF = 20.0
#: names the language reserves
RESERVED = frozenset({"E", "N", "T", "A", "ZBL", "r", "nu", "x", "fc", "basis", "cutoff", "elements", "in",
                      *n.FUNCTIONS})

# What each terminal means to a person, for "expected ..." in syntax errors.
_DESCRIBE = {
    "SHORT_BASIS": "a basis like G8 or C8",
    "NAME": "a name",
    "LAYERS": "a layer count like L4",
    "PORDER": "a Legendre order or angular degree like P2",
    "BODY": "a body order like B4",
    "DEGREE": "a degree bound like D10",
    "NUMBER": "a number",
    "SIGN": "a sign",
    "FUNC": "a function (exp log sqrt sin cos tanh)",
    "SUM_OP": "'+'",
    "PROD_OP": "'*'",
    "E": "'E['",
    "N": "'N['",
    "T": "'T['",
    "A": "'A['",
    "ZBL": "'ZBL'",
    "LSQB": "'['",
    "RSQB": "']'",
    "LPAR": "'('",
    "RPAR": "')'",
    "COMMA": "','",
    "COLON": "':'",
    "SEMICOLON": "';'",
    "EQUAL": "'='",
    "PLUS": "'+'",
    "MINUS": "'-'",
    "STAR": "'*'",
    "SLASH": "'/'",
    "CIRCUMFLEX": "'^'",
    "FC": "'fc'",
    "IN": "'in'",
    "BASIS": "'basis'",
    "CUTOFF": "'cutoff'",
    "ELEMENTS": "'elements'",
    "$END": "end of input",
}


@lru_cache(maxsize=1)
def _lark() -> Lark:
    text = resources.files(__package__).joinpath("compot.lark").read_text(encoding="utf-8")
    return Lark(text, parser="lalr", lexer="contextual", propagate_positions=True,
                maybe_placeholders=True)


def _describe(names) -> tuple[str, ...]:
    out = []
    for name in names:
        d = _DESCRIBE.get(name)
        if d is None:
            d = name.lower()
            if name.startswith("__ANON"):
                continue
        if d not in out:
            out.append(d)
    return tuple(sorted(out))


def _context(text: str, line: int, column: int) -> str:
    lines = text.splitlines() or [""]
    src = lines[line - 1] if 0 < line <= len(lines) else ""
    return f"{src}\n{' ' * max(column - 1, 0)}^"


def _syntax_error(text: str, exc: UnexpectedInput) -> ModelSyntaxError:
    if isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
        lines = text.splitlines() or [""]
        line, column = len(lines), len(lines[-1]) + 1
        token = None
        expected = _describe(getattr(exc, "expected", ()))
        what = "unexpected end of input"
    elif isinstance(exc, UnexpectedToken):
        line, column = exc.line, exc.column
        token = str(exc.token)
        expected = _describe(exc.accepts or exc.expected)
        what = f"unexpected {token!r}"
    elif isinstance(exc, UnexpectedCharacters):
        line, column = exc.line, exc.column
        token = text[exc.pos_in_stream] if exc.pos_in_stream < len(text) else None
        expected = _describe(exc.allowed or ())
        what = f"unexpected character {token!r}"
    else:  # pragma: no cover - lark has no other kinds
        line, column, token, expected, what = 1, 1, None, (), str(exc)
    message = f"syntax error at line {line}, column {column}: {what}"
    if expected:
        message += "; expected " + " or ".join(expected) if len(expected) <= 2 else \
            "; expected one of: " + ", ".join(expected)
    return ModelSyntaxError(message, line, column, token, expected, _context(text, line, column))


def _pos(meta_or_tok) -> n.Pos:
    if isinstance(meta_or_tok, Token):
        return n.Pos(meta_or_tok.line, meta_or_tok.column)
    if getattr(meta_or_tok, "empty", True):
        return n.Pos(0, 0)
    return n.Pos(meta_or_tok.line, meta_or_tok.column)


def _int(tok: Token, what: str, low: int = 1) -> int:
    s = str(tok)
    if not s.isdigit():
        raise ModelError(f"{what} must be a whole number, got {s!r}", tok.line, tok.column)
    v = int(s)
    if v < low:
        raise ModelError(f"{what} must be at least {low}, got {v}", tok.line, tok.column)
    if v > MAX_SIZE:
        raise ModelError(f"{what} {v} is larger than the maximum {MAX_SIZE}", tok.line, tok.column)
    return v


def _float(tok: Token, sign: str = "") -> float:
    v = float(sign + str(tok))
    if not math.isfinite(v):
        raise ModelError(f"number {sign}{tok} is not finite", tok.line, tok.column)
    return v


@v_args(meta=True)
class _ToAst(Transformer):
    # ---- statements
    def start(self, meta, items):
        cutoff = None
        elements = None
        bases: list[n.BasisDef] = []
        expr = None
        for item in items:
            if isinstance(item, tuple) and item[0] == "cutoff":
                if cutoff is not None:
                    raise ModelError("cutoff is set twice", item[2].line, item[2].column)
                cutoff = item[1]
            elif isinstance(item, tuple) and item[0] == "elements":
                if elements is not None:
                    raise ModelError("elements are set twice", item[2].line, item[2].column)
                elements = item[1]
            elif isinstance(item, n.BasisDef):
                bases.append(item)
            else:
                expr = item
        return n.Model(expr=expr, bases=tuple(bases), cutoff=cutoff, elements=elements)

    def cutoff_stmt(self, meta, items):
        value, tok = items[0]
        if not value > 0:
            raise ModelError(f"cutoff must be positive, got {value}", tok.line, tok.column)
        if value > MAX_CUTOFF:
            raise ModelError(f"cutoff {value} Angstrom is larger than the maximum {MAX_CUTOFF}",
                             tok.line, tok.column)
        return ("cutoff", value, tok)

    def elements_stmt(self, meta, items):
        from ase.data import chemical_symbols

        seen = []
        for tok in items:
            sym = str(tok)
            if sym not in chemical_symbols or sym == "X":
                raise ModelError(f"unknown chemical element {sym!r}", tok.line, tok.column)
            if sym in seen:
                raise ModelError(f"element {sym!r} is listed twice", tok.line, tok.column)
            seen.append(sym)
        return ("elements", tuple(seen), items[0])

    def signed_number(self, meta, items):
        sign, num = items
        return (_float(num, str(sign) if sign is not None else ""), num)

    # ---- bases
    def assign(self, meta, items):
        name, spec = items
        if str(name) in RESERVED:
            raise ModelError(f"{str(name)!r} is a reserved word and cannot name a basis",
                             name.line, name.column)
        return n.BasisDef(str(name), spec, _pos(name))

    def short_basis(self, meta, items):
        return _short(items[0])

    def custom_basis(self, meta, items):
        size_tok, *rest = items
        formula = rest[-1]
        params = tuple(p for p in rest[:-1] if p is not None)
        names = [p.name for p in params]
        for p in params:
            if names.count(p.name) > 1:
                raise ModelError(f"parameter {p.name!r} is declared twice", p.pos.line, p.pos.column)
        _check_formula(formula, set(names))
        return n.CustomBasis(_int(size_tok, "basis size"), params, formula, _pos(size_tok))

    def param(self, meta, items):
        name, (value, vtok), bounds = items
        if str(name) in RESERVED:
            raise ModelError(f"{str(name)!r} is a reserved word and cannot name a parameter",
                             name.line, name.column)
        lower = upper = None
        if bounds is not None:
            (lower, ltok), (upper, _) = bounds
            if not lower < upper:
                raise ModelError(f"bounds [{lower}, {upper}] of {str(name)!r} are empty",
                                 ltok.line, ltok.column)
            if not lower <= value <= upper:
                raise ModelError(f"initial value {value} of {str(name)!r} lies outside its bounds "
                                 f"[{lower}, {upper}]", vtok.line, vtok.column)
        return n.BasisParam(str(name), value, lower, upper, _pos(name))

    def bounds(self, meta, items):
        return tuple(items)

    def three_body(self, meta, items):
        radial, order = items
        degree = str(order)[1:]
        if not degree.isdigit() or int(degree) > MAX_LEGENDRE:
            raise ModelError(f"Legendre order {str(order)!r} must be P0 .. P{MAX_LEGENDRE}",
                             order.line, order.column)
        return n.ThreeBody(radial, int(degree), _pos(meta))

    def angular(self, meta, items):
        radial, order, body, degree = items
        lmax = str(order)[1:]
        if not lmax.isdigit() or int(lmax) > MAX_ANGULAR:
            raise ModelError(f"angular order {str(order)!r} must be P0 .. P{MAX_ANGULAR}",
                             order.line, order.column)
        b = 3
        if body is not None:
            b = int(str(body)[1:])
            if b not in BODY_ORDERS:
                raise ModelError(f"body order {str(body)!r} of an angular basis must be one of "
                                 + ", ".join(f"B{k}" for k in BODY_ORDERS), body.line, body.column)
        d = None
        if degree is not None:
            d = int(str(degree)[1:])
            if d > 4 * MAX_SIZE:
                raise ModelError(f"degree bound {str(degree)!r} is larger than the maximum "
                                 f"D{4 * MAX_SIZE}", degree.line, degree.column)
        return n.Angular(radial, int(lmax), b, d, _pos(meta))

    def core_term(self, meta, items):
        if not items or items[0] is None:
            return n.Core(pos=_pos(meta))
        (inner, itok), (outer, otok) = items
        if not 0 < inner < outer:
            raise ModelError(f"ZBL radii must satisfy 0 < inner < outer, got [{inner}, {outer}]",
                             itok.line, itok.column)
        if outer > MAX_CUTOFF:
            raise ModelError(f"ZBL outer radius {outer} is larger than the maximum {MAX_CUTOFF}",
                             otok.line, otok.column)
        return n.Core(inner, outer, _pos(meta))

    def radial_ref(self, meta, items):
        return self.basis_ref(meta, items)

    def basis_ref(self, meta, items):
        tok = items[0]
        if isinstance(tok, n.MANY_BODY):
            return n.BasisRef(spec=tok, pos=tok.pos)
        if tok.type == "SHORT_BASIS":
            return n.BasisRef(spec=_short(tok), pos=_pos(tok))
        return n.BasisRef(name=str(tok), pos=_pos(tok))

    # ---- terms
    def linear_term(self, meta, items):
        return n.Linear(items[0], items[0].pos)

    def exp_term(self, meta, items):
        ref, layers = items
        return n.Exp(ref, _int(Token("L", str(layers)[1:], line=layers.line, column=layers.column),
                               "layer count"), _pos(meta))

    def nexp_term(self, meta, items):
        ref, layers = items
        return n.NExp(ref, _int(Token("L", str(layers)[1:], line=layers.line, column=layers.column),
                                "layer count"), _pos(meta))

    def sum(self, meta, items):
        left, _, right = items
        terms = (left.terms if isinstance(left, n.Sum) else (left,)) + \
                (right.terms if isinstance(right, n.Sum) else (right,))
        return n.Sum(terms, _pos(meta))

    def product(self, meta, items):
        left, op, right = items
        return n.Product(left, right, _pos(op))

    # ---- formulas
    def num(self, meta, items):
        return n.Num(_float(items[0]), _pos(items[0]))

    def var(self, meta, items):
        return n.Var(str(items[0]), _pos(items[0]))

    def call(self, meta, items):
        func, arg = items
        return n.Call(str(func), arg, _pos(func))

    def fc(self, meta, items):
        arg = items[0] if items and items[0] is not None else n.Var("r", _pos(meta))
        if arg != n.Var("r"):
            raise ModelError("fc takes r as its argument: write fc or fc(r)", meta.line, meta.column)
        return n.Call("fc", arg, _pos(meta))

    def neg(self, meta, items):
        return n.Neg(items[0], _pos(meta))

    def _bin(op):
        def f(self, meta, items):
            return n.BinOp(op, items[0], items[1], _pos(meta))
        return f

    add, sub, mul, div, pow = _bin("+"), _bin("-"), _bin("*"), _bin("/"), _bin("^")
    del _bin


def _short(tok: Token) -> n.ShortBasis:
    return n.ShortBasis(str(tok)[0], _int(Token("N", str(tok)[1:], line=tok.line, column=tok.column),
                                          "basis size"), _pos(tok))


def _check_formula(f: n.Formula, params: set[str]) -> None:
    if isinstance(f, n.Var):
        if f.name not in params and f.name not in ("r", "nu"):
            known = ", ".join(sorted(params | {"r", "nu"}))
            raise ModelError(f"unknown variable {f.name!r} in formula (known: {known})",
                             f.pos.line, f.pos.column)
    elif isinstance(f, n.Neg):
        _check_formula(f.operand, params)
    elif isinstance(f, n.BinOp):
        _check_formula(f.left, params)
        _check_formula(f.right, params)
    elif isinstance(f, n.Call):
        _check_formula(f.arg, params)


def _resolve_names(model: n.Model) -> None:
    """Check that every named basis used is defined, and warn about unused definitions."""
    defined = {}
    for d in model.bases:
        if d.name in defined:
            raise ModelError(f"basis {d.name!r} is defined twice", d.pos.line, d.pos.column)
        defined[d.name] = d
    used = set()

    def use(ref: n.BasisRef, radial: bool = False):
        if ref.name is None:
            if isinstance(ref.spec, n.MANY_BODY):
                use(ref.spec.radial, True)
            return
        if ref.name not in defined:
            hint = f" (defined: {', '.join(defined)})" if defined else ""
            raise ModelError(f"unknown basis {ref.name!r}{hint}", ref.pos.line, ref.pos.column)
        spec = defined[ref.name].spec
        if radial and isinstance(spec, n.MANY_BODY):
            kind = "three-body" if isinstance(spec, n.ThreeBody) else "an angular-moment"
            kind = "a three-body" if isinstance(spec, n.ThreeBody) else kind
            raise ModelError(f"the radial basis of a many-body basis must be a pair basis, but "
                             f"{ref.name!r} is {kind} basis", ref.pos.line, ref.pos.column)
        if ref.name not in used:
            used.add(ref.name)
            if isinstance(spec, n.MANY_BODY):
                use(spec.radial, True)

    def walk(e, in_product=False):
        if isinstance(e, (n.Linear, n.Exp, n.NExp)):
            use(e.basis)
        elif isinstance(e, n.Core):
            if in_product:
                raise ModelError("the core repulsion ZBL composes by '+' only, not inside a product",
                                 e.pos.line, e.pos.column)
        elif isinstance(e, n.Sum):
            for t in e.terms:
                walk(t, in_product)
        elif isinstance(e, n.Product):
            walk(e.left, True)
            walk(e.right, True)

    cores = []

    def count_cores(e):
        if isinstance(e, n.Core):
            cores.append(e)
        elif isinstance(e, n.Sum):
            for t in e.terms:
                count_cores(t)

    walk(model.expr)
    count_cores(model.expr)
    if len(cores) > 1:
        raise ModelError("the core repulsion ZBL appears twice", cores[1].pos.line, cores[1].pos.column)
    if cores and isinstance(model.expr, n.Core):
        raise ModelError("ZBL alone is not a trainable model; add it to one, e.g. ZBL + E[G8L4]",
                         cores[0].pos.line, cores[0].pos.column)
    for name, d in defined.items():
        if name not in used:
            warnings.warn(f"line {d.pos.line}: basis {name!r} is defined but never used", stacklevel=3)


def parse(text: str) -> n.Model:
    """Parse model text into a :class:`~compot.grammar.nodes.Model`.

    Raises :class:`~compot.errors.ModelSyntaxError` for text that does not follow the grammar and
    :class:`~compot.errors.ModelError` for text that does but is not a valid model.
    """
    if not isinstance(text, str):
        raise ModelError(f"model text must be a string, got {type(text).__name__}")
    if not text.strip() or all(not ln.split("#", 1)[0].strip() for ln in text.splitlines()):
        raise ModelSyntaxError("syntax error at line 1, column 1: the model text is empty; "
                               "expected a model such as 'E[G8L4] + N[E[G8L4]]'",
                               1, 1, None, ("a model",))
    try:
        tree = _lark().parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(text, exc) from None
    try:
        model = _ToAst().transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, (ModelError, ModelSyntaxError)):
            raise exc.orig_exc from None
        raise
    _resolve_names(model)
    return model
