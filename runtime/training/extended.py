"""Jacobian by the linear parameters in extended precision (``compot fim --extended``).

The passes of the C backend (descriptors, adjoints, pair forces; docs/theory.md §5) carried out in
mpmath on the symbolic forms of the mpmath backend.  It is the independent high-precision
reference of the float64 kernels, so it is deliberately a separate implementation.  Slow (pure
Python): meant for checking the FIM of small data sets.
"""

from __future__ import annotations

import mpmath

from ...compiler.backends.mpmath import PAIR_SYMBOLS, cutoff, linear_forms, mp_eval
from ...errors import ModelError


def _forms(model):
    cached = getattr(model, "_mp_forms", None)
    if cached is None:
        cached = model._mp_forms = linear_forms(model.ir)
    return cached


def mp_linear_jacobian(model, atoms, p, dps: int = 40):
    """Rows (E_total, F_1x, ...) x linear parameters, as lists of mpf, at ``dps`` digits."""
    mpmath.mp.dps = dps
    ir = model.ir
    if ir.many_body is not None:
        raise ModelError("the extended-precision Jacobian (fim --extended) does not support "
                         "many-body (T, A) bases; use the float64 Jacobian (the default)")
    f = _forms(model)
    nl = model.neighbor_list(atoms)
    n = nl.n
    NPSI, NCHI, NL = len(ir.psi), len(ir.chi), len(f["lin"])
    rc = mpmath.mpf(model.cutoff)
    penv = {q.symbol: mpmath.mpf(float(v)) for q, v in zip(ir.params, p)}
    pairs = []
    psi = [[mpmath.mpf(0)] * NPSI for _ in range(n)]
    for k in range(nl.npairs):
        vec = [mpmath.mpf(float(x)) for x in nl.d[3 * k:3 * k + 3]]
        r = mpmath.sqrt(vec[0]**2 + vec[1]**2 + vec[2]**2)
        if r >= rc:
            continue
        fc, dfc = cutoff(r, rc)
        env = dict(penv)
        env.update({PAIR_SYMBOLS["r"]: r, PAIR_SYMBOLS["fc"]: fc, PAIR_SYMBOLS["dfc"]: dfc})
        i, j = int(nl.i[k]), int(nl.j[k])
        pf = f["pair"][ir.pair_type_table[int(nl.species[i]) * ir.n_species + int(nl.species[j])]]
        phi = [mp_eval(e, env) for e in pf.phi]
        dphi = [mp_eval(e, env) for e in pf.dphi]
        for a in range(NPSI):
            psi[i][a] += phi[a]
        pairs.append((i, j, vec, r, fc, dfc, dphi))
    chi = [[mpmath.mpf(0)] * NCHI for _ in range(n)]
    for i, j, vec, r, fc, dfc, dphi in pairs:
        for c in range(NCHI):
            chi[i][c] += fc * psi[j][ir.chi_src[c]]
    J = [[mpmath.mpf(0)] * NL for _ in range(1 + 3 * n)]
    W = []
    V = []
    for i in range(n):
        env = dict(penv)
        env.update(dict(zip(ir.psi, psi[i])))
        env.update(dict(zip(ir.chi, chi[i])))
        s_i = int(nl.species[i])
        for k, e in enumerate(f["Fp"][s_i]):
            J[0][k] += mp_eval(e, env)
        W.append([[mp_eval(e, env) for e in row] for row in f["Up"][s_i]])
        V.append([[mp_eval(e, env) for e in row] for row in f["Vp"][s_i]])
    for i, j, vec, r, fc, dfc, dphi in pairs:
        for c in range(NCHI):
            a = ir.chi_src[c]
            for k in range(NL):
                W[j][a][k] += fc * V[i][c][k]
    for i, j, vec, r, fc, dfc, dphi in pairs:
        g = [mpmath.fsum(W[i][a][k] * dphi[a] for a in range(NPSI)) for k in range(NL)]
        if NCHI:
            for k in range(NL):
                g[k] += dfc * mpmath.fsum(V[i][c][k] * psi[j][ir.chi_src[c]] for c in range(NCHI))
        for x in range(3):
            u = vec[x] / r
            for k in range(NL):
                J[1 + 3 * i + x][k] += g[k] * u
                J[1 + 3 * j + x][k] -= g[k] * u
    return J
