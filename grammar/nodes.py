"""Typed, immutable AST of the compot model language.

Nodes compare equal when they mean the same model: source positions are kept for error messages
but excluded from equality and hashing, so ``parse(to_text(ast)) == ast``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union


@dataclass(frozen=True)
class Pos:
    line: int
    column: int


_NOPOS = Pos(0, 0)


def _pos():
    return field(default=_NOPOS, compare=False, repr=False)


# ---------------------------------------------------------------- radial formulas
@dataclass(frozen=True)
class Num:
    value: float
    pos: Pos = _pos()


@dataclass(frozen=True)
class Var:
    """``r``, ``nu`` or a parameter of the enclosing basis."""
    name: str
    pos: Pos = _pos()


@dataclass(frozen=True)
class Neg:
    operand: "Formula"
    pos: Pos = _pos()


@dataclass(frozen=True)
class BinOp:
    op: str  # one of + - * / ^
    left: "Formula"
    right: "Formula"
    pos: Pos = _pos()


@dataclass(frozen=True)
class Call:
    func: str  # exp log sqrt sin cos tanh fc
    arg: "Formula"
    pos: Pos = _pos()


Formula = Union[Num, Var, Neg, BinOp, Call]

FUNCTIONS = ("exp", "log", "sqrt", "sin", "cos", "tanh", "fc")


# ---------------------------------------------------------------- bases
@dataclass(frozen=True)
class ShortBasis:
    """``G8`` (even-tempered Gaussians) or ``C8`` (Chebyshev polynomials)."""
    kind: str  # "G" or "C"
    size: int
    pos: Pos = _pos()


@dataclass(frozen=True)
class BasisParam:
    name: str
    value: float
    lower: float | None = None
    upper: float | None = None
    pos: Pos = _pos()


@dataclass(frozen=True)
class CustomBasis:
    """``basis n (p = v in [lo, hi], ...): formula`` -- n functions of ``r`` indexed by ``nu``."""
    size: int
    params: tuple[BasisParam, ...]
    formula: Formula
    pos: Pos = _pos()


@dataclass(frozen=True)
class ThreeBody:
    """``T[G4 P2]``: psi_abl(i) = sum_{j!=k} S_ab(r_ij, r_ik) P_l(cos theta_jik) for the pair
    functions a <= b of a radial basis and Legendre degrees l = 0..order (docs/theory.md §3.1)."""
    radial: "BasisRef"
    order: int
    pos: Pos = _pos()


@dataclass(frozen=True)
class Angular:
    """``A[C8 P4 B4 D11]``: moments A_nlm(i) = sum_j R_n(r_ij) Y_lm(r_ij/r_ij) of a radial basis for
    l = 0..lmax, and their rotation invariants of body order ``body`` (3: contractions of two
    moments, 4: of three), optionally only those of degree sum(n-1) + sum(l) <= ``degree``
    (docs/theory.md §3.2)."""
    radial: "BasisRef"
    lmax: int
    body: int = 3
    degree: int | None = None
    pos: Pos = _pos()


BasisSpec = Union[ShortBasis, CustomBasis, ThreeBody, Angular]
#: many-body basis specs (their radial basis is a pair basis)
MANY_BODY = (ThreeBody, Angular)


@dataclass(frozen=True)
class BasisDef:
    name: str
    spec: BasisSpec
    pos: Pos = _pos()


@dataclass(frozen=True)
class BasisRef:
    """A use of a basis: either an inline spec (anonymous) or the name of a defined basis."""
    spec: ShortBasis | ThreeBody | Angular | None = None
    name: str | None = None
    pos: Pos = _pos()


# ---------------------------------------------------------------- model terms
@dataclass(frozen=True)
class Linear:
    """``G8``: E_i = sum_nu c_nu psi_nu(i) + s."""
    basis: BasisRef
    pos: Pos = _pos()


@dataclass(frozen=True)
class Exp:
    """``E[G8L4]``: E_i = sum_k sum_nu c_k,nu exp(lambda_k psi_nu(i)) + s."""
    basis: BasisRef
    layers: int
    pos: Pos = _pos()


@dataclass(frozen=True)
class NExp:
    """``N[E[G8L4]]``: as Exp, on chi_nu(i) = sum_j fc(r_ij) psi_nu(j)."""
    basis: BasisRef
    layers: int
    pos: Pos = _pos()


@dataclass(frozen=True)
class Core:
    """``ZBL[r_in, r_out]``: the universal ZBL screened Coulomb repulsion between every pair,
    switched off between ``inner`` and ``outer`` (Angstrom; None: chosen from the elements, or
    from the training data by ``compot fit``; docs/theory.md §3.3)."""
    inner: float | None = None
    outer: float | None = None
    pos: Pos = _pos()


@dataclass(frozen=True)
class Sum:
    terms: tuple["Expr", ...]
    pos: Pos = _pos()


@dataclass(frozen=True)
class Product:
    left: "Expr"
    right: "Expr"
    pos: Pos = _pos()


Term = Union[Linear, Exp, NExp, Core]
Expr = Union[Linear, Exp, NExp, Core, Sum, Product]


@dataclass(frozen=True)
class Model:
    expr: Expr
    bases: tuple[BasisDef, ...] = ()
    cutoff: float | None = None
    elements: tuple[str, ...] | None = None
