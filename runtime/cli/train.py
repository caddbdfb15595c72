"""``compot fit``, ``compot evaluate`` and ``compot fim``: training, error metrics and the
Fisher-information analysis."""

from __future__ import annotations

import os
import sys

from ...errors import CompotError
from .common import (add_json, add_model_args, check_output, config_weights, emit_json, key_values,
                     infer_elements, model_text, parse_elements)


def cmd_fit(args) -> int:
    from ..compile import compile_model
    from ..data import read_dataset
    from ..metrics import format_table
    from ..training.fit import FitOptions, fit

    check_output(args.output)
    # weights not given keep FitOptions' defaults (documented in one place)
    weights = {k: v for k, v in (("energy_weight", args.energy_weight), ("stress_weight", args.stress_weight))
               if v is not None}
    options = FitOptions(optimizer=args.optimizer, stages=args.stages, force_weight=args.force_weight,
                         **weights, per_atom_energy=args.per_atom_energy,
                         config_weights=config_weights(args.config_weight),
                         bo_init_points=args.bo_init, bo_iterations=args.bo_iter,
                         linear_rcond=args.linear_rcond, regularization=args.regularization,
                         ridge=args.ridge, e0=key_values(args.e0, "--e0", "ELEMENT=ENERGY") or None,
                         isolated_atom_constraint=not args.no_e0_constraint,
                         physics_constraints=not args.no_physics_constraints)
    train = read_dataset(args.train)
    test = read_dataset(args.test) if args.test else None
    text = model_text(args.expr)
    elements = infer_elements(parse_elements(args.elements), train)
    model = compile_model(text, cutoff=args.cutoff, elements=elements)
    checkpoint = args.output + ".checkpoint"
    if args.resume and not os.path.exists(checkpoint):
        raise CompotError(f"--resume: no checkpoint {checkpoint} to resume from")
    try:
        trained = fit(model, train, seed=args.seed, test=test, options=options,
                      progress=not (args.quiet or args.json), checkpoint=checkpoint, resume=args.resume,
                      threads=args.threads)
    except KeyboardInterrupt:
        print(f"compot: interrupted; {args.output} is unchanged.  Continue with the same command "
              f"and --resume (evaluations so far are in {checkpoint})", file=sys.stderr)
        return 130
    trained.save(args.output)
    os.unlink(checkpoint)
    m = trained.metadata["metrics"]
    if args.json:
        emit_json({"model": trained.text, "output": args.output, "n_linear": len(trained.linear_names),
               "n_nonlinear": len(trained.nonlinear_names), "train": m["train"], "test": m.get("test"),
               "wall_time": trained.wall_time, "seed": args.seed})
        return 0
    print(f"model {trained.text}: {len(trained.linear_names)} linear + {len(trained.nonlinear_names)} "
          f"nonlinear parameters, trained in {trained.wall_time:.1f} s "
          f"({trained.metadata['n_evaluations']} linear solves"
          + (f", {trained.n_replayed} replayed from the checkpoint" if trained.n_replayed else "") + ")")
    print(format_table(m["train"], f"train: {args.train}"))
    if "test" in m:
        print(format_table(m["test"], f"test: {args.test}"))
    print(f"saved {args.output}")
    return 0


def cmd_evaluate(args) -> int:
    from ..compile import load_model
    from ..data import read_dataset
    from ..metrics import format_table
    from ..plots import parity_plots

    model = load_model(args.model)
    data = read_dataset(args.data)
    m = model.metrics(data)
    files = parity_plots(model, data, args.plot) if args.plot else []
    cal = None
    if args.uncertainty:
        from ..uncertainty import calibration

        cal = calibration(model, data)
    if args.json:
        emit_json({**m, "model": model.text, "data": args.data, "plots": files,
               **({"calibration": cal} if cal else {})})
        return 0
    print(f"model {model.text}")
    print(format_table(m, f"data: {args.data}"))
    if cal:
        print("uncertainty calibration (fraction of errors within 1 / 2 predicted sigma; Gaussian "
              "0.683 / 0.954):")
        for q in ("energy", "forces"):
            for kind in ("parameter", "predictive"):
                c = cal[q][kind]
                print(f"  {q:7s} {kind:11s} {c['within_1sigma']:.3f} / {c['within_2sigma']:.3f}")
    for f in files:
        print(f"wrote {f}")
    return 0


