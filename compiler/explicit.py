"""Write E_i with its descriptors spelled out as sums over neighbours (for display)."""

from __future__ import annotations

import sympy as sp

from .ir import R, R_IJ, R_IK, THETA, LoweredModel, fc


def explicit_energy(m: LoweredModel) -> sp.Expr:
    i, j, k = sp.symbols("i j k", integer=True)
    rr = sp.IndexedBase("r")
    theta = sp.IndexedBase("theta")
    uu = sp.IndexedBase("u")               # unit vector u[i, j] = (R_j - R_i) / r_ij
    n_nb = sp.Function("n")                # number of neighbours
    phi = m.pair_functions()

    def psi_of(atom, other, a):
        return sp.Sum(phi[a].subs(R, rr[atom, other]), (other, 1, n_nb(atom)))

    def many_body(a):
        info = m.many_body.info[a - m.n_pair_psi]
        if info["kind"] == "T":
            e = m.descriptor_expression(a).xreplace({R_IJ: rr[i, j], R_IK: rr[i, k], THETA: theta[j, i, k]})
            return sp.Sum(sp.Sum(e * (1 - sp.KroneckerDelta(j, k)), (k, 1, n_nb(i))), (j, 1, n_nb(i)))
        moments = {}
        for blk in m.many_body.blocks:
            for nn, f in enumerate(blk.phi):
                for l in range(blk.lmax + 1):
                    for mm in range(-l, l + 1):
                        yhat = sp.Function(f"Yhat_{l},{mm}")(uu[i, j])
                        moments[sp.Symbol(f"A[{blk.label},{nn + 1},{l},{mm}]")] = \
                            sp.Sum(phi[f].subs(R, rr[i, j]) * yhat, (j, 1, n_nb(i)))
        return m.descriptor_expression(a).xreplace(moments)

    subs = {s: psi_of(i, j, a) if a < m.n_pair_psi else many_body(a) for a, s in enumerate(m.psi)}
    for c, s in enumerate(m.chi):
        subs[s] = sp.Sum(fc(rr[i, j]) * psi_of(j, k, m.chi_src[c]), (j, 1, n_nb(i)))
    return m.energy.xreplace(subs)
