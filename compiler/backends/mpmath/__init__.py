"""The mpmath backend: the derived SymPy forms evaluated at arbitrary precision.

Where the other backends print source text, this one walks the SymPy trees with mpmath numbers
(no code is generated or executed).  The runtime's extended-precision Jacobian
(``compot.runtime.training.extended``, ``compot fim --extended``) evaluates the forms of
:func:`linear_forms` with it.  Slow, pure Python: a reference for small data.
"""

from __future__ import annotations

import mpmath
import sympy as sp

from ...derive import DFC, FC, derive
from ...ir import R, LoweredModel

_FUNCS = {sp.exp: mpmath.exp, sp.log: mpmath.log, sp.sin: mpmath.sin, sp.cos: mpmath.cos,
          sp.tanh: mpmath.tanh}

#: symbols of the pair forms besides the parameters: the distance and the cutoff with its derivative
PAIR_SYMBOLS = {"r": R, "fc": FC, "dfc": DFC}


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


def linear_forms(m: LoweredModel) -> dict:
    """The forms the Jacobian by the linear parameters needs: per pair type phi and dphi, per
    species dF/dtheta, dU/dtheta and dV/dtheta restricted to the linear parameters."""
    d = derive(m)
    lin = [k for k, q in enumerate(m.params) if q.linear]
    zero = sp.Integer(0)
    return {"pair": d.pair, "lin": lin,
            "Fp": [[a.Fp.get(k, zero) for k in lin] for a in d.atom],
            "Up": [[[a.Up.get((r, k), zero) for k in lin] for r in range(len(m.psi))] for a in d.atom],
            "Vp": [[[a.Vp.get((r, k), zero) for k in lin] for r in range(len(m.chi))] for a in d.atom]}


def cutoff(r, rc):
    """f_c(r) and f_c'(r) in mpmath (docs/theory.md §2.1)."""
    if r >= rc:
        return mpmath.mpf(0), mpmath.mpf(0)
    x = r / rc
    fc = 1 - 35 * x**4 + 84 * x**5 - 70 * x**6 + 20 * x**7
    dfc = (-140 * x**3 + 420 * x**4 - 420 * x**5 + 140 * x**6) / rc
    return fc, dfc