def cmd_fim(args) -> int:
    from ..compile import load_model
    from ..data import read_dataset
    from ..training.fim import fim, plot_spectrum

    model = load_model(args.model)
    blockwise = args.workers is not None or args.scheduler is not None or args.block_atoms is not None
    if blockwise:
        from ..training.blockwise import blockwise_gram
        from ..training.fim import check_bits, fim_of_gram

        if args.extended:
            raise CompotError("--extended evaluates J in memory; it cannot be combined with the blockwise "
                              "options (--workers, --scheduler, --block-atoms)")
        if args.workers is not None and args.workers < 0:
            raise CompotError("--workers must be 0 (this process) or more")
        check_bits(args.bits)                # before the pass over the data, not after it
        gram, info = blockwise_gram(model, args.data, block_atoms=20000 if args.block_atoms is None else args.block_atoms,
                                    workers=args.workers or 0, scheduler=args.scheduler,
                                    max_structures=args.max_structures, progress=not args.json)
        res = fim_of_gram(model, gram, bits=args.bits)
        n_structures = info["structures"]
    else:
        data = read_dataset(args.data)
        if args.max_structures:
            data.structures = data.structures[:args.max_structures]
        res = fim(model, data, bits=args.bits, extended=args.extended, dps=args.dps)
        n_structures = len(data)
    if args.plot:
        check_output(args.plot)
        plot_spectrum(res, args.plot, title=f"{model.text.split('; ')[-1]}: log10 κ = {res.log10_kappa:.1f}")
    if args.json:
        out = res.as_dict()
        out["model"] = model.text
        if blockwise:
            out["blockwise"] = info
        if args.plot:
            out["plot"] = args.plot
        emit_json(out)
        return 0
    k = res.log10_kappa
    print(f"model {model.text}: FIM over {len(res.parameter_names)} linear parameters, "
          f"{n_structures} structures, {res.bits}-bit eigenvalues ({res.backend})"
          + (f"; J^T J accumulated in {info['blocks']} blocks ({info['atoms']} atoms, "
             f"{info['seconds']:.1f} s, peak worker memory {info['peak_worker_mib']:.0f} MiB)" if blockwise else ""))
    print(f"log10 kappa = {k:.3f}" if k != float("inf") else "log10 kappa = inf (singular)")
    print(f"eigenvalues in the SC region (>= 1e-15 lambda_max): {res.n_sc} of {len(res.eigenvalues)}")
    for name, b in res.blocks.items():
        print(f"  {name} block ({len(b['parameters'])} parameters): log10 kappa = {b['log10_kappa']:.3f}, "
              f"{b['n_sc']} in SC")
    for note in res.notes:
        print(f"note: {note}")
    print("eigenvalues:")
    for s in res.eigenvalue_strings(20):
        print(f"  {s}")
    if args.plot:
        print(f"wrote {args.plot}")
    return 0



