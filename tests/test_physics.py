"""Physically sane by construction (docs/theory.md §3.3, §4.6): the accurate preset, fitted on a
small real Nb set, has a repulsive core (dimer rising monotonically below its minimum, >= 100 eV
at 1 A), compressed bcc/fcc cells whose energy rises monotonically down to 70 % of the
equilibrium volume, and an isolated atom at E0 with a plausible cohesive energy."""

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from compot.runtime.reference import isolated_atom
from compot.runtime.training.fit import fit

from .conftest import data_file


@pytest.fixture(scope="module")
def accurate_nb(compiled):
    from ase.io import read

    frames = read(data_file("nb", "train"), ":")
    picked = frames[:12] + frames[200:210] + frames[-6:]
    return fit(compiled("accurate", elements=["Nb"]), picked, seed=0, bo_init_points=2, bo_iterations=2,
               progress=False, uncertainty=False)


def test_dimer_is_repulsive(accurate_nb):
    m = accurate_nb
    e_atom = m.evaluate(isolated_atom("Nb"))["energy"]
    r = np.linspace(0.5, 5.0, 181)
    e = np.array([m.evaluate(Atoms("Nb2", positions=[[0, 0, 0], [x, 0, 0]]))["energy"] for x in r]) - 2 * e_atom
    k = int(np.argmin(e))
    assert (np.diff(e[: k + 1]) <= 1e-9).all()        # monotonic rise below the minimum
    assert np.interp(1.0, r, e) >= 100.0
    assert abs(e[-1]) < 1e-9                          # nothing left at the cutoff


@pytest.mark.parametrize("lattice, a0", [("bcc", 3.31), ("fcc", 4.2)])
def test_compressed_cells_rise(accurate_nb, lattice, a0):
    m = accurate_nb
    cell = bulk("Nb", lattice, a=a0, cubic=True)
    scales = np.linspace(0.7, 1.1, 41) ** (1 / 3)
    e = []
    for s in scales:
        c = cell.copy()
        c.set_cell(cell.cell[:] * s, scale_atoms=True)
        e.append(m.evaluate(c)["energy"] / len(c))
    e = np.array(e)
    k = int(np.argmin(e))
    assert k > 0 and (np.diff(e[: k + 1]) < 0).all()


def test_isolated_atom_and_cohesive_energy(accurate_nb):
    m = accurate_nb
    ref = m.metadata["isolated_atom_energies"]["Nb"]["e0"]
    e_atom = m.evaluate(isolated_atom("Nb"))["energy"]
    assert e_atom == pytest.approx(ref, abs=1e-8)
    c = bulk("Nb", "bcc", a=3.31, cubic=True)
    e_coh = e_atom - m.evaluate(c)["energy"] / len(c)
    assert 2.0 < e_coh < 10.0
