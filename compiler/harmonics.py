"""Real spherical harmonics as polynomials, and their coupling coefficients, exactly (SymPy).

The angular-moment bases (docs/theory.md §3.2) use harmonics in Racah's normalisation,

    Yhat_lm = sqrt(4 pi / (2l + 1)) Y_lm,   so that   sum_m Yhat_lm(u) Yhat_lm(v) = P_l(u . v)

(the addition theorem) and Yhat_00 = 1.  Each Yhat_lm is written as a homogeneous polynomial of
degree l in the components (x, y, z) of the unit vector u (r^2 = x^2 + y^2 + z^2 is kept inside,
so Euler's theorem u . grad Yhat = l Yhat holds exactly), from the real-form Cartesian expression

    Yhat_l0 = Pi_l^0,   Yhat_lm = sqrt(2) Pi_l^m Re (x + iy)^m,   Yhat_l,-m = sqrt(2) Pi_l^m Im (x + iy)^m,
    Pi_l^m = sqrt((l-m)!/(l+m)!) sum_k (-1)^k 2^-l C(l,k) C(2l-2k,l) (l-2k)!/(l-2k-m)! r^2k z^(l-2k-m).

Coupling coefficients are averages over the unit sphere of products of these polynomials, from
the exact monomial integrals  <x^a y^b z^c> = Gamma((a+1)/2) Gamma((b+1)/2) Gamma((c+1)/2) /
(2 pi^(3/2) Gamma((a+b+c+3)/2))  (zero unless a, b, c are even), so they agree with the harmonics
by construction, signs included.  Index of (l, m): l*l + l + m.
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

X, Y, Z = sp.symbols("ux uy uz", real=True)


def lm_index(l: int, m: int) -> int:
    return l * l + l + m


@lru_cache(maxsize=None)
def harmonics(lmax: int) -> tuple[sp.Expr, ...]:
    """Yhat_lm(x, y, z) for l = 0..lmax, m = -l..l, in index order."""
    r2 = X**2 + Y**2 + Z**2
    out = []
    for l in range(lmax + 1):
        row = {}
        for m in range(0, l + 1):
            pi = sp.sqrt(sp.factorial(l - m) / sp.factorial(l + m)) * sp.Add(*[
                (-1)**k * sp.Rational(1, 2**l) * sp.binomial(l, k) * sp.binomial(2 * l - 2 * k, l)
                * sp.factorial(l - 2 * k) / sp.factorial(l - 2 * k - m) * r2**k * Z**(l - 2 * k - m)
                for k in range((l - m) // 2 + 1)])
            if m == 0:
                row[0] = sp.expand(pi)
            else:
                c = sp.expand((X + sp.I * Y)**m)
                row[m] = sp.expand(sp.sqrt(2) * pi * sp.re(c))
                row[-m] = sp.expand(sp.sqrt(2) * pi * sp.im(c))
        out += [row[m] for m in range(-l, l + 1)]
    return tuple(out)


def _monomial_average(a: int, b: int, c: int) -> float:
    """<x^a y^b z^c> over the unit sphere: (a-1)!! (b-1)!! (c-1)!! / (a+b+c+1)!! for even a, b, c."""
    if a % 2 or b % 2 or c % 2:
        return 0.0
    num = 1
    for e in (a, b, c):
        num *= _double_factorial(e - 1)
    return num / _double_factorial(a + b + c + 1)


def _double_factorial(k: int) -> int:
    out = 1
    while k > 1:
        out *= k
        k -= 2
    return out


@lru_cache(maxsize=None)
def _monomials(l: int, m: int) -> tuple[tuple[int, int, int, float], ...]:
    """Yhat_lm as (a, b, c, coefficient of x^a y^b z^c), in a fixed order."""
    poly = sp.Poly(harmonics(l)[lm_index(l, m)], X, Y, Z)
    return tuple((a, b, c, float(coef)) for (a, b, c), coef in sorted(poly.terms()))


@lru_cache(maxsize=None)
def coupling(l1: int, l2: int, l3: int) -> tuple[tuple[int, int, int, float], ...]:
    """The non-zero <Yhat_l1m1 Yhat_l2m2 Yhat_l3m3> (sphere averages) as (m1, m2, m3, value).
    Zero unless l1 + l2 + l3 is even and the triangle |l1 - l2| <= l3 <= l1 + l2 holds.  Computed
    from the harmonics' monomials with IEEE arithmetic only (+ - * /), so the values are the same
    on every machine; entries below 1e-12 of the largest are exact zeros rounded."""
    if (l1 + l2 + l3) % 2 or not abs(l1 - l2) <= l3 <= l1 + l2:
        return ()
    avg = {}
    out = []
    for m1 in range(-l1, l1 + 1):
        for m2 in range(-l2, l2 + 1):
            p12: dict = {}
            for a1, b1, c1, v1 in _monomials(l1, m1):
                for a2, b2, c2, v2 in _monomials(l2, m2):
                    key = (a1 + a2, b1 + b2, c1 + c2)
                    p12[key] = p12.get(key, 0.0) + v1 * v2
            for m3 in range(-l3, l3 + 1):
                v = 0.0
                for (a, b, c), w in p12.items():
                    for a3, b3, c3, v3 in _monomials(l3, m3):
                        key = (a + a3, b + b3, c + c3)
                        if key not in avg:
                            avg[key] = _monomial_average(*key)
                        v += w * v3 * avg[key]
                out.append((m1, m2, m3, v))
    big = max((abs(v) for *_, v in out), default=0.0)
    return tuple(t for t in out if abs(t[3]) > 1e-12 * big)