def register(sub) -> None:
    p = sub.add_parser("fit", help="train a model on DFT data (the paper's dual-bipartite procedure)")
    add_model_args(p)
    p.add_argument("--train", required=True, help="training data (extxyz or any ASE format)")
    p.add_argument("--test", help="test data, evaluated after training")
    p.add_argument("-o", "--output", required=True, help="model file to write (JSON)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--optimizer", default="bo", choices=["bo", "varpro", "bo+varpro"],
                   help="nonlinear optimiser: Bayesian (paper), variable projection, or both")
    p.add_argument("--stages", default="dual-bipartite", choices=["dual-bipartite", "joint"])
    p.add_argument("--energy-weight", type=float, default=None,
                   help="loss weight of the total energies (default 10; the paper's loss: 1)")
    p.add_argument("--force-weight", type=float, default=1.0, help="loss weight of the force components")
    p.add_argument("--stress-weight", type=float, default=None,
                   help="loss weight of the stresses, fitted as virials per atom V sigma / N in eV/atom "
                        "(default 10; 0: not fitted; docs/theory.md 6.1)")
    p.add_argument("--per-atom-energy", action="store_true", help="energy residuals per atom")
    p.add_argument("--config-weight", action="append", metavar="TYPE=W",
                   help="weight of a config_type (repeatable)")
    p.add_argument("--bo-init", type=int, default=None, help="random BO points per stage")
    p.add_argument("--bo-iter", type=int, default=None, help="BO iterations per stage")
    p.add_argument("--linear-rcond", type=float, default=None,
                   help="truncate the linear solve at this relative singular value (e.g. 3.2e-8: "
                        "the FIM's SC region); smaller, better-conditioned coefficients")
    p.add_argument("--regularization", default="gcv", choices=["gcv", "none"],
                   help="linear solve: ridge with its strength by generalised cross-validation "
                        "(default) or minimum-norm least squares (docs/theory.md 6.2.1)")
    p.add_argument("--ridge", type=float, default=0.0,
                   help="a fixed ridge strength relative to the largest squared singular value")
    p.add_argument("--e0", action="append", metavar="X=E",
                   help="isolated-atom energy of element X in eV (repeatable); default: from "
                        "isolated-atom frames in the data, else the documented rule (theory 4.6)")
    p.add_argument("--no-e0-constraint", action="store_true",
                   help="do not constrain the isolated atoms' energies to E0")
    p.add_argument("--no-physics-constraints", action="store_true",
                   help="do not constrain the energy to rise under compression (dimers and "
                        "compressed crystals built from the data; docs/theory.md 6.2.2)")
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.add_argument("--threads", type=int, default=0,
                   help="structures evaluated in parallel (default: all cores; results do not depend on it)")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted fit from OUTPUT.checkpoint (same command otherwise)")
    add_json(p)
    p.set_defaults(func=cmd_fit)

    p = sub.add_parser("evaluate", help="error metrics of a trained model, per config_type")
    p.add_argument("model", help="model file (from compot fit)")
    p.add_argument("data", help="data file with reference energies and forces")
    p.add_argument("--plot", metavar="DIR", help="write parity plots into DIR")
    p.add_argument("--uncertainty", action="store_true",
                   help="check the FIM-based standard deviations against the errors (calibration)")
    add_json(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("fim", help="Fisher-information eigen-analysis at high precision")
    p.add_argument("model", help="model file (from compot fit)")
    p.add_argument("data", help="data file (structures)")
    p.add_argument("--bits", type=int, default=256, help="precision of the eigenvalues (default 256)")
    p.add_argument("--plot", metavar="PNG", help="draw the eigenspectrum")
    p.add_argument("--extended", action="store_true",
                   help="evaluate J itself in extended precision from the symbolic forms (slow)")
    p.add_argument("--dps", type=int, default=40, help="decimal digits for --extended")
    p.add_argument("--max-structures", type=int, default=None, help="use only the first N structures")
    p.add_argument("--block-atoms", type=int, default=None,
                   help="stream the data and accumulate J^T J exactly in blocks of about N atoms (default "
                        "20000 when --workers or --scheduler is given); memory is bounded by a block")
    p.add_argument("--workers", type=int, default=None,
                   help="blockwise on a local Dask cluster of N processes (0: in this process)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="blockwise on the Dask cluster at ADDRESS (the data file is read here)")
    add_json(p)
    p.set_defaults(func=cmd_fim)
