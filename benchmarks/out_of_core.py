"""Blockwise J^T J at a million atoms (issue: training past one machine's memory).

    python -m benchmarks.out_of_core [--atoms 250000 500000 1000000] [--workers 2] [--json FILE]

A synthetic data set is made from the real Nb training cells (../shared/data/nb/train.xyz),
each repeated 2x2x2 and rattled by 0.02 Å (seeded), written as extxyz until it holds the requested
number of atoms.  For each size, ``blockwise_gram`` streams the file through a Dask LocalCluster
of ``--workers`` single-threaded processes (blocks of 20,000 atoms) and forms the exact J^T J of
the paper's model trained on Nb (docs/accuracy/nb_paper.model.json).  Reported: wall time (file
streaming, Jacobians, exact Gram products and sums; the cluster start-up is excluded), time per
atom, peak resident memory of the workers (ru_maxrss, the largest over the blocks), and for the
smallest size whether the result equals the in-memory exact_gram of the stacked Jacobian.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
NB_TRAIN = ROOT.parent / "shared" / "data" / "nb" / "train.xyz"
MODEL = ROOT / "docs" / "accuracy" / "nb_paper.model.json"


def synthetic(path: Path, atoms: int, seed: int = 0) -> int:
    """Write replicated, rattled Nb training cells to ``path`` until ``atoms`` atoms; the count."""
    import ase.io

    cells = [a for a in ase.io.read(NB_TRAIN, ":") if a.pbc.all()]
    rng = np.random.default_rng(seed)
    n = 0
    with open(path, "w") as f:
        k = 0
        while n < atoms:
            a = cells[k % len(cells)].repeat((2, 2, 2))
            a.calc = None
            a.positions += rng.normal(scale=0.02, size=a.positions.shape)
            ase.io.write(f, a, format="extxyz")
            n += len(a)
            k += 1
    return n


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--atoms", type=int, nargs="+", default=[250000, 500000, 1000000])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--block-atoms", type=int, default=20000)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)

    import compot
    from compot.runtime.training.blockwise import blockwise_gram, gram_values_equal
    from compot.runtime.training.fim import exact_gram, fim_of_gram

    model = compot.load(MODEL)
    out = {"model": model.text, "workers": args.workers, "block_atoms": args.block_atoms, "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.atoms:
            path = Path(tmp) / f"syn_{n}.xyz"
            t = time.perf_counter()
            natoms = synthetic(path, n)
            t_write = time.perf_counter() - t
            gram, info = blockwise_gram(model, path, block_atoms=args.block_atoms, workers=args.workers)
            f = fim_of_gram(model, gram)
            run = {"atoms": natoms, "file_mib": os.path.getsize(path) / 2**20, "write_s": t_write,
                   "seconds": info["seconds"], "us_per_atom": info["seconds"] / natoms * 1e6,
                   "blocks": info["blocks"], "peak_worker_mib": info["peak_worker_mib"],
                   "log10_kappa": f.log10_kappa}
            if n == min(args.atoms):
                import ase.io

                lin = [k for k, q in enumerate(model.parameter_names) if q in set(model.linear_names)]
                p = model.parameter_vector()
                J = np.vstack([model.jacobian(a, p)[:, lin] for a in ase.io.iread(path, ":")])
                run["equals_in_memory"] = bool(gram_values_equal(gram, exact_gram(J)))
                run["in_memory_jacobian_mib"] = J.nbytes / 2**20
                del J
            out["runs"].append(run)
            print(f"{natoms:>9d} atoms ({run['file_mib']:.0f} MiB extxyz): {info['seconds']:.1f} s "
                  f"({run['us_per_atom']:.1f} us/atom) in {info['blocks']} blocks on {args.workers} workers, "
                  f"peak worker memory {info['peak_worker_mib']:.0f} MiB, log10 kappa {f.log10_kappa:.2f}"
                  + (f", equal to the in-memory J^T J: {run['equals_in_memory']}" if "equals_in_memory" in run else ""),
                  flush=True)
            path.unlink()
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
