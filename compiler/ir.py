"""Intermediate representation of a model: parameters, bases, descriptors and the SymPy energy.

The per-atom energy is written as E_i = F(psi(i), chi(i); theta) with
  psi_a(i) = sum_j phi_a(r_ij)                  (pair descriptors, one per basis function)
  chi_c(i) = sum_j fc(r_ij) psi_src(c)(j)       (neighbour descriptors of the N operator)
and phi_a(r) the basis functions (including the cutoff fc).  The compiler derives everything
(forces, stress, Jacobian) from F and phi_a.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

#: the pair distance
R = sp.Symbol("r", positive=True)


class fc(sp.Function):
    """The cutoff function f_c(r) (SPEC 3.1); its derivative is :class:`dfc`."""

    nargs = 1

    def fdiff(self, argindex=1):
        return dfc(self.args[0])


class dfc(sp.Function):
    """Derivative of the cutoff function."""

    nargs = 1


def fc_polynomial(r, cutoff: float):
    """Explicit f_c(r) = 1 - 35x^4 + 84x^5 - 70x^6 + 20x^7, x = r/r_c (valid for r < r_c)."""
    x = r / sp.Float(cutoff)
    return 1 - 35 * x**4 + 84 * x**5 - 70 * x**6 + 20 * x**7


@dataclass
class Param:
    name: str                 # e.g. "b1.alpha", "t1.c[1,2]"
    linear: bool
    role: str                 # alpha | beta | basis | c | lambda | s
    owner: str                # label of the basis, term or product that owns it
    symbol: sp.Symbol
    lower: float | None = None    # search bounds (nonlinear parameters)
    upper: float | None = None
    value: float | None = None    # value given in the model text (custom bases)
    group: int = 0            # top-level operand (1-based) the parameter belongs to; 0: shared/outer
    log_scale: bool = False   # search in log space


@dataclass
class Basis:
    label: str
    kind: str                 # "G", "C" or "custom"
    size: int
    params: list[Param]
    by_type: list[list[sp.Expr]]  # [pair type][nu]: phi_nu(r) in R, fc(R), dfc(R), parameters
    psi_offset: int = 0
    chi_offset: int | None = None   # set when an N term uses the basis
    text: str = ""            # canonical spec text (for display)
    group: int = 0

    @property
    def functions(self) -> list[sp.Expr]:
        """The functions of the first pair type (the only one of a single-element model)."""
        return self.by_type[0]


@dataclass
class TermNode:
    label: str
    kind: str                 # "linear", "E" or "N"
    basis: Basis
    layers: int
    params: list[Param]
    shift: list[Param]        # one per species (one for a single-element model), or empty


@dataclass
class SumNode:
    children: list


@dataclass
class ProductNode:
    label: str
    left: object
    right: object
    shift: list[Param]


@dataclass
class LoweredModel:
    text: str                         # canonical model text
    cutoff: float
    elements: tuple[str, ...] | None
    params: list[Param]
    bases: list[Basis]
    psi: list[sp.Symbol]              # pair descriptor symbols, basis order
    chi: list[sp.Symbol]              # neighbour descriptor symbols
    chi_src: list[int]                # psi index each chi descriptor sums
    energy: sp.Expr                   # F(psi, chi; theta); shifts as s[X_i] for several species
    tree: object                      # TermNode | SumNode | ProductNode
    warnings: list[str] = field(default_factory=list)
    energies: list = field(default_factory=list)     # F for each species (its own shifts)
    pair_types: list = field(default_factory=lambda: [""])   # labels "Nb-Mo" (one "" if 1 species)
    pair_type_table: list = field(default_factory=lambda: [0])   # [si * K + sj] -> pair type

    @property
    def n_species(self) -> int:
        return len(self.elements) if self.elements else 1

    @property
    def parameter_names(self) -> list[str]:
        return [p.name for p in self.params]

    @property
    def basis_params(self) -> list[Param]:
        return [p for b in self.bases for p in b.params]

    def pair_functions(self, t: int = 0) -> list[sp.Expr]:
        """phi_a(r) of every pair descriptor for pair type ``t``."""
        return [f for b in self.bases for f in b.by_type[t]]

    def latex_names(self) -> dict:
        """LaTeX spellings of every symbol, for ``sympy.latex(..., symbol_names=...)``."""
        greek = {"alpha": r"\alpha", "beta": r"\beta", "lambda": r"\lambda"}
        out = {}
        for p in self.params:
            owner, sym = p.name.split(".", 1)
            base, _, idx = sym.partition("[")
            base = greek.get(base, base if len(base) == 1 else rf"\mathrm{{{base}}}")
            idx = idx.rstrip("]")
            out[p.symbol] = f"{base}^{{({owner})}}" + (f"_{{{idx}}}" if idx else "")
        for s in self.psi + self.chi:
            kind, _, idx = s.name.partition("[")
            out[s] = rf"\{kind}_{{{idx.rstrip(']')}}}"
        out[R] = "r"
        return out
