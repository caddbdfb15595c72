import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.neighborlist import neighbor_list as ase_nl

from compot import DataError
from compot.runtime.neighbors import neighbor_list


def _pairs(i, j, D):
    return sorted((int(a), int(b), *np.round(d, 8)) for a, b, d in zip(i, j, D))


@pytest.mark.parametrize("make", [
    lambda: bulk("Nb", "bcc", a=3.3),                            # 1 atom, cell << cutoff
    lambda: bulk("Nb", "bcc", a=3.3, cubic=True) * (2, 1, 1),
    lambda: Atoms("Nb3", positions=[[0, 0, 0], [1.6, 1.5, 0.2], [0.3, 1.7, 1.8]],
                  cell=[[3.4, 0.2, 0.0], [0.3, 3.1, 0.1], [0.5, 0.4, 3.6]], pbc=True),
    lambda: Atoms("Nb4", positions=[[0, 0, 0], [2.5, 0, 0], [0, 2.6, 0], [1, 1, 2.2]], pbc=False),
    lambda: Atoms("Nb3", positions=[[0, 0, 0], [2.5, 0, 0], [0, 2.6, 1]], cell=[5.0, 0, 0],
                  pbc=[True, False, False]),
])
def test_matches_ase(make):
    atoms = make()
    atoms.rattle(0.05, seed=1)
    nl = neighbor_list(atoms, 5.0)
    i, j, D = ase_nl("ijD", atoms, 5.0)
    assert _pairs(nl.i, nl.j, nl.d.reshape(-1, 3)) == _pairs(i, j, D)


def test_bad_structures():
    a = bulk("Nb", "bcc", a=3.3, cubic=True)
    b = a.copy()
    b.positions[1] = [np.nan, 0, 0]
    with pytest.raises(DataError, match="atom 1 has a non-finite position"):
        neighbor_list(b, 5.0)
    b = a.copy()
    b.positions[1] = b.positions[0]
    with pytest.raises(DataError, match="overlap"):
        neighbor_list(b, 5.0)
    b = a.copy()
    b.cell[2] = [0, 0, 0]
    with pytest.raises(DataError, match="linearly dependent"):
        neighbor_list(b, 5.0)
    tiny = Atoms("Nb", cell=[0.3, 0.3, 0.3], pbc=True)
    with pytest.raises(DataError, match="too large for this cell"):
        neighbor_list(tiny, 10.0)
