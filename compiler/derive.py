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
class Derived:
    """Lists of SymPy expressions, ready for code generation."""
    phi: list[sp.Expr]          # phi_a(r)                  (NPSI)
    dphi: list[sp.Expr]         # d phi_a / dr              (NPSI)
    phi_b: list[list[sp.Expr]]  # d phi_a / d q_b           (NPSI x NB)
    dphi_b: list[list[sp.Expr]] # d^2 phi_a / dr dq_b       (NPSI x NB)
    F: sp.Expr
    U: list[sp.Expr]            # dF/dpsi_a
    V: list[sp.Expr]            # dF/dchi_c
    Fp: list[sp.Expr]           # dF/dtheta_k               (NP)
    Up: list[list[sp.Expr]]     # dU_a/dtheta_k             (NPSI x NP)
    Vp: list[list[sp.Expr]]     # dV_c/dtheta_k             (NCHI x NP)
    Hpp: list[list[sp.Expr]]    # dU_a/dpsi_b
    Hpc: list[list[sp.Expr]]    # dU_a/dchi_c
    Hcc: list[list[sp.Expr]]    # dV_c/dchi_d


def derive(m: LoweredModel) -> Derived:
    bsyms = [p.symbol for p in m.basis_params]
    phi_raw = m.pair_functions()
    dphi_raw = [sp.diff(f, R) for f in phi_raw]
    phi = [_subs_cutoff(f) for f in phi_raw]
    dphi = [_subs_cutoff(f) for f in dphi_raw]
    phi_b = [[_subs_cutoff(sp.diff(f, q)) for q in bsyms] for f in phi_raw]
    dphi_b = [[_subs_cutoff(sp.diff(f, q)) for q in bsyms] for f in dphi_raw]
    F = m.energy
    U = [sp.diff(F, s) for s in m.psi]
    V = [sp.diff(F, s) for s in m.chi]
    thetas = [p.symbol for p in m.params]
    Fp = [sp.diff(F, t) for t in thetas]
    Up = [[sp.diff(u, t) for t in thetas] for u in U]
    Vp = [[sp.diff(v, t) for t in thetas] for v in V]
    Hpp = [[sp.diff(u, s) for s in m.psi] for u in U]
    Hpc = [[sp.diff(u, s) for s in m.chi] for u in U]
    Hcc = [[sp.diff(v, s) for s in m.chi] for v in V]
    return Derived(phi, dphi, phi_b, dphi_b, F, U, V, Fp, Up, Vp, Hpp, Hpc, Hcc)
