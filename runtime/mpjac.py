"""Jacobian by the linear parameters in extended precision, from the symbolic forms.

The same algorithm as the C kernels (descriptors, adjoints, pair forces), carried out in mpmath
on the SymPy expressions by a small tree-walking evaluator (no code is generated or executed).
Slow (pure Python): meant for checking the FIM of small data sets.
"""

from __future__ import annotations

import mpmath
import sympy as sp

from ..compiler.derive import DFC, FC, derive
from ..compiler.ir import R

_FUNCS = {sp.exp: mpmath.exp, sp.log: mpmath.log, sp.sin: mpmath.sin, sp.cos: mpmath.cos,
          sp.tanh: mpmath.tanh}


def mp_eval(expr, env: dict):
    """Evaluate a SymPy expression with mpmath numbers for its symbols."""
    memo = {}

    def ev(e):
        if e in memo:
            return memo[e]
        if e.is_Symbol:
            v = env[e]
        elif e.is_Integer:
            v = mpmath.mpf(int(e))
        elif e.is_Rational:
            v = mpmath.mpf(int(e.p)) / int(e.q)
        elif e.is_Float:
            v = mpmath.mpf(float(e))
        elif e.is_Add:
            v = mpmath.fsum(ev(a) for a in e.args)
        elif e.is_Mul:
            v = mpmath.mpf(1)
            for a in e.args:
                v *= ev(a)
        elif e.is_Pow:
            b, x = e.args
            v = ev(b) ** (int(x) if x.is_Integer else ev(x))
        elif e.func in _FUNCS:
            v = _FUNCS[e.func](ev(e.args[0]))
        else:
            raise TypeError(f"cannot evaluate {e.func} in extended precision")
        memo[e] = v
        return v

    return ev(expr)


def _forms(model):
    cached = getattr(model, "_mp_forms", None)
    if cached is None:
        ir = model.ir
        d = derive(ir)
        lin = [k for k, q in enumerate(ir.params) if q.linear]
        cached = {"d": d, "lin": lin,
                  "Fp": [[a.Fp[k] for k in lin] for a in d.atom],
                  "Up": [[[row[k] for k in lin] for row in a.Up] for a in d.atom],
                  "Vp": [[[row[k] for k in lin] for row in a.Vp] for a in d.atom]}
        model._mp_forms = cached
    return cached


def _cutoff(r, rc):
    if r >= rc:
        return mpmath.mpf(0), mpmath.mpf(0)
    x = r / rc
    fc = 1 - 35 * x**4 + 84 * x**5 - 70 * x**6 + 20 * x**7
    dfc = (-140 * x**3 + 420 * x**4 - 420 * x**5 + 140 * x**6) / rc
    return fc, dfc


def mp_linear_jacobian(model, atoms, p, dps: int = 40):
    """Rows (E_total, F_1x, ...) x linear parameters, as lists of mpf, at ``dps`` digits."""
    mpmath.mp.dps = dps
    ir = model.ir
    if ir.three_body:
        from ..errors import ModelError
        raise ModelError("the extended-precision Jacobian (fim --extended) does not support "
                         "three-body bases; use the float64 Jacobian (the default)")
    f = _forms(model)
    d = f["d"]
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
        fc, dfc = _cutoff(r, rc)
        env = dict(penv)
        env.update({R: r, FC: fc, DFC: dfc})
        i, j = int(nl.i[k]), int(nl.j[k])
        pf = d.pair[ir.pair_type_table[int(nl.species[i]) * ir.n_species + int(nl.species[j])]]
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
