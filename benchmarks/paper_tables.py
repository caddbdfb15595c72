"""Reproduce the paper's Tables 3-4 on the shared DFT data: train each configuration family on
<element>/train.xyz, evaluate on <element>/test.xyz, and report parameter counts, log10 kappa of
the FIM (linear parameters, training data, 256 bits) and the four error metrics.

    python -m benchmarks.paper_tables --element nb --out docs/results_nb.json
    python -m benchmarks.paper_tables --element mo --set small --out docs/results_mo.json
    python -m benchmarks.paper_tables --markdown docs/results_nb.json docs/results_mo.json

Each configuration is trained with the same seed and default options (docs/theory.md §6); wall times are
measured in this process.  Results are appended to the JSON file as they finish, so an
interrupted run can be resumed (finished rows are skipped).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

NB_FULL = ([f"G{n}" for n in range(4, 19, 2)] + [f"C{n}" for n in range(4, 17, 2)]
           + ["E[G4L4]", "E[G6L4]", "E[G8L2]", "E[G8L4]", "E[G8L5]", "E[G8L8]", "E[G10L4]",
              "N[E[G8L4]]", "G4*G4", "G8*G8", "G8*E[G4L4]", "G8*E[G8L4]", "G10*E[G8L4]",
              "E[G6L5] + N[E[G6L5]]", "E[G8L4] + N[E[G8L4]]"])
SMALL = ["G8", "G16", "C8", "E[G8L4]", "N[E[G8L4]]", "G8*G8", "G10*E[G8L4]",
         "E[G8L4] + N[E[G8L4]]"]
OPTIMIZER_COMPARISON = [("E[G8L4] + N[E[G8L4]]", "varpro"), ("E[G8L4] + N[E[G8L4]]", "bo+varpro"),
                        ("E[G8L4]", "varpro"), ("G10*E[G8L4]", "bo+varpro")]


def run(element: str, which: str, out: Path, data_dir: Path, seed: int, cutoff: float) -> None:
    import compot
    from compot.runtime.data import read_dataset
    from compot.runtime.training.fim import fim
    from compot.runtime.training.fit import fit

    train = read_dataset(data_dir / element / "train.xyz.xz")
    test = read_dataset(data_dir / element / "test.xyz.xz")
    rows = json.loads(out.read_text())["rows"] if out.exists() else []
    done = {(r["model"], r["optimizer"]) for r in rows}
    jobs = [(t, "bo") for t in (NB_FULL if which == "full" else SMALL)]
    jobs += OPTIMIZER_COMPARISON if which == "full" else OPTIMIZER_COMPARISON[:1]
    species = sorted({s for st in train for s in st.atoms.get_chemical_symbols()})
    for text, optimizer in jobs:
        if (text, optimizer) in done:
            continue
        t0 = time.perf_counter()
        model = compot.compile(text, cutoff=cutoff, elements=species)
        t_compile = time.perf_counter() - t0
        trained = fit(model, train, seed=seed, test=test, optimizer=optimizer, progress=False)
        t_fit = time.perf_counter() - t0 - t_compile
        t1 = time.perf_counter()
        f = fim(trained, train)
        t_fim = time.perf_counter() - t1
        m = trained.metadata["metrics"]
        row = {"model": text, "optimizer": optimizer, "n_linear": len(model.linear_names),
               "n_nonlinear": len(model.nonlinear_names), "log10_kappa": f.log10_kappa, "n_sc": f.n_sc,
               "fim_blocks": {k: v["log10_kappa"] for k, v in f.blocks.items()},
               "fim_singular": f.singular,
               "train": {k: m["train"][k] for k in ("energy_rmse", "force_rmse", "force_amplitude_rmse",
                                                    "force_angle_rmse")},
               "test": {k: m["test"][k] for k in ("energy_rmse", "force_rmse", "force_amplitude_rmse",
                                                  "force_angle_rmse")},
               "test_by_config_type": {ct: {"energy_rmse": v["energy_rmse"], "force_rmse": v["force_rmse"]}
                                       for ct, v in m["test"]["by_config_type"].items()},
               "parameters": trained.parameters, "at_bounds": trained.metadata["at_bounds"],
               "time_compile": round(t_compile, 2), "time_fit": round(t_fit, 2),
               "time_fim": round(t_fim, 2), "n_evaluations": trained.metadata["n_evaluations"]}
        rows.append(row)
        doc = {"element": element, "set": which, "seed": seed, "cutoff": cutoff,
               "command": " ".join(["python -m benchmarks.paper_tables"] + sys.argv[1:]),
               "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
               "compot": compot.__version__, "rows": rows}
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc, indent=1))
        tmp.replace(out)
        print(f"{text:24s} {optimizer:9s} lin {row['n_linear']:3d} nl {row['n_nonlinear']:2d} "
              f"log10k {row['log10_kappa']:6.2f} | test E {row['test']['energy_rmse'] * 1000:7.2f} meV/at "
              f"F {row['test']['force_rmse']:.4f} | fit {t_fit:6.1f}s", flush=True)


def _fmt(x, scale=1.0, digits=3):
    if x is None or x != x:
        return "-"
    if x == float("inf"):
        return "inf"
    return f"{x * scale:.{digits}f}"


def markdown(paths) -> str:
    out = []
    for path in paths:
        doc = json.loads(Path(path).read_text())
        out.append(f"### {doc['element'].capitalize()} ({doc['set']} set, seed {doc['seed']}, "
                   f"r_c = {doc['cutoff']} Å)\n")
        out.append(f"Command: `{doc['command']}` — machine: {doc['machine']}, compot {doc['compot']}.\n")
        out.append("| model | optimizer | linear | nonlinear | log10 κ | angle (rad) train / test | "
                   "amplitude (eV/Å) train / test | force (eV/Å) train / test | energy (meV/atom) "
                   "train / test | fit time (s) |")
        out.append("|---|---|---|---|---|---|---|---|---|---|")
        for r in doc["rows"]:
            tr, te = r["train"], r["test"]
            out.append(
                f"| {r['model'].replace('*', '⊗').replace(' + ', ' ⊕ ')} | {r['optimizer']} | "
                f"{r['n_linear']} | {r['n_nonlinear']} | "
                f"{_fmt(r['log10_kappa'], digits=1)}{' (singular)' if r['fim_singular'] else ''} | "
                f"{_fmt(tr['force_angle_rmse'])} / {_fmt(te['force_angle_rmse'])} | "
                f"{_fmt(tr['force_amplitude_rmse'])} / {_fmt(te['force_amplitude_rmse'])} | "
                f"{_fmt(tr['force_rmse'])} / {_fmt(te['force_rmse'])} | "
                f"{_fmt(tr['energy_rmse'], 1000, 2)} / {_fmt(te['energy_rmse'], 1000, 2)} | "
                f"{r['time_fit']:.0f} |")
        out.append("")
        out.append(findings(doc))
        out.append("")
    return "\n".join(out)


def findings(doc) -> str:
    """Check the paper's qualitative findings against these results (test errors)."""
    rows = {(r["model"]): r for r in doc["rows"] if r["optimizer"] == "bo"}

    def err(m, key="force_rmse"):
        return rows[m]["test"][key] if m in rows else None

    lines = ["Findings of the paper, checked on these test errors (force RMSE; energy RMSE):"]

    def check(label, ok, detail):
        lines.append(f"- {label}: **{'holds' if ok else 'does not hold'}** ({detail})")

    pairs = [(f"G{n}", f"C{n}") for n in range(4, 17, 2) if f"G{n}" in rows and f"C{n}" in rows]
    if pairs:
        wins = sum(err(g) < err(c) for g, c in pairs)
        check("G beats C at equal size", wins == len(pairs), f"{wins} of {len(pairs)} sizes on forces")
    for other in ("G8", "G18"):
        if "E[G8L4]" in rows and other in rows:
            check(f"E[G8L4] beats {other}", err("E[G8L4]") < err(other) and
                  err("E[G8L4]", "energy_rmse") < err(other, "energy_rmse"),
                  f"F {err('E[G8L4]'):.4f} vs {err(other):.4f} eV/Å; E "
                  f"{err('E[G8L4]', 'energy_rmse') * 1000:.2f} vs {err(other, 'energy_rmse') * 1000:.2f} meV/atom")
    if "G8*G8" in rows and "G16" in rows:
        check("G8⊗G8 beats G16", err("G8*G8") < err("G16"),
              f"F {err('G8*G8'):.4f} vs {err('G16'):.4f} eV/Å; E {err('G8*G8', 'energy_rmse') * 1000:.2f} vs "
              f"{err('G16', 'energy_rmse') * 1000:.2f} meV/atom")
    best = "E[G8L4] + N[E[G8L4]]"
    if best in rows:
        ranked = sorted(rows, key=lambda m: err(m))
        check("E[G8L4]⊕N[E[G8L4]] has the lowest test force error", ranked[0] == best,
              f"rank {ranked.index(best) + 1} of {len(ranked)}; best is {ranked[0]} with {err(ranked[0]):.4f} eV/Å")
        for single in ("E[G8L4]", "N[E[G8L4]]"):
            if single in rows:
                kb, ks = rows[best]["log10_kappa"], rows[single]["log10_kappa"]
                check(f"κ of E[G8L4]⊕N[E[G8L4]] is lower than of {single}", kb < ks,
                      f"log10 κ {kb:.1f} vs {ks:.1f}")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--element", default="nb")
    ap.add_argument("--set", default="full", choices=["full", "small"])
    ap.add_argument("--data-dir", type=Path,
                    default=Path(__file__).resolve().parent.parent / "tests" / "data")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cutoff", type=float, default=5.0)
    ap.add_argument("--markdown", nargs="+", metavar="JSON", help="print tables of finished runs")
    args = ap.parse_args(argv)
    if args.markdown:
        print(markdown(args.markdown))
        return 0
    out = args.out or Path(f"docs/results_{args.element}.json")
    run(args.element, args.set, out, args.data_dir, args.seed, args.cutoff)
    return 0


if __name__ == "__main__":
    sys.exit(main())
