"""The ASE calculator: ASE's contract, finite differences through ASE, optimisers."""

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.fd import calculate_numerical_forces, calculate_numerical_stress

import compot


@pytest.fixture(scope="module")
def trained(compiled):
    model = compiled("E[G8L4] + N[E[G8L4]]")
    return model.with_parameters(model.initial_parameters(0))


def test_properties_and_finite_differences(trained):
    atoms = bulk("Nb", "bcc", a=3.3, cubic=True) * (2, 2, 2)
    atoms.rattle(0.1, seed=4)
    atoms.calc = compot.Calculator(trained)
    assert set(compot.Calculator.implemented_properties) >= {"energy", "energies", "forces", "stress",
                                                             "free_energy"}
    e = atoms.get_potential_energy()
    assert e == pytest.approx(atoms.get_potential_energies().sum(), rel=1e-14)
    assert atoms.get_potential_energy(force_consistent=True) == e
    f = atoms.get_forces()
    assert np.abs(f - calculate_numerical_forces(atoms, eps=1e-5)).max() < 1e-6 * np.abs(f).max()
    s = atoms.get_stress()
    assert np.abs(s - calculate_numerical_stress(atoms, eps=1e-6)).max() < 1e-6 * np.abs(s).max()


def test_from_model_file_and_relaxation(trained, tmp_path):
    from ase.optimize import BFGS

    path = tmp_path / "m.json"
    trained.save(path)
    atoms = bulk("Nb", "bcc", a=3.3, cubic=True) * (2, 2, 2)
    atoms.rattle(0.05, seed=1)
    atoms.calc = compot.Calculator(str(path))
    e0 = atoms.get_potential_energy()
    BFGS(atoms, logfile=None).run(fmax=1e-3, steps=200)
    assert atoms.get_potential_energy() < e0
    assert np.abs(atoms.get_forces()).max() < 1e-3


def test_unknown_species_is_a_clear_error(tmp_path):
    model = compot.compile("G3", cutoff=5.0, elements=["Nb"])
    atoms = bulk("Mo", "bcc", a=3.15)
    atoms.calc = compot.Calculator(model.with_parameters(model.initial_parameters(0)))
    with pytest.raises(compot.DataError, match="Mo"):
        atoms.get_potential_energy()


def test_skin_list_is_bit_identical_to_a_fresh_list(trained):
    """The Verlet list with a skin: the same energies, forces and stress, bit for bit, as a fresh
    neighbour list, over a random walk that crosses the rebuild threshold, a cell change and a
    species change; rebuilds happen only when needed."""
    atoms = bulk("Nb", "bcc", a=3.3, cubic=True) * (4, 4, 4)       # 13.2 A > 2 (r_c + skin)
    atoms.rattle(0.05, seed=1)
    calc = compot.Calculator(trained, skin=0.5)
    atoms.calc = calc
    rng = np.random.default_rng(0)
    for step in range(24):
        if step == 16:
            atoms.set_cell(atoms.cell[:] * 1.01, scale_atoms=True)
        atoms.positions += rng.normal(scale=0.02, size=atoms.positions.shape)
        e, f, s = atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress()
        ref = trained.evaluate(atoms)
        assert e == ref["energy"]
        assert np.array_equal(f, ref["forces"]) and np.array_equal(s, ref["stress"])
    assert calc.neighbors.calls == 24
    assert 2 <= calc.neighbors.builds < 12         # the first, the cell change, a few by distance


def test_skin_list_narrow_cells_and_bad_skin(trained):
    atoms = bulk("Nb", "bcc", a=3.3, cubic=True) * (2, 2, 2)       # narrower than 2 (r_c + skin)
    atoms.rattle(0.05, seed=2)
    calc = compot.Calculator(trained, skin=0.5)
    atoms.calc = calc
    for _ in range(3):
        atoms.positions[0] += 0.01
        assert atoms.get_potential_energy() == trained.evaluate(atoms)["energy"]
    assert calc.neighbors.builds == calc.neighbors.calls == 3     # a fresh list every call
    with pytest.raises(compot.CompotError, match="skin"):
        compot.Calculator(trained, skin=-1.0)
