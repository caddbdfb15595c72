"""The C backend's printer: SymPy expressions -> C99 statements after common-subexpression
elimination.  Output is deterministic (canonical CSE order), so regenerating a model gives
identical bytes (docs/theory.md §9)."""

from __future__ import annotations

import sympy as sp
from sympy.printing.c import C99CodePrinter
from sympy.printing.precedence import precedence


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


PRINTER = _Printer({"strict": False})


def c_double(x: float) -> str:
    """A C literal that reads back as exactly ``x``."""
    return repr(float(x))


def c_array(ctype: str, name: str, values, comment: str = "") -> str:
    """``static const ctype name[n] = {...};`` (at least one element)."""
    vals = list(values) or [0]
    text = f"static const {ctype} {name}[{len(vals)}] = {{{', '.join(map(str, vals))}}};"
    return f"/* {comment} */\n{text}" if comment else text


def hoist(exprs: list[sp.Expr], params: set, table: dict) -> list[sp.Expr]:
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


def block(assignments: list[tuple[str, sp.Expr]], symmap: dict, indent: str = "    ",
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
            lines += [f"{indent}const double {s} = {PRINTER.doprint(e)};" for s, e in reps]
            lines += [f"{indent}{arr}[{m}] = {PRINTER.doprint(a)};" for m, a in enumerate(args)]
            lines.append(f"{indent}COMPOT_SIMD")
            lines.append(f"{indent}for (int m = 0; m < {len(exps)}; m++) {arr}[m] = exp({arr}[m]);")
            exprs = [e.xreplace({x: sp.Symbol(f"{arr}[{m}]") for m, x in enumerate(exps)}) for e in exprs]
    reps, reduced = sp.cse(exprs, symbols=sp.numbered_symbols(prefix), order="canonical")
    lines += [f"{indent}const double {s} = {PRINTER.doprint(e)};" for s, e in reps]
    lines += [f"{indent}{t} = {PRINTER.doprint(e)};" for (t, _), e in zip(assignments, reduced)]
    return lines


def switch(var: str, blocks: list[list[str]]) -> list[str]:
    """One block of statements per case of ``var`` (species or pair type); a single case needs no
    switch."""
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
