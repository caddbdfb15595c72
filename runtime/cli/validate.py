"""``compot validate``: a model's crystal properties (lattice, elastic constants, EOS, vacancy,
surfaces, phonons, dimer, MD stability), with DFT values derived from reference data side by side.
Methods: docs/validation.md."""

from __future__ import annotations

import sys

from ...errors import CompotError
from .common import add_json, emit_json


def _fmt(v, nd=4):
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.{nd}g}" if abs(v) < 1e4 else f"{v:.3e}"
    return str(v)


def print_report(out) -> None:
    print(f"model {out['model']} (cutoff {out['cutoff_A']} Å)")
    for el, r in out["results"].items():
        print()
        src = r.get("lattice_source", "given" if r["lattice_given"] else "model ground state")
        note = "" if r["model_ground_state_lattice"] == r["lattice"] else \
            f"; the model's own lowest-energy lattice is {r['model_ground_state_lattice']}"
        print(f"{el}: {r['lattice']} (from the {src}{note})" if src != "given" else f"{el}: {r['lattice']} (given{note})")
        rows = [("lattice constant (Å)", r["lattice_constant_A"]),
                ("cohesive energy (eV/atom)", r["cohesive_energy_eV"]),
                ("bulk modulus, BM3 (GPa)", r["bulk_modulus_GPa"]),
                ("C11 (GPa)", r["C11_GPa"]), ("C12 (GPa)", r["C12_GPa"]),
                ("C44 clamped ions (GPa)", r["C44_GPa"]), ("C44 relaxed ions (GPa)", r["C44_relaxed_GPa"])]
        if "vacancy" in r:
            rows.append(("vacancy formation, relaxed (eV)", r["vacancy_formation_energy_eV"]))
        if "surface" in r:
            for m in ("100", "110", "111"):
                rows.append((f"surface ({m}), relaxed (J/m²)", r.get(f"surface_energy_{m}_J_m2")))
        d = r["dimer"]
        rows += [("dimer minimum (eV at Å)", f"{d['E_min_eV']:.3f} at {d['r_min_A']:.3f}"),
                 ("dimer: no hole below the minimum", d["no_hole"]), ("dimer E(1.0 Å) (eV)", d["E_at_1A_eV"])]
        if "phonon" in r and "failed" not in r["phonon"]:
            p = r["phonon"]
            rows += [("phonon max frequency (THz)", p["max_frequency_THz"]),
                     ("phonon min frequency (THz)", p["min_frequency_THz"]),
                     ("imaginary phonon modes", p["imaginary_modes"])]
            for name, f in p["frequencies_at_special_points_THz"].items():
                rows.append((f"  frequencies at {name} (THz)", " ".join(f"{x:.2f}" for x in f)))
        if "md" in r and "failed" not in r["md"]:
            for run in r["md"]["runs"]:
                rows.append((f"MD {run['temperature_K']:.0f} K, {run['duration_ps']:.3g} ps",
                             f"{'stable' if run['stable'] else 'FAILED: ' + run['failure']}; drift "
                             f"{run['drift_meV_per_atom_per_ps']:.3g} meV/atom/ps; min distance "
                             f"{run['min_distance_A']:.2f} Å"))
        for key in ("vacancy", "surface", "phonon", "md"):
            if isinstance(r.get(key), dict) and "failed" in r[key]:
                rows.append((f"{key}: FAILED", r[key]["failed"]))
        cmp_ = r.get("comparison")
        if cmp_:
            print(f"{'quantity':<36} {'model':>12} {'DFT':>12} {'rel. error':>10}")
            shown = set()
            for key, c in cmp_.items():
                shown.add(c["label"])
                ref = _fmt(c["reference"]) if c["reference"] is not None else "n/d"
                err = f"{c['relative_error'] * 100:+.1f} %" if c["relative_error"] is not None else ""
                print(f"{c['label']:<36} {_fmt(c['model']):>12} {ref:>12} {err:>10}")
            nd = [c["label"] for c in cmp_.values() if c["reference"] is None]
            if nd:
                print("n/d = not derivable from the reference data: " + ", ".join(nd)
                      + " (reasons in --json)")
            print()
        for label, v in rows:
            print(f"{label:<36} {_fmt(v)}")
    if out.get("plots"):
        print()
        print("plots: " + ", ".join(out["plots"]))


def cmd_validate(args) -> int:
    from ..validate import Options, validate

    if args.md_steps is not None and args.md_steps < 1:
        raise CompotError(f"--md-steps must be at least 1, got {args.md_steps}")
    opts = Options(quick=args.quick, md_steps=args.md_steps, phonons=not args.no_phonons,
                   md=not args.no_md)
    log = None if (args.json or args.quiet) else (lambda s: print(f"... {s}", file=sys.stderr, flush=True))
    out = validate(args.model, reference=args.reference, lattice=args.lattice, plot=args.plot,
                   options=opts, log=log)
    if args.json:
        emit_json(out)
    else:
        print_report(out)
    return 0


def register(sub) -> None:
    p = sub.add_parser("validate", help="crystal properties of a trained model (lattice, elastic "
                       "constants, EOS, vacancy, surfaces, phonons, dimer, MD), optionally against DFT data")
    p.add_argument("model", help="trained model file (JSON)")
    p.add_argument("--reference", default=None, help="DFT data (extxyz) to derive reference values from")
    p.add_argument("--lattice", default=None,
                   help="bcc, fcc, hcp or diamond (default: the lowest-energy of the four)")
    p.add_argument("--plot", default=None, metavar="DIR", help="write eos.png, elastic.png, dimer.png, "
                   "phonons.png, md.png into DIR")
    p.add_argument("--md-steps", type=int, default=None, help="MD steps per temperature (default 5000 = 5 ps)")
    p.add_argument("--quick", action="store_true", help="small cells, few steps (smoke test)")
    p.add_argument("--no-phonons", action="store_true", help="skip phonons")
    p.add_argument("--no-md", action="store_true", help="skip the MD stability runs")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    add_json(p)
    p.set_defaults(func=cmd_validate)
