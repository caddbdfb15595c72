"""Accuracy against the published potentials: fit a model (or preset) on a shared element's
``train.xyz`` with default options and seed 0, evaluate on ``test.xyz``, and report MAE and RMSE
next to the GAP/MTP/SNAP rows of the data README.

    python -m benchmarks.accuracy --element mo --model accurate --out docs/accuracy/mo_accurate.json
    python -m benchmarks.accuracy --markdown docs/accuracy/*.json

Each record: the model text, parameter counts, fit wall time (2-core machine), test MAE/RMSE of
energies (meV/atom) and force components (eV/A), max |parameter|, and the kernel's E+F time per
atom on a 2,000-atom (Si: 4,096-atom) rattled crystal, one thread, neighbour list excluded.
The trained model file is written next to the JSON.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from benchmarks import data_path

#: Zuo et al., J. Phys. Chem. A 124, 731 (2020), test-set MAE as quoted in ../shared/data/README.md
PUBLISHED = {
    "mo": {"GAP": (0.09, 2.24), "MTP": (0.09, 2.83)},
    "si": {"GAP": (0.07, 2.91), "MTP": (0.06, 2.21)},
}
SYMBOL = {"mo": "Mo", "nb": "Nb", "si": "Si"}


def kernel_time(model, symbol: str) -> float:
    from ase.build import bulk

    if symbol == "Si":
        atoms = bulk("Si", "diamond", a=5.43, cubic=True) * (8, 8, 8)
    else:
        atoms = bulk(symbol, "bcc", a=3.2, cubic=True) * (10, 10, 10)
    atoms.rattle(0.05, seed=1)
    return model.kernel_seconds(atoms, 3) / len(atoms) * 1e6


def run(element: str, text: str, out: Path) -> dict:
    import compot
    from compot.compiler.presets import PRESETS

    symbol = SYMBOL[element]
    model = compot.compile(text, cutoff=5.0, elements=[symbol])
    t = time.perf_counter()
    fitted = compot.fit(model, data_path(element, "train"), seed=0, test=data_path(element, "test"),
                        progress=True)
    fit_s = time.perf_counter() - t
    out.parent.mkdir(parents=True, exist_ok=True)
    fitted.save(out.with_suffix(".model.json"))
    mt = fitted.metadata["metrics"]["test"]
    rec = {"element": element, "model": text, "text": fitted.text, "preset": text if text in PRESETS else None,
           "n_parameters": len(fitted.parameter_names), "n_linear": len(fitted.linear_names),
           "fit_s": fit_s, "kernel_us_per_atom": kernel_time(fitted, symbol),
           "force_mae": mt["force_mae"], "force_rmse": mt["force_rmse"],
           "energy_mae_meV": 1000 * mt["energy_mae"], "energy_rmse_meV": 1000 * mt["energy_rmse"],
           "max_abs_parameter": float(np.abs(fitted.parameter_vector()).max())}
    out.write_text(json.dumps(rec, indent=1))
    print(json.dumps(rec))
    return rec


def _stress(path: Path) -> str:
    """Test stress MAE / RMSE (GPa) from the model file next to a record, when it has them."""
    model = path.with_suffix(".model.json")
    if not model.exists():
        return "–"
    t = json.loads(model.read_text()).get("training", {}).get("metrics", {}).get("test", {})
    return f"{t['stress_mae']:.2f} / {t['stress_rmse']:.2f}" if "stress_mae" in t else "–"


def markdown(paths) -> str:
    recs = [(json.loads(Path(p).read_text()), Path(p)) for p in paths]
    lines = ["| element | model | parameters | force MAE / RMSE (eV/Å) | energy MAE / RMSE (meV/atom) | "
             "stress MAE / RMSE (GPa) | kernel µs/atom | fit time |", "|---|---|---|---|---|---|---|---|"]
    for el in sorted({r["element"] for r, _ in recs}):
        for name, (f, e) in PUBLISHED.get(el, {}).items():
            lines.append(f"| {el} | {name} (published) | | {f} / – | {e} / – | | | |")
        for r, path in ((r, p) for r, p in recs if r["element"] == el):
            lines.append(f"| {el} | `{r['model']}` | {r['n_parameters']} | {r['force_mae']:.3f} / "
                         f"{r['force_rmse']:.3f} | {r['energy_mae_meV']:.2f} / {r['energy_rmse_meV']:.2f} | "
                         f"{_stress(path)} | {r['kernel_us_per_atom']:.1f} | {r['fit_s'] / 60:.0f} min |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--element", choices=sorted(SYMBOL))
    ap.add_argument("--model", help="model text or preset name")
    ap.add_argument("--out", help="JSON record to write (the model file goes next to it)")
    ap.add_argument("--markdown", nargs="+", help="print a table of these JSON records")
    args = ap.parse_args(argv)
    if args.markdown:
        print(markdown(args.markdown))
        return 0
    if not (args.element and args.model and args.out):
        ap.error("--element, --model and --out are required (or --markdown)")
    run(args.element, args.model, Path(args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
