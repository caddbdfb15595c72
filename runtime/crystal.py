"""Crystal builders and strain helpers for ``compot validate`` (docs/validation.md §1).

Lattices: ``bcc``, ``fcc``, ``diamond`` (cubic, lattice constant ``a`` of the conventional cube)
and ``hcp`` (``a`` and ``c``; ideal c/a = sqrt(8/3)).  Everything is built with ASE's
``ase.build.bulk`` so that cells and bases are the textbook ones:

- primitive cells (1 atom bcc/fcc, 2 diamond/hcp) for energies and E-V curves;
- the conventional cell (2, 4, 8 atoms; hcp: the 2-atom cell with c along z) for elastic constants,
  with the cube axes along x, y, z so that C11, C12, C44 are the cubic constants in Voigt
  notation (1 = xx, 2 = yy, 3 = zz, 4 = yz, 5 = xz, 6 = xy; engineering shear strains).

Strain.  A deformation gradient F maps the reference cell (rows a_i) to the strained one,
a_i' = F a_i, i.e. ``cell' = cell @ F.T``.  The strain fitted against is the small strain
eps = sym(F) - I in Voigt form (eps11, eps22, eps33, 2 eps23, 2 eps13, 2 eps12).  A cell is
"within 2 %" if either eps or the Green-Lagrange strain E = (F^T F - I)/2 has no tensor component
above 0.02: strain-scan generators use either measure for their nominal strains (a nominal
+2 % Green-Lagrange cell has eps = 0.0198, a nominal +2 % small-strain cell has E = 0.0202), so
the bound keeps a scan's nominal ±2 % cells on both sides and the fit stays symmetric.
"""

from __future__ import annotations

import numpy as np

LATTICES = ("bcc", "fcc", "hcp", "diamond")
CUBIC = ("bcc", "fcc", "diamond")
#: atoms per conventional cubic cell
ATOMS_PER_CUBE = {"bcc": 2, "fcc": 4, "diamond": 8}
#: nearest-neighbour distance / a
NN_OVER_A = {"bcc": np.sqrt(3) / 2, "fcc": 1 / np.sqrt(2), "diamond": np.sqrt(3) / 4, "hcp": 1.0}
#: nearest-neighbour coordination
COORDINATION = {"bcc": 8, "fcc": 12, "diamond": 4, "hcp": 12}
EV_A3_TO_GPA = 160.21766208
#: flat indices of the Voigt components xx yy zz yz xz xy in a row-major 3x3 tensor
VOIGT = [0, 4, 8, 5, 2, 1]
EV_A2_TO_J_M2 = 16.021766208
IDEAL_COA = float(np.sqrt(8.0 / 3.0))


def primitive(symbol: str, lattice: str, a: float, covera: float | None = None):
    from ase.build import bulk

    if lattice == "hcp":
        return bulk(symbol, "hcp", a=a, c=a * (covera or IDEAL_COA))
    return bulk(symbol, lattice, a=a)


def conventional(symbol: str, lattice: str, a: float, covera: float | None = None):
    from ase.build import bulk

    if lattice == "hcp":
        return bulk(symbol, "hcp", a=a, c=a * (covera or IDEAL_COA), orthorhombic=True)
    return bulk(symbol, lattice, a=a, cubic=True)


def a_from_nn(lattice: str, d: float) -> float:
    return d / NN_OVER_A[lattice]


def voigt_from_F(F) -> np.ndarray:
    """Green-Lagrange strain of deformation gradient F, Voigt with engineering shears."""
    E = 0.5 * (F.T @ F - np.eye(3))
    return np.array([E[0, 0], E[1, 1], E[2, 2], 2 * E[1, 2], 2 * E[0, 2], 2 * E[0, 1]])


def small_strain_from_F(F) -> np.ndarray:
    """Small (engineering) strain sym(F) - I in Voigt form."""
    E = 0.5 * (F + F.T) - np.eye(3)
    return np.array([E[0, 0], E[1, 1], E[2, 2], 2 * E[1, 2], 2 * E[0, 2], 2 * E[0, 1]])


