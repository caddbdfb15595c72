"""Reading DFT training data (anything ASE reads; extxyz first) into checked structures."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

import numpy as np

from ..errors import DataError


@dataclass
class Structure:
    atoms: object               # ase.Atoms (positions, cell, pbc, numbers)
    energy: float               # total energy, eV
    forces: np.ndarray          # (N, 3), eV/A
    stress: np.ndarray | None = None    # (6,) Voigt, eV/A^3, ASE sign convention
    config_type: str = "default"
    weight: float = 1.0
    source: str = ""

    @property
    def natoms(self) -> int:
        return len(self.atoms)


@dataclass
class Dataset:
    structures: list[Structure]
    path: str = ""
    _hash: str | None = field(default=None, repr=False)

    def __len__(self):
        return len(self.structures)

    def __iter__(self):
        return iter(self.structures)

    def __getitem__(self, k):
        return self.structures[k]

    @property
    def natoms(self) -> int:
        return sum(s.natoms for s in self.structures)

    @property
    def config_types(self) -> list[str]:
        return sorted({s.config_type for s in self.structures})

    def sha256(self) -> str:
        """Hash of everything training sees: species, positions, cells, energies, forces, weights."""
        if self._hash is None:
            h = hashlib.sha256()
            for s in self.structures:
                a = s.atoms
                for arr in (a.numbers, a.positions, a.cell[:], a.pbc, s.forces):
                    h.update(np.ascontiguousarray(arr).tobytes())
                h.update(np.float64(s.energy).tobytes())
                h.update(np.float64(s.weight).tobytes())
                h.update(s.config_type.encode())
            self._hash = h.hexdigest()
        return self._hash


def _frame_values(atoms, where: str):
    calc = atoms.calc
    results = getattr(calc, "results", {}) if calc is not None else {}
    energy = results.get("energy", results.get("free_energy", atoms.info.get("energy")))
    forces = results.get("forces", atoms.arrays.get("forces"))
    stress = results.get("stress", atoms.info.get("stress"))
    if energy is None:
        raise DataError(f"{where}: no energy (expected an 'energy' value per structure)")
    if forces is None:
        raise DataError(f"{where}: no forces (expected a 'forces' column)")
    try:
        energy = float(energy)
        forces = np.array(forces, dtype=float).reshape(len(atoms), 3)
    except (TypeError, ValueError):
        raise DataError(f"{where}: energy or forces are malformed") from None
    if stress is not None:
        stress = np.array(stress, dtype=float).reshape(-1)
        if stress.size == 9:
            from .crystal import VOIGT

            stress = stress[VOIGT]
        elif stress.size != 6:
            raise DataError(f"{where}: stress has {stress.size} components (expected 6 or 9)")
    return energy, forces, stress


def structure_from_atoms(atoms, where: str = "structure", weight_key: str = "weight") -> Structure:
    """Check one ``ase.Atoms`` with reference energy and forces and wrap it."""
    from .neighbors import check_structure

    if len(atoms) == 0:
        raise DataError(f"{where}: no atoms")
    energy, forces, stress = _frame_values(atoms, where)
    if not np.isfinite(energy):
        raise DataError(f"{where}: energy is not finite")
    if not np.all(np.isfinite(forces)):
        raise DataError(f"{where}: forces contain non-finite values")
    if stress is not None and not np.all(np.isfinite(stress)):
        raise DataError(f"{where}: stress contains non-finite values")
    atoms.info.setdefault("source", where)
    try:
        check_structure(atoms)
    except DataError as exc:
        raise DataError(f"{where}: {exc}") from None
    weight = atoms.info.get(weight_key, 1.0)
    try:
        weight = float(weight)
    except (TypeError, ValueError):
        raise DataError(f"{where}: weight {weight!r} is not a number") from None
    if not (np.isfinite(weight) and weight >= 0):
        raise DataError(f"{where}: weight {weight} must be finite and non-negative")
    bare = atoms.copy()
    bare.calc = None
    return Structure(bare, energy, forces, stress, str(atoms.info.get("config_type", "default")),
                     weight, where)


def read_structures(path, index=":") -> list:
    """Structures (ase.Atoms, labels not required) from any file ASE reads, including LAMMPS
    dumps; one-line :class:`~compot.errors.DataError` for a missing, empty or unreadable file."""
    import ase.io

    path = os.fspath(path)
    if not os.path.exists(path):
        raise DataError(f"{path}: no such file")
    if os.path.isdir(path):
        raise DataError(f"{path}: is a directory, not a data file")
    if os.path.getsize(path) == 0:
        raise DataError(f"{path}: the file is empty")
    try:
        frames = ase.io.read(path, index)
    except Exception as exc:  # ASE raises many kinds for malformed files
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path}: cannot read as a structure file ({msg})") from None
    if not isinstance(frames, list):
        frames = [frames]
    if not frames:
        raise DataError(f"{path}: contains no structures")
    return frames


def read_dataset(path, index=":", weight_key: str = "weight") -> Dataset:
    """Read a data file (any format ASE reads) into a :class:`Dataset`.

    Every structure needs a total energy and forces; stress, ``config_type`` and a per-structure
    ``weight`` (info key) are optional.  Problems raise :class:`~compot.errors.DataError` naming
    the file and frame."""
    path = os.fspath(path)
    frames = read_structures(path, index)
    structures = [structure_from_atoms(a, f"{path}, frame {k}", weight_key) for k, a in enumerate(frames)]
    return Dataset(structures, path)


def as_dataset(data) -> Dataset:
    """Accept a Dataset, a path, or a list of ase.Atoms with reference energies and forces."""
    if isinstance(data, Dataset):
        return data
    if isinstance(data, (str, os.PathLike)):
        return read_dataset(data)
    if hasattr(data, "positions"):
        data = [data]
    structures = []
    for k, a in enumerate(data):
        if isinstance(a, Structure):
            structures.append(a)
        else:
            structures.append(structure_from_atoms(a, a.info.get("source", f"structure {k}")))
    if not structures:
        raise DataError("the data set is empty")
    return Dataset(structures)
