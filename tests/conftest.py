"""Shared fixtures: one kernel cache per test session, compiled models shared across tests."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite the golden files in generated/ (tests/test_generated.py)")


def pytest_configure(config):
    # One cache for the whole session (and the subprocesses it starts) unless the caller set one.
    if "COMPOT_CACHE" not in os.environ:
        import tempfile

        os.environ["COMPOT_CACHE"] = tempfile.mkdtemp(prefix="compot-test-cache-")


@pytest.fixture(scope="session")
def compiled():
    """compiled(text, **kw) -> Model, compiled once per session."""
    import compot

    models = {}

    def get(text, cutoff=5.0, elements=None):
        key = (text, cutoff, tuple(elements) if elements else None)
        if key not in models:
            models[key] = compot.compile(text, cutoff=cutoff, elements=elements)
        return models[key]

    return get


def data_file(element: str, split: str) -> Path:
    path = DATA / element / f"{split}.xyz"
    if not path.exists():
        pytest.skip(f"shared data set {path} not available")
    return path


@pytest.fixture(scope="session")
def nb_test_frames():
    from ase.io import read

    return read(data_file("nb", "test"), ":")


def rich_parameters(model, seed=0):
    """Initial parameters with non-zero shifts, so that every Jacobian column is exercised."""
    v = model.parameter_vector(model.initial_parameters(seed))
    rng = np.random.default_rng(seed + 1)
    for k, name in enumerate(model.parameter_names):
        if name.endswith(".s"):
            v[k] = rng.uniform(0.2, 0.5)
    return v