def max_tensor_strain(e) -> float:
    e = np.abs(np.asarray(e, float))
    return float(max(e[:3].max(), e[3:].max() / 2))


def F_from_cells(ref_cell, cell) -> np.ndarray:
    """Deformation gradient with cell = ref_cell @ F.T (rows are cell vectors)."""
    return np.linalg.solve(np.asarray(ref_cell, float), np.asarray(cell, float)).T


def F_from_voigt(e) -> np.ndarray:
    """A symmetric deformation gradient whose small strain is the Voigt vector e (engineering
    shears); its Green-Lagrange strain (used in the fit) is e to first order."""
    e = np.asarray(e, float)
    eps = np.array([[e[0], e[5] / 2, e[4] / 2], [e[5] / 2, e[1], e[3] / 2], [e[4] / 2, e[3] / 2, e[2]]])
    return np.eye(3) + eps


def strain_atoms(atoms, F):
    out = atoms.copy()
    out.set_cell(np.asarray(atoms.cell) @ F.T, scale_atoms=True)
    return out


def fit_cubic_elastic(strains, stresses) -> dict:
    """Least-squares fit of sigma_i = sigma0_i + sum_j C_ij e_j with cubic symmetry (three
    constants C11, C12, C44 and six residual stresses sigma0).  ``strains``: (n, 6) Voigt
    (engineering shears); ``stresses``: (n, 6) ASE Voigt (xx yy zz yz xz xy), positive = tensile,
    any unit (C comes out in the same unit)."""
    e = np.asarray(strains, float)
    s = np.asarray(stresses, float)
    rows, rhs = [], []
    for k in range(len(e)):
        for i in range(6):
            row = np.zeros(9)
            if i < 3:
                row[0] = e[k, i]
                row[1] = sum(e[k, j] for j in range(3) if j != i)
            else:
                row[2] = e[k, i]
            row[3 + i] = 1.0
            rows.append(row)
            rhs.append(s[k, i])
    A = np.array(rows)
    sol, *_ = np.linalg.lstsq(A, np.array(rhs), rcond=None)
    rank = np.linalg.matrix_rank(A)
    resid = np.array(rhs) - A @ sol
    # which constants the strains determine: a constant is determined if its column is not zero
    det = {name: bool(np.abs(A[:, c]).max() > 1e-8) for c, name in enumerate(("C11", "C12", "C44"))}
    return {"C11": sol[0], "C12": sol[1], "C44": sol[2], "sigma0": sol[3:], "rank": int(rank),
            "rms_residual": float(np.sqrt(np.mean(resid ** 2))), "determined": det, "n": len(e)}


def fit_general_elastic(strains, stresses) -> np.ndarray:
    """Full 6x6 C from sigma = sigma0 + C e (least squares; needs strains spanning all six)."""
    e = np.asarray(strains, float)
    A = np.hstack([np.ones((len(e), 1)), e])
    sol, *_ = np.linalg.lstsq(A, np.asarray(stresses, float), rcond=None)
    return sol[1:].T


def surface_fingerprint_table(lattice: str) -> dict:
    """Sorted |cos| between a surface normal and the nearest-neighbour bonds of the bulk, for the
    (100), (110), (111) planes of a cubic lattice; used to identify a slab's orientation."""
    if lattice == "fcc":
        bonds = [np.array(v, float) for v in
                 [(1, 1, 0), (1, -1, 0), (1, 0, 1), (1, 0, -1), (0, 1, 1), (0, 1, -1)]]
    else:   # bcc and diamond: bonds along <111> (diamond: four of them, same |cos| multiset shape)
        bonds = [np.array(v, float) for v in [(1, 1, 1), (1, 1, -1), (1, -1, 1), (-1, 1, 1)]]
    bonds = [b / np.linalg.norm(b) for b in bonds]
    out = {}
    for name, n in (("100", (1, 0, 0)), ("110", (1, 1, 0)), ("111", (1, 1, 1))):
        n = np.array(n, float) / np.linalg.norm(n)
        out[name] = np.sort([abs(b @ n) for b in bonds])
    return out
