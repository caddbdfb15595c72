"""``compot demo``: a complete run on data the package makes itself (no files needed).

ASE's EMT potential labels rattled, strained and defected fcc copper cells (deterministic for the
seed); compot trains E[G6L4] + N[E[G6L4]] on them, prints the metric tables and the FIM summary,
and writes the data, the model, parity plots and the eigenspectrum into the output directory.
"""

from __future__ import annotations

import os
import time

import numpy as np


def make_emt_data(n_train: int = 40, n_test: int = 12, seed: int = 0, element: str = "Cu"):
    """Labelled fcc cells: config_types rattled, strained, vacancy, hot (larger displacements)."""
    from ase.build import bulk
    from ase.calculators.emt import EMT
    from ase.calculators.singlepoint import SinglePointCalculator

    rng = np.random.default_rng(seed)
    a0 = {"Cu": 3.61, "Ni": 3.52, "Al": 4.05, "Ag": 4.09, "Au": 4.08, "Pd": 3.89, "Pt": 3.92}[element]
    kinds = ["rattled", "strained", "vacancy", "hot"]
    frames = []
    for k in range(n_train + n_test):
        kind = kinds[k % len(kinds)]
        atoms = bulk(element, "fcc", a=a0, cubic=True) * (2, 2, 2)
        if kind == "strained":
            eps = rng.uniform(-0.03, 0.03, size=(3, 3))
            eps = 0.5 * (eps + eps.T)
            atoms.set_cell(atoms.cell[:] @ (np.eye(3) + eps), scale_atoms=True)
        if kind == "vacancy":
            del atoms[int(rng.integers(len(atoms)))]
        amp = {"rattled": 0.08, "strained": 0.04, "vacancy": 0.08, "hot": 0.2}[kind]
        atoms.positions += rng.normal(0.0, amp, size=atoms.positions.shape)
        atoms.calc = EMT()
        e, f = atoms.get_potential_energy(), atoms.get_forces()
        s = atoms.get_stress()
        atoms.calc = SinglePointCalculator(atoms, energy=e, forces=f, stress=s)
        atoms.info["config_type"] = kind
        frames.append(atoms)
    return frames[:n_train], frames[n_train:]


def run_demo(outdir: str, model_text: str = "E[G6L4] + N[E[G6L4]]", seed: int = 0,
             quiet: bool = False, as_json: bool = False) -> dict:
    from ase.io import write

    from ..compile import compile_model
    from ..data import as_dataset
    from ..metrics import format_table
    from ..plots import parity_plots
    from .fim import fim, plot_spectrum
    from .fit import fit

    say = (lambda *a: None) if (quiet or as_json) else print
    t0 = time.perf_counter()
    os.makedirs(outdir, exist_ok=True)
    say(f"compot demo: generating EMT data for fcc Cu (seed {seed}) ...")
    train_frames, test_frames = make_emt_data(seed=seed)
    train_path, test_path = os.path.join(outdir, "train.xyz"), os.path.join(outdir, "test.xyz")
    write(train_path, train_frames)
    write(test_path, test_frames)
    train, test = as_dataset(train_frames), as_dataset(test_frames)
    train.path, test.path = train_path, test_path
    say(f"  {len(train)} training and {len(test)} test structures ({train.natoms} + {test.natoms} atoms)"
        f" -> {train_path}, {test_path}")
    say(f"compiling {model_text} ...")
    model = compile_model(model_text, cutoff=5.0, elements=["Cu"])
    say(f"  {len(model.linear_names)} linear + {len(model.nonlinear_names)} nonlinear parameters"
        f"{' (cached kernel)' if model.cache_hit else ''}")
    say("training (dual-bipartite Bayesian optimisation + least squares) ...")
    trained = fit(model, train, seed=seed, test=test, progress=not (quiet or as_json))
    model_path = os.path.join(outdir, "model.json")
    trained.save(model_path)
    m = trained.metadata["metrics"]
    say(format_table(m["train"], "train"))
    say(format_table(m["test"], "test"))
    res = fim(trained, train)
    spec = os.path.join(outdir, "spectrum.png")
    plot_spectrum(res, spec, title=f"demo: log10 κ = {res.log10_kappa:.1f}")
    plots = parity_plots(trained, test, outdir)
    say(f"FIM ({res.bits}-bit): log10 kappa = {res.log10_kappa:.2f}, {res.n_sc} of "
        f"{len(res.eigenvalues)} eigenvalues in the SC region")
    for note in res.notes:
        say(f"note: {note}")
    wall = time.perf_counter() - t0
    say(f"wrote {model_path}, {spec}, {', '.join(plots)}")
    say(f"done in {wall:.1f} s.  Next: compot evaluate {model_path} {test_path}")
    return {"model": model_path, "train": m["train"], "test": m["test"], "log10_kappa": res.log10_kappa,
            "n_sc": res.n_sc, "files": [train_path, test_path, model_path, spec, *plots],
            "wall_time": round(wall, 2)}
