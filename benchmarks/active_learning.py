"""The active-learning loop of docs/active_learning.md, with held-back DFT frames as the "DFT":

    fit on a small start set -> select K from the pool (compot select) -> "label" them (their DFT
    energies and forces are in the file) -> refit on start + picks -> ...

against the same loop with K random picks (same seed for every round's fit).  The test set is the
element's test.xyz.  Writes a JSON record and a plot of test force RMSE per round.

    python -m benchmarks.active_learning --element nb --out docs/active_learning.json --plot docs/active_learning.png
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from benchmarks import data_path

MODEL = "E[G4L2] + N[E[G4L2]]"
FIT = dict(bo_init_points=4, bo_iterations=8, progress=False)


def run(element: str, start: int, k: int, rounds: int, seed: int = 0) -> dict:
    import compot
    from compot.runtime.data import Dataset, read_dataset
    from compot.runtime.training.select import select

    symbol = {"nb": "Nb", "mo": "Mo", "si": "Si"}[element]
    train = read_dataset(data_path(element, "train"))
    test = read_dataset(data_path(element, "test"))
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(train))
    first, pool0 = list(order[:start]), list(order[start:])
    model = compot.compile(MODEL, cutoff=5.0, elements=[symbol])
    out = {"element": element, "model": MODEL, "start": start, "k": k, "rounds": rounds, "curves": {}}
    for strategy in ("d-optimal", "random"):
        picked, pool = list(first), list(pool0)
        pick_rng = np.random.default_rng(seed + 1)
        curve = []
        for r in range(rounds + 1):
            t = time.perf_counter()
            fitted = compot.fit(model, Dataset([train.structures[i] for i in picked], train.path), seed=seed,
                                 test=test, **FIT)
            mt = fitted.metadata["metrics"]["test"]
            curve.append({"round": r, "n_train": len(picked), "force_rmse": mt["force_rmse"],
                          "force_mae": mt["force_mae"], "energy_rmse_meV": 1000 * mt["energy_rmse"],
                          "energy_mae_meV": 1000 * mt["energy_mae"], "fit_s": time.perf_counter() - t})
            print(strategy, curve[-1], flush=True)
            if r == rounds:
                break
            if strategy == "random":
                chosen = [pool[i] for i in pick_rng.choice(len(pool), size=k, replace=False)]
            else:
                res = select(fitted, [train.structures[i].atoms for i in pool], k)
                chosen = [pool[i] for i in res["picked"]]
            picked += chosen
            pool = [i for i in pool if i not in set(chosen)]
        out["curves"][strategy] = curve
    return out


def plot(res: dict, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(9, 3.6))
    for name, curve in res["curves"].items():
        n = [c["n_train"] for c in curve]
        ax[0].plot(n, [c["force_rmse"] for c in curve], "o-", label=name)
        ax[1].plot(n, [c["energy_rmse_meV"] for c in curve], "o-", label=name)
    ax[0].set_ylabel("test force RMSE (eV/Å)")
    ax[1].set_ylabel("test energy RMSE (meV/atom)")
    for a in ax:
        a.set_xlabel("training structures")
        a.legend()
    fig.suptitle(f"active learning on {res['element']}: {res['model']}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--element", default="nb", choices=["nb", "mo", "si"])
    ap.add_argument("--start", type=int, default=20)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", required=True)
    ap.add_argument("--plot", default=None)
    args = ap.parse_args(argv)
    res = run(args.element, args.start, args.k, args.rounds)
    Path(args.out).write_text(json.dumps(res, indent=1))
    if args.plot:
        plot(res, args.plot)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
