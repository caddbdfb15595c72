"""Shared fixtures: one kernel cache per test session, compiled models shared across tests."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"     # real DFT sets (xz), see tests/data/README.md


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
    """A committed real-data file (nb, mo, si; train or test)."""
    path = DATA / element / f"{split}.xyz.xz"
    assert path.exists(), f"test data {path} is missing from the repository"
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


# ----------------------------------------------------------------------------- strict skips
# CI (COMPOT_STRICT_SKIPS=1, set by .ci/run) fails the run when a test is skipped for a reason that
# is not on the short written allow-list .ci/allowed-skips (one reason substring per line).
_SKIPPED: list[tuple[str, str]] = []


def pytest_runtest_logreport(report):
    if report.skipped:
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _SKIPPED.append((report.nodeid, reason))


def pytest_sessionfinish(session, exitstatus):
    if not os.environ.get("COMPOT_STRICT_SKIPS") or not _SKIPPED:
        return
    allow_file = ROOT / ".ci" / "allowed-skips"
    allowed = [ln.strip() for ln in allow_file.read_text().splitlines()
               if ln.strip() and not ln.startswith("#")] if allow_file.exists() else []
    bad = [(n, r) for n, r in _SKIPPED if not any(a in r for a in allowed)]
    if bad:
        import sys

        print(f"\nCI: {len(bad)} test(s) skipped for reasons not on .ci/allowed-skips:", file=sys.stderr)
        for n, r in bad:
            print(f"  {n}: {r}", file=sys.stderr)
        session.exitstatus = 1
