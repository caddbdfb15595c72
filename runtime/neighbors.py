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


def _vesin(pos, cell, pbc, cutoff, quantities):
    """vesin's full list, in a canonical order: by i, then j (stable: periodic images of one pair
    keep vesin's order, which only small cells have), so that a list filtered from a longer one
    (SkinList) has the same order as a fresh one."""
    from vesin import NeighborList as VesinNL

    nl = VesinNL(cutoff=float(cutoff), full_list=True, sorted=False)
    out = nl.compute(pos, cell, pbc if pbc.any() else False, quantities)
    i, j = out[0], out[1]
    if len(i):
        order = np.argsort(i.astype(np.int64) * len(pos) + j, kind="stable")
        out = [x[order] for x in out]
    return out


def _box(atoms, cutoff):
    """Positions and a cell vesin accepts (a box enclosing the atoms in non-periodic directions)."""
    pos = np.ascontiguousarray(atoms.positions, dtype=float)
    pbc = np.asarray(atoms.pbc, dtype=bool)
    cell = np.array(atoms.cell[:], dtype=float)
    if not pbc.all():
        for ax in np.flatnonzero(~pbc):
            if np.linalg.norm(cell[ax]) < 1e-8:
                e = np.zeros(3)
                e[ax] = 1.0
                cell[ax] = e * (np.ptp(pos[:, ax]) + 2 * cutoff + 1.0)
        if np.linalg.matrix_rank(cell, tol=1e-8) < 3:
            cell = np.diag([np.ptp(pos[:, k]) + 2 * cutoff + 1.0 for k in range(3)])
    return pos, cell, pbc


def _checked_box(atoms, cutoff):
    """check_structure, then _box: what every list build starts from."""
    check_structure(atoms)
    if len(atoms) == 0:
        raise DataError("the structure has no atoms")
    return _box(atoms, cutoff)


def _species(n: int, species) -> np.ndarray:
    return np.zeros(n, dtype=np.int32) if species is None else np.ascontiguousarray(species, dtype=np.int32)


def _overlap(atoms, i: int, j: int, r: float) -> DataError:
    return DataError(f"atoms {i} and {j} overlap (distance {r:.3g} A){_where(atoms)}")


def neighbor_list(atoms, cutoff: float, species=None) -> NeighborList:
    """Full neighbour list of ``atoms`` within ``cutoff`` (all periodic images), sorted by i, j."""
    n = len(atoms)
    pos, cell, pbc = _checked_box(atoms, cutoff)
    if pbc.all():
        vol = abs(np.linalg.det(cell))
        expected = 4.0 / 3.0 * math.pi * cutoff**3 * n / vol
        if expected > MAX_NEIGHBOURS_PER_ATOM:
            raise DataError(
                f"cutoff {cutoff} Angstrom is too large for this cell (volume {vol:.3g} A^3, "
                f"{n} atoms): about {expected:.0f} neighbours per atom{_where(atoms)}")
    i, j, S, D = _vesin(pos, cell, pbc, cutoff, "ijSD")
    r = np.sqrt(np.einsum("ij,ij->i", D, D)) if len(D) else np.zeros(0)
    if len(r) and r.min() < MIN_DISTANCE:
        k = int(np.argmin(r))
        raise _overlap(atoms, int(i[k]), int(j[k]), r[k])
    return NeighborList(n, np.ascontiguousarray(i, dtype=np.int32),
                        np.ascontiguousarray(j, dtype=np.int32),
                        np.ascontiguousarray(D, dtype=float).reshape(-1), _species(n, species))


