"""compot's kernels against an independent numpy implementation (benchmarks/numpy_ref.py)."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.numpy_ref import Pairs, energy_forces  # noqa: E402
from compot.compiler.references import REFERENCE_MODELS  # noqa: E402

from .conftest import rich_parameters  # noqa: E402


@pytest.mark.parametrize("text", [t for t in REFERENCE_MODELS if t not in ("C8", "G8*G8") and "T[" not in t])
def test_numpy_reference_agrees(text, compiled, nb_test_frames):
    model = compiled(text)
    p = dict(zip(model.parameter_names, rich_parameters(model, seed=5)))
    for atoms in nb_test_frames[:3]:
        nl = model.neighbor_list(atoms)
        pairs = Pairs(nl.n, nl.i, nl.j, nl.d.reshape(-1, 3), model.cutoff)
        E, F = energy_forces(text, p, pairs)
        r = model.evaluate(atoms, p)
        assert np.abs(E - r["energies"]).max() <= 1e-10 * max(1.0, np.abs(r["energies"]).max())
        assert np.abs(F - r["forces"]).max() <= 1e-10 * np.abs(r["forces"]).max()
