"""Symbolic derivation: everything the kernels need, derived from E_i = F(psi, chi; theta) and the
basis functions phi_a(r).

Forces and stress follow from the chain rule through the descriptors (reverse mode):
    U_a = dF/dpsi_a,  V_c = dF/dchi_c,  W_a(j) = U_a(j) + sum_i V_a(i) fc(r_ij)
    dE/dr_ij = sum_a W_a(i) phi_a'(r_ij) + sum_c V_c(i) fc'(r_ij) psi_src(c)(j)
The parameter Jacobian of energies and forces is forward mode on top of that, which needs the
direct parameter derivatives of F, U, V and the Hessian blocks of F in (psi, chi).
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .ir import R, LoweredModel, dfc, fc

FC = sp.Symbol("fc")
DFC = sp.Symbol("dfc")


def _subs_cutoff(e: sp.Expr) -> sp.Expr:
    return e.replace(dfc(R), DFC).replace(fc(R), FC)


@dataclass
class AtomForms:
    """Derivatives of one species' per-atom energy F."""
    F: sp.Expr
    U: list[sp.Expr]            # dF/dpsi_a
    V: list[sp.Expr]            # dF/dchi_c
    Fp: list[sp.Expr]           # dF/dtheta_k               (NP)
    Up: list[list[sp.Expr]]     # dU_a/dtheta_k             (NPSI x NP)
    Vp: list[list[sp.Expr]]     # dV_c/dtheta_k             (NCHI x NP)
    Hpp: list[list[sp.Expr]]    # dU_a/dpsi_b
    Hpc: list[list[sp.Expr]]    # dU_a/dchi_c
    Hcc: list[list[sp.Expr]]    # dV_c/dchi_d


@dataclass
class PairForms:
    """Basis functions of one pair type and their derivatives."""
    phi: list[sp.Expr]          # phi_a(r)                  (NPSI)
    dphi: list[sp.Expr]         # d phi_a / dr              (NPSI)
    phi_b: list[list[sp.Expr]]  # d phi_a / d q_b           (NPSI x NB)
    dphi_b: list[list[sp.Expr]] # d^2 phi_a / dr dq_b       (NPSI x NB)


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


def _atom_forms(F, m: LoweredModel) -> AtomForms:
    U = [sp.diff(F, s) for s in m.psi]
    V = [sp.diff(F, s) for s in m.chi]
    thetas = [p.symbol for p in m.params]
    return AtomForms(F, U, V, [sp.diff(F, t) for t in thetas],
                     [[sp.diff(u, t) for t in thetas] for u in U],
                     [[sp.diff(v, t) for t in thetas] for v in V],
                     [[sp.diff(u, s) for s in m.psi] for u in U],
                     [[sp.diff(u, s) for s in m.chi] for u in U],
                     [[sp.diff(v, s) for s in m.chi] for v in V])


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