class SkinList:
    """A Verlet neighbour list with a skin, for molecular dynamics (``compot.Calculator``).

    The pairs within ``cutoff + skin`` are found (vesin) and kept, with their periodic shifts.
    Until an atom has moved more than skin/2 from where it was at that build, no pair can have
    come within ``cutoff`` that is not in the kept list (two atoms close in by at most ``skin``),
    so each call only recomputes the separations of the kept pairs and keeps those within the
    cutoff (in C: the kernel's ``skin_filter``).  The list is rebuilt when an atom has moved
    further, or when the cell, the periodicity, the atom count or the species change.

    The result is bit-identical to a fresh :func:`neighbor_list`: the same pairs in the same
    (canonical) order, with separations computed by the same floating-point operations
    (pos_j - pos_i) + S.cell.  Cells narrower than 2 (cutoff + skin) have several images of one
    pair, whose order a build does not fix; there every call builds a fresh list."""

    def __init__(self, cutoff: float, skin: float, kernel):
        if not skin >= 0 or not math.isfinite(skin):
            raise DataError(f"the neighbour skin must be a finite number >= 0, got {skin}")
        self.cutoff = float(cutoff)
        self.skin = float(skin)
        self.kernel = kernel
        self.builds = 0
        self.calls = 0
        self._key = None
        self._ref = None
        self._fresh_only = True

    def _narrow(self, cell, pbc) -> bool:
        if not pbc.any():
            return False
        inv = np.linalg.inv(cell) if np.linalg.matrix_rank(cell, tol=1e-8) == 3 else None
        if inv is None:
            return True
        widths = 1.0 / np.linalg.norm(inv, axis=0)      # distances between opposite faces
        return bool((widths[pbc] < 2 * (self.cutoff + self.skin)).any())

    def get(self, atoms, species) -> NeighborList:
        self.calls += 1
        pos = np.ascontiguousarray(atoms.positions, dtype=float)
        key = (len(atoms), atoms.cell[:].tobytes(), np.asarray(atoms.pbc).tobytes(),
               np.asarray(atoms.numbers).tobytes())
        if key != self._key:
            self._fresh_only = self.skin == 0 or self._narrow(np.asarray(atoms.cell[:], dtype=float),
                                                              np.asarray(atoms.pbc))
        if self._fresh_only:
            self._key = key
            self._ref = None
            self.builds += 1
            return neighbor_list(atoms, self.cutoff, species)
        if (key != self._key or self._ref is None or not np.isfinite(pos).all()
                or np.einsum("ij,ij->i", pos - self._ref, pos - self._ref).max(initial=0.0)
                > (0.5 * self.skin) ** 2):
            self._build(atoms, key)
        n = len(atoms)
        if pos.shape[0] != self._n:
            raise DataError("the atom count changed without a rebuild")
        npairs = len(self._i)          # fresh outputs (no copy): a returned list is the caller's
        oi, oj = np.empty(npairs, dtype=np.int32), np.empty(npairs, dtype=np.int32)
        od = np.empty(3 * npairs, dtype=float)
        m = self.kernel.skin_filter(pos, self._i, self._j, self._shift, self.cutoff, oi, oj, od,
                                    self._rmin2)
        i, j, d = oi[:m], oj[:m], od[: 3 * m]
        if m and self._rmin2[0] < MIN_DISTANCE**2:
            D = d.reshape(-1, 3)
            k = int(np.argmin(np.einsum("ij,ij->i", D, D)))
            raise _overlap(atoms, int(i[k]), int(j[k]), math.sqrt(self._rmin2[0]))
        return NeighborList(n, i, j, d, _species(n, species))

    def _build(self, atoms, key):
        pos, cell, pbc = _checked_box(atoms, self.cutoff + self.skin)
        i, j, S = _vesin(pos, cell, pbc, self.cutoff + self.skin, "ijS")
        self._i = np.ascontiguousarray(i, dtype=np.int32)
        self._j = np.ascontiguousarray(j, dtype=np.int32)
        self._shift = np.ascontiguousarray(S @ cell, dtype=float)
        self._rmin2 = np.empty(1, dtype=float)
        self._n = len(pos)
        if len(i) and (self._i.min() < 0 or self._j.min() < 0 or max(self._i.max(), self._j.max()) >= len(pos)):
            raise DataError("internal error: neighbour indices out of range")
        self._ref = pos.copy()
        self._key = key
        self.builds += 1
