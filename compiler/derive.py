"""Symbolic derivation (docs/theory.md §5): everything the kernels need, derived from
E_i = F(psi, chi; theta) and the basis functions phi_a(r).

Forces and stress follow from the chain rule through the descriptors (reverse mode):
    U_a = dF/dpsi_a,  V_c = dF/dchi_c,  W_a(j) = U_a(j) + sum_i V_a(i) fc(r_ij)
    dE/dr_ij = sum_a W_a(i) phi_a'(r_ij) + sum_c V_c(i) fc'(r_ij) psi_src(c)(j)
(many-body descriptors reach the positions through their moments, in the C passes).  The
parameter Jacobian of energies and forces is forward mode on top of that, which needs the direct
parameter derivatives of F, U, V and the Hessian blocks of F in (psi, chi).

Most of those derivatives are zero: a term's coefficients meet only its own descriptors.  So the
forms are sparse, ``{(row, column): expression}`` for the non-zero entries only, and each
derivative is taken of the summands of F that contain the symbol (not of all of F), which keeps
models with hundreds of descriptors and parameters quick to derive.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import sympy as sp

from .ir import R, LoweredModel, dfc, fc

FC = sp.Symbol("fc")
DFC = sp.Symbol("dfc")


def _subs_cutoff(e: sp.Expr) -> sp.Expr:
    return e.replace(dfc(R), DFC).replace(fc(R), FC)


@dataclass
class AtomForms:
    """Derivatives of one species' per-atom energy F (sparse: only non-zero entries)."""
    F: sp.Expr
    U: list[sp.Expr]                       # dF/dpsi_a                  (NPSI, dense)
    V: list[sp.Expr]                       # dF/dchi_c                  (NCHI, dense)
    Fp: dict[int, sp.Expr]                 # k -> dF/dtheta_k
    Up: dict[tuple[int, int], sp.Expr]     # (a, k) -> dU_a/dtheta_k
    Vp: dict[tuple[int, int], sp.Expr]     # (c, k) -> dV_c/dtheta_k
    Hpp: dict[tuple[int, int], sp.Expr]    # (a, b) -> dU_a/dpsi_b
    Hpc: dict[tuple[int, int], sp.Expr]    # (a, c) -> dU_a/dchi_c
    Hcc: dict[tuple[int, int], sp.Expr]    # (c, e) -> dV_c/dchi_e


@dataclass
class PairForms:
    """Basis functions of one pair type and their derivatives."""
    phi: list[sp.Expr]          # phi_a(r)                  (NPHI)
    dphi: list[sp.Expr]         # d phi_a / dr              (NPHI)
    phi_b: list[list[sp.Expr]]  # d phi_a / d q_b           (NPHI x NB)
    dphi_b: list[list[sp.Expr]] # d^2 phi_a / dr dq_b       (NPHI x NB)


@dataclass
class Derived:
    """Everything the kernels need: pair forms per pair type, atom forms per species."""
    pair: list[PairForms]
    atom: list[AtomForms]

    # single-species / single-pair-type conveniences
    def __getattr__(self, name):
        if name in ("phi", "dphi", "phi_b", "dphi_b"):
            return getattr(self.pair[0], name)
        if name in ("F", "U", "V", "Fp", "Up", "Vp", "Hpp", "Hpc", "Hcc"):
            return getattr(self.atom[0], name)
        raise AttributeError(name)


class _Summands:
    """F as a sum, with the summands that contain each symbol (derivatives touch only those)."""

    def __init__(self, F: sp.Expr):
        self.by_symbol = defaultdict(list)
        for arg in (F.args if F.is_Add else (F,)):
            for s in arg.free_symbols:
                self.by_symbol[s].append(arg)

    def diff(self, s: sp.Symbol) -> sp.Expr:
        return sp.Add(*[sp.diff(a, s) for a in self.by_symbol.get(s, ())])


def _row_derivatives(rows: list[sp.Expr], symbols: list[sp.Symbol]) -> dict[tuple[int, int], sp.Expr]:
    """{(r, k): d rows[r] / d symbols[k]} for the symbols each row contains."""
    index = {s: k for k, s in enumerate(symbols)}
    out = {}
    for r, e in enumerate(rows):
        if e == 0:
            continue
        for s in sorted(e.free_symbols & index.keys(), key=index.get):
            d = sp.diff(e, s)
            if d != 0:
                out[(r, index[s])] = d
    return out


def _atom_forms(F, m: LoweredModel) -> AtomForms:
    f = _Summands(F)
    U = [f.diff(s) for s in m.psi]
    V = [f.diff(s) for s in m.chi]
    thetas = [p.symbol for p in m.params]
    Fp = {k: d for k, t in enumerate(thetas) if (d := f.diff(t)) != 0}
    return AtomForms(F, U, V, Fp, _row_derivatives(U, thetas), _row_derivatives(V, thetas),
                     _row_derivatives(U, list(m.psi)), _row_derivatives(U, list(m.chi)),
                     _row_derivatives(V, list(m.chi)))


def _pair_forms(phi_raw, bsyms) -> PairForms:
    dphi_raw = [sp.diff(f, R) for f in phi_raw]
    return PairForms([_subs_cutoff(f) for f in phi_raw], [_subs_cutoff(f) for f in dphi_raw],
                     [[_subs_cutoff(sp.diff(f, q)) for q in bsyms] for f in phi_raw],
                     [[_subs_cutoff(sp.diff(f, q)) for q in bsyms] for f in dphi_raw])


def derive(m: LoweredModel) -> Derived:
    bsyms = [p.symbol for p in m.basis_params]
    pair = [_pair_forms(m.pair_functions(t), bsyms) for t in range(len(m.pair_types))]
    energies = m.energies or [m.energy]
    return Derived(pair, [_atom_forms(F, m) for F in energies])
