"""Write E_i with its descriptors spelled out as sums over neighbours (for display)."""

from __future__ import annotations

import sympy as sp

from .ir import R, LoweredModel


def explicit_energy(m: LoweredModel) -> sp.Expr:
    i, j, k = sp.symbols("i j k", integer=True)
    rr = sp.IndexedBase("r")
    n_nb = sp.Function("n")  # number of neighbours

    def psi_of(atom, other, a):
        f = m.pair_functions()[a]
        return sp.Sum(f.subs(R, rr[atom, other]), (other, 1, n_nb(atom)))

    from .ir import R_IJ, R_IK, THETA, fc
    theta = sp.IndexedBase("theta")

    def three_body(a):
        e = m.descriptor_expression(a).xreplace({R_IJ: rr[i, j], R_IK: rr[i, k], THETA: theta[j, i, k]})
        return sp.Sum(sp.Sum(e * (1 - sp.KroneckerDelta(j, k)), (k, 1, n_nb(i))), (j, 1, n_nb(i)))

    subs = {s: psi_of(i, j, a) if a < m.n_pair_psi else three_body(a) for a, s in enumerate(m.psi)}
    for c, s in enumerate(m.chi):
        subs[s] = sp.Sum(fc(rr[i, j]) * psi_of(j, k, m.chi_src[c]), (j, 1, n_nb(i)))
    return m.energy.xreplace(subs)
