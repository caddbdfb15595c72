"""The core repulsion (docs/theory.md §3.3): the universal screened Coulomb potential of Ziegler,
Biersack and Littmark (ZBL), in exactly the form of LAMMPS's ``pair_style zbl inner outer``,

    V(r) = k Z_i Z_j / r * phi(r / a) + S(r),    a = 0.46850 / (Z_i^0.23 + Z_j^0.23) Angstrom,
    phi(x) = 0.18175 e^(-3.19980 x) + 0.50986 e^(-0.94229 x) + 0.28022 e^(-0.40290 x)
             + 0.02817 e^(-0.20162 x),        k = e^2 / (4 pi eps0) = 14.399645 eV Angstrom,

where S(r) = C for r < r_in and C + A/3 t^3 + B/4 t^4 (t = r - r_in) up to r_out, with A, B, C
chosen so that V, V' and V'' vanish at r_out (the switching function of lj/gromacs).  So the
repulsion of a compot model equals LAMMPS's own, and LAMMPS users can check it there.

Where the core term acts, the model's other pair functions are switched on by
1 - s(r): s = 1 below r_in, s = f_c((r - r_in)/(r_out - r_in)) between, 0 beyond (f_c the
cutoff polynomial of §2.1).  Below r_in a pair is pure ZBL, so a dimer, or an atom pushed into a
neighbour, is repulsive whatever the fitted terms do.
"""

from __future__ import annotations

import math

import sympy as sp

from .ir import R

#: LAMMPS metal units: e^2 / (4 pi eps0) in eV Angstrom (force->qqr2e * qelectron^2)
QQR2E = 14.399645
PZBL = 0.23
A0 = 0.46850
C = (0.02817, 0.28022, 0.50986, 0.18175)
D = (0.20162, 0.40290, 0.94229, 3.19980)


def _screened(zi: float, zj: float):
    """(zze, [d_k / a]): V_zbl(r) = zze / r * sum_k c_k exp(-d_k r / a)."""
    ainv = (zi**PZBL + zj**PZBL) / A0
    return zi * zj * QQR2E, [d * ainv for d in D]


def _derivatives(zi: float, zj: float, r: float) -> tuple[float, float, float]:
    """V_zbl(r), V_zbl'(r), V_zbl''(r) in floating point (for the switching constants)."""
    zze, da = _screened(zi, zj)
    e = [math.exp(-d * r) for d in da]
    s = sum(c * x for c, x in zip(C, e))
    sp_ = sum(c * x * d for c, x, d in zip(C, e, da))
    spp = sum(c * x * d * d for c, x, d in zip(C, e, da))
    rinv = 1.0 / r
    return zze * s * rinv, zze * (-sp_ - s * rinv) * rinv, zze * (spp + 2.0 * sp_ * rinv + 2.0 * s * rinv * rinv) * rinv


def pair_energy(zi: int, zj: int, r_in: float, r_out: float) -> sp.Expr:
    """V(r) of a pair of atomic numbers zi, zj (valid for r < r_out; zero beyond)."""
    zze, da = _screened(float(zi), float(zj))
    tc = r_out - r_in
    fc, fcp, fcpp = _derivatives(float(zi), float(zj), r_out)
    swa = (-3.0 * fcp + tc * fcpp) / (tc * tc)
    swb = (2.0 * fcp - tc * fcpp) / (tc * tc * tc)
    swc = -fc + (tc / 2.0) * fcp - (tc * tc / 12.0) * fcpp
    screened = sp.Float(zze) / R * sp.Add(*[sp.Float(c) * sp.exp(-sp.Float(d) * R) for c, d in zip(C, da)])
    t = R - sp.Float(r_in)
    return sp.Piecewise((screened + sp.Float(swc), R < sp.Float(r_in)),
                        (screened + sp.Float(swc) + t**3 * (sp.Float(swa / 3.0) + sp.Float(swb / 4.0) * t),
                         R < sp.Float(r_out)),
                        (0, True))


def switch_on(r_in: float, r_out: float) -> sp.Expr:
    """1 - s(r): 0 below r_in, 1 beyond r_out, smooth (three continuous derivatives) between."""
    x = (R - sp.Float(r_in)) / sp.Float(r_out - r_in)
    fc = 1 - 35 * x**4 + 84 * x**5 - 70 * x**6 + 20 * x**7
    return sp.Piecewise((0, R < sp.Float(r_in)), (1 - fc, R < sp.Float(r_out)), (1, True))


def default_radii(elements) -> tuple[float, float]:
    """Radii from the elements' covalent radii (Cordero et al. 2008, via ASE) when neither the
    text nor the data give them: r_out = 0.7 d, r_in = 0.45 d with d the smallest sum of two
    covalent radii (about 0.8 and 0.5 of a nearest-neighbour distance in a metal). [choice]"""
    from ase.data import atomic_numbers, covalent_radii

    radii = [float(covalent_radii[atomic_numbers[e]]) for e in elements]
    d = 2 * min(radii)
    return round(0.45 * d, 4), round(0.7 * d, 4)


def radii_from_distance(d_min: float) -> tuple[float, float]:
    """Radii from the shortest interatomic distance d_min of the training data: the repulsion
    is switched off, and the fitted terms fully on, just below it: r_out = 0.95 d_min,
    r_in = 0.6 d_min. [choice]"""
    return round(0.6 * d_min, 4), round(0.95 * d_min, 4)
