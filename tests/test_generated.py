"""The golden outputs in generated/ (reference Cython kernels, a LAMMPS pair style and a
standalone C source) are exactly what the compiler produces now.

Regenerate them after an intended change with ``pytest tests/test_generated.py --update-golden``
and review the diff."""

import hashlib
import os
import subprocess
import sys

import pytest

from compot.compiler.references import golden_sources

from .conftest import ROOT

GENERATED = ROOT / "generated"


@pytest.fixture(scope="module")
def golden():
    return golden_sources()


def test_golden_files_regenerate_identically(golden, request):
    update = request.config.getoption("--update-golden")
    stale = []
    for rel, text in sorted(golden.items()):
        path = GENERATED / rel
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            stale.append(rel)
            if update:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(path.name + ".tmp")
                tmp.write_text(text, encoding="utf-8")
                tmp.replace(path)
    if update:
        pytest.skip(f"updated {len(stale)} golden file(s): {' '.join(stale) or '-'}")
    assert not stale, f"out of date: {stale}; run pytest tests/test_generated.py --update-golden"


def test_no_stray_golden_files(golden):
    on_disk = {str(p.relative_to(GENERATED)) for p in GENERATED.rglob("*") if p.is_file()}
    assert on_disk == set(golden), f"files in generated/ that nothing regenerates: {on_disk - set(golden)}"


def test_golden_covers_every_backend(golden):
    assert any(k.endswith(".pyx") for k in golden)
    assert any(k.startswith("lammps/") and k.endswith(".cpp") for k in golden)
    assert any(k.startswith("standalone/") and k.endswith(".h") for k in golden)
    # the LAMMPS pair style and the Cython kernel contain the same passes
    cpp = golden["lammps/pair_compot_paper.cpp"]
    assert "compot_energy_forces_nt(" in cpp and "compot_energy_forces_nt(" in golden["E_G8L4_+N_E_G8L4.pyx"]
    # ... and the same per-atom gradient / grade pass (docs/theory.md §8.3)
    assert "compot_energy_forces_grade_nt(" in cpp and "compot_energy_forces_grade_nt(" in golden["E_G8L4_+N_E_G8L4.pyx"]


def test_regeneration_independent_of_hash_seed(golden):
    """Byte-identical output in a fresh interpreter with another hash seed."""
    code = ("import hashlib; from compot.compiler.references import golden_sources\n"
            "g = golden_sources(); h = hashlib.sha256()\n"
            "[h.update(k.encode() + g[k].encode()) for k in sorted(g)]\nprint(h.hexdigest())")
    env = dict(os.environ, PYTHONHASHSEED="4242")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    h = hashlib.sha256()
    for k in sorted(golden):
        h.update(k.encode() + golden[k].encode())
    assert proc.stdout.strip() == h.hexdigest()
