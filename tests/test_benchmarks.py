"""Smoke run of the benchmark suite (no timing assertions): it runs, agrees with numpy, writes JSON."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_benchmark_suite_quick(tmp_path):
    out = tmp_path / "bench.json"
    p = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--json", str(out)], cwd=ROOT,
                       capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stderr[-3000:]
    res = json.loads(out.read_text())
    assert set(res["ef"]) == {"G8", "E[G8L4]", "N[E[G8L4]]", "G10*E[G8L4]", "E[G8L4] + N[E[G8L4]]"}
    for recs in res["ef"].values():
        assert recs[0]["atoms"] == 2000 and recs[0]["compot_s"] > 0 and "numpy_s" in recs[0]
