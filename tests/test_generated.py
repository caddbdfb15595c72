"""The committed reference kernels in generated/ are exactly what the compiler produces now."""

import os
import subprocess
import sys

import pytest

from compot.compiler.references import REFERENCE_MODELS, reference_source, slug

from .conftest import ROOT

GENERATED = ROOT / "generated"


@pytest.mark.parametrize("text", REFERENCE_MODELS)
def test_reference_kernel_regenerates_identically(text):
    path = GENERATED / f"{slug(text)}.pyx"
    assert path.exists(), f"{path} missing: run python -m compot.compiler --update"
    assert reference_source(text) == path.read_text(encoding="utf-8"), \
        f"{path.name} is out of date: run python -m compot.compiler --update and review the diff"


def test_regeneration_independent_of_hash_seed(tmp_path):
    """Byte-identical output in a fresh interpreter with another hash seed (check mode, exit 0)."""
    env = dict(os.environ, PYTHONHASHSEED="4242")
    proc = subprocess.run([sys.executable, "-m", "compot.compiler", "--check", "--dir", str(GENERATED)],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_update_writes_the_same_files(tmp_path):
    run = [sys.executable, "-m", "compot.compiler", "--dir", str(tmp_path)]
    assert subprocess.run(run + ["--update"], capture_output=True).returncode == 0
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == sorted(f"{slug(t)}.pyx" for t in REFERENCE_MODELS)
    for name in written:
        assert (tmp_path / name).read_bytes() == (GENERATED / name).read_bytes()
    (tmp_path / written[0]).write_text("stale")
    from compot.compiler.references import regenerate
    assert regenerate(tmp_path, check=True) == [written[0]]
