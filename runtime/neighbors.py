"""Full neighbour lists with periodic images (vesin), checked for bad input."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import DataError

#: refuse neighbour lists with more neighbours per atom than this (cutoff absurd for the density)
MAX_NEIGHBOURS_PER_ATOM = 5000
#: two atoms closer than this (Angstrom) are an error
MIN_DISTANCE = 1e-6


@dataclass
class NeighborList:
    n: int
    i: np.ndarray   # int32 (npairs,)
    j: np.ndarray   # int32 (npairs,)
    d: np.ndarray   # float64 (npairs*3,) flat: R_j + shift - R_i
    species: np.ndarray | None = None   # int32 (n,): species index of each atom (model's elements)

    @property
    def npairs(self) -> int:
        return len(self.i)


def _where(atoms) -> str:
    src = atoms.info.get("source") if hasattr(atoms, "info") else None
    return f" (structure {src})" if src else ""


def check_structure(atoms) -> None:
    pos = np.asarray(atoms.positions, dtype=float)
    if not np.all(np.isfinite(pos)):
        bad = int(np.argwhere(~np.isfinite(pos))[0][0])
        raise DataError(f"atom {bad} has a non-finite position{_where(atoms)}")
    cell = np.asarray(atoms.cell[:], dtype=float)
    if not np.all(np.isfinite(cell)):
        raise DataError(f"the cell has non-finite entries{_where(atoms)}")
    pbc = np.asarray(atoms.pbc, dtype=bool)
    if pbc.any():
        sub = cell[pbc]
        if np.linalg.matrix_rank(sub, tol=1e-8) < pbc.sum():
            raise DataError(f"periodic cell vectors are zero or linearly dependent{_where(atoms)}")


def neighbor_list(atoms, cutoff: float, species=None) -> NeighborList:
    """Full neighbour list of ``atoms`` within ``cutoff`` (all periodic images)."""
    from vesin import NeighborList as VesinNL

    check_structure(atoms)
    n = len(atoms)
    if n == 0:
        raise DataError("the structure has no atoms")
    pos = np.ascontiguousarray(atoms.positions, dtype=float)
    pbc = np.asarray(atoms.pbc, dtype=bool)
    cell = np.array(atoms.cell[:], dtype=float)
    if pbc.all():
        vol = abs(np.linalg.det(cell))
        expected = 4.0 / 3.0 * math.pi * cutoff**3 * n / vol
        if expected > MAX_NEIGHBOURS_PER_ATOM:
            raise DataError(
                f"cutoff {cutoff} Angstrom is too large for this cell (volume {vol:.3g} A^3, "
                f"{n} atoms): about {expected:.0f} neighbours per atom{_where(atoms)}")
    if not pbc.all():
        # vesin needs a box for the non-periodic directions too: use one that encloses all atoms
        for ax in np.flatnonzero(~pbc):
            if np.linalg.norm(cell[ax]) < 1e-8:
                e = np.zeros(3)
                e[ax] = 1.0
                cell[ax] = e * (np.ptp(pos[:, ax]) + 2 * cutoff + 1.0)
        if np.linalg.matrix_rank(cell, tol=1e-8) < 3:
            cell = np.diag([np.ptp(pos[:, k]) + 2 * cutoff + 1.0 for k in range(3)])
    nl = VesinNL(cutoff=float(cutoff), full_list=True, sorted=True)
    i, j, D = nl.compute(pos, cell, pbc if pbc.any() else False, "ijD")
    r = np.sqrt(np.einsum("ij,ij->i", D, D)) if len(D) else np.zeros(0)
    if len(r) and r.min() < MIN_DISTANCE:
        k = int(np.argmin(r))
        raise DataError(f"atoms {int(i[k])} and {int(j[k])} overlap (distance {r[k]:.3g} A)"
                        f"{_where(atoms)}")
    sp = np.zeros(n, dtype=np.int32) if species is None else np.ascontiguousarray(species, dtype=np.int32)
    return NeighborList(n, np.ascontiguousarray(i, dtype=np.int32),
                        np.ascontiguousarray(j, dtype=np.int32),
                        np.ascontiguousarray(D, dtype=float).reshape(-1), sp)
