"""Timings quoted in the README: derivation, cold/warm compile, E+F, Jacobian and FIM.

    python benchmarks/timing.py [--model "E[G8L4] + N[E[G8L4]]"] [--json out.json]

Cold compile uses a fresh temporary cache; warm compile is a new Python process hitting it.
E+F is best of 5 on a rattled 2,000-atom bcc Nb cell (neighbour list excluded and timed apart).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def best(f, n=5):
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return min(ts)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="E[G8L4] + N[E[G8L4]]")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    os.environ["COMPOT_CACHE"] = tempfile.mkdtemp(prefix="compot-timing-")
    from ase.build import bulk

    import compot
    from compot.compiler.codegen import pyx_source
    from compot.compiler.lower import lower
    from compot.grammar import parse

    out = {"model": args.model}
    t = time.perf_counter()
    pyx_source(lower(parse(args.model)))
    out["derive_codegen_s"] = time.perf_counter() - t
    t = time.perf_counter()
    model = compot.compile(args.model, cutoff=5.0)
    out["cold_compile_s"] = time.perf_counter() - t
    code = f"import time; t=time.perf_counter(); import compot; m=compot.compile({args.model!r}, cutoff=5.0); " \
           "print(time.perf_counter()-t, m.cache_hit)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ)
    warm, hit = r.stdout.split()
    out["warm_compile_new_process_s"] = float(warm)
    assert hit == "True"
    atoms = bulk("Nb", "bcc", a=3.3, cubic=True) * (10, 10, 10)
    atoms.rattle(0.05, seed=0)
    p = model.initial_parameters(0)
    nl = model.neighbor_list(atoms)
    out["n_atoms"] = len(atoms)
    out["ef_s"] = best(lambda: model.evaluate(atoms, p, nl=nl))
    out["ef_us_per_atom"] = out["ef_s"] / len(atoms) * 1e6
    out["neighbour_list_s"] = best(lambda: model.neighbor_list(atoms))
    train = DATA / "nb" / "train.xyz"
    if train.exists():
        from compot.runtime.data import read_dataset
        from compot.runtime.fim import fim
        from compot.runtime.train import FitOptions, Problem

        ds = read_dataset(train)
        prob = Problem(model, ds, FitOptions())
        pv = model.parameter_vector(p)
        out["jacobian_nb_train_s"] = best(lambda: prob.jacobian(pv), 3)
        out["jacobian_shape"] = [prob.nrows, prob.P]
        t = time.perf_counter()
        res = fim(model, ds, p)
        out["fim_256bit_s"] = time.perf_counter() - t
        out["fim_n_parameters"] = len(res.eigenvalues)
    for k, v in out.items():
        print(f"{k:28s} {v:.4g}" if isinstance(v, float) else f"{k:28s} {v}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
