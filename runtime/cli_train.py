"""CLI commands for training, metrics and FIM (registered into the main ``compot`` parser)."""

from __future__ import annotations

import os
import sys

from ..errors import CompotError


def _emit(obj):
    from .cli import _emit_json

    _emit_json(obj)


def _config_weights(items):
    out = {}
    for item in items or []:
        if "=" not in item:
            raise CompotError(f"--config-weight takes TYPE=WEIGHT, got {item!r}")
        k, v = item.split("=", 1)
        try:
            out[k] = float(v)
        except ValueError:
            raise CompotError(f"--config-weight {item!r}: {v!r} is not a number") from None
    return out


def _check_output(path):
    """Fail before any work if ``path`` cannot be written (missing or read-only directory)."""
    import tempfile

    d = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(d):
        raise CompotError(f"cannot write {path}: directory {d} does not exist")
    if os.path.isdir(path):
        raise CompotError(f"cannot write {path}: it is a directory")
    try:
        fd, probe = tempfile.mkstemp(prefix=".compot-write-test-", dir=d)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise CompotError(f"cannot write {path}: directory {d} is not writable ({exc.strerror})") from None


def infer_elements(elements, dataset):
    """Elements for a model: given, or every species of the data (sorted)."""
    from ase.data import chemical_symbols

    for e in elements or []:
        if e not in chemical_symbols or e == "X":
            raise CompotError(f"unknown chemical element {e!r}")
    species = sorted({s for st in dataset for s in st.atoms.get_chemical_symbols()})
    if elements:
        unknown = [s for s in species if s not in elements]
        if unknown:
            raise CompotError(f"the data contains {', '.join(unknown)}, which the model's elements "
                              f"({', '.join(elements)}) do not include")
        return elements
    return species


def cmd_fit(args) -> int:
    from .cli import _elements, _model_text
    from .compile import compile_model
    from .data import read_dataset
    from .metrics import format_table
    from .train import FitOptions, fit

    _check_output(args.output)
    options = FitOptions(optimizer=args.optimizer, stages=args.stages, energy_weight=args.energy_weight,
                         force_weight=args.force_weight, per_atom_energy=args.per_atom_energy,
                         config_weights=_config_weights(args.config_weight),
                         bo_init_points=args.bo_init, bo_iterations=args.bo_iter,
                         linear_rcond=args.linear_rcond)
    train = read_dataset(args.train)
    test = read_dataset(args.test) if args.test else None
    text = _model_text(args.expr)
    elements = infer_elements(_elements(args.elements), train)
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
        _emit({"model": trained.text, "output": args.output, "n_linear": len(trained.linear_names),
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
    from .data import read_dataset
    from .metrics import format_table
    from .modelfile import load_model
    from .plots import parity_plots

    model = load_model(args.model)
    data = read_dataset(args.data)
    m = model.metrics(data)
    files = parity_plots(model, data, args.plot) if args.plot else []
    cal = None
    if args.uncertainty:
        from .uncertainty import calibration

        cal = calibration(model, data)
    if args.json:
        _emit({**m, "model": model.text, "data": args.data, "plots": files,
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
    from .data import read_dataset
    from .fim import fim, plot_spectrum
    from .modelfile import load_model

    model = load_model(args.model)
    data = read_dataset(args.data)
    if args.max_structures:
        data.structures = data.structures[:args.max_structures]
    res = fim(model, data, bits=args.bits, extended=args.extended, dps=args.dps)
    if args.plot:
        _check_output(args.plot)
        plot_spectrum(res, args.plot, title=f"{model.text.split('; ')[-1]}: log10 κ = {res.log10_kappa:.1f}")
    if args.json:
        out = res.as_dict()
        out["model"] = model.text
        if args.plot:
            out["plot"] = args.plot
        _emit(out)
        return 0
    k = res.log10_kappa
    print(f"model {model.text}: FIM over {len(res.parameter_names)} linear parameters, "
          f"{len(data)} structures, {res.bits}-bit eigenvalues ({res.backend})")
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


def cmd_design(args) -> int:
    from .data import read_dataset
    from .design import DesignOptions, design, pareto_plot, score

    if args.budget < 1:
        raise CompotError("--budget must be at least 1")
    if not 0 < args.validation_fraction < 1:
        raise CompotError("--validation-fraction must lie between 0 and 1")
    if args.plot:
        _check_output(args.plot)
    _check_output(args.log)
    train = read_dataset(args.train)
    test = read_dataset(args.test) if args.test else None
    elements = infer_elements(None, train)
    opt = DesignOptions(budget=args.budget, time_limit=args.time_limit, max_params=args.max_params,
                        validation_fraction=args.validation_fraction, seed=args.seed)
    if args.seeds:
        opt.seeds = tuple(s.strip() for s in args.seeds.split(";") if s.strip())
    quiet = args.quiet or args.json
    res = design(train, test, opt, log=args.log, progress=False, cutoff=args.cutoff, elements=elements,
                 say=(lambda *a: None) if quiet else print)
    if args.plot:
        pareto_plot(res, args.plot)
    ranked = sorted(res.records, key=lambda r: score(r, opt))
    front = res.pareto()
    out = {"best": ranked[0]["text"] if ranked else None, "log": args.log,
           "ranking": [{"text": r["text"], "score": r["score"], "n_params": r["n_params"],
                        "validation": r["validation"], "test": r.get("test"),
                        "log10_kappa": r["log10_kappa"], "n_sc": r["n_sc"]} for r in ranked],
           "pareto": [r["text"] for r in front]}
    if args.json:
        _emit(out)
        return 0
    print()
    print(f"{'rank':>4} {'model':34s} {'P':>4} {'val F':>8} {'val E':>8} {'log10k':>7} {'nSC':>5} "
          f"{'score':>7}" + (f" {'test F':>8} {'test E':>8}" if test is not None else ""))
    for k, r in enumerate(ranked, 1):
        line = (f"{k:4d} {r['text']:34s} {r['n_params']:4d} {r['validation']['force_rmse']:8.4f} "
                f"{r['validation']['energy_rmse'] * 1000:8.2f} {r['log10_kappa']:7.1f} "
                f"{r['n_sc']:5d} {r['score']:7.3f}")
        if test is not None:
            line += f" {r['test']['force_rmse']:8.4f} {r['test']['energy_rmse'] * 1000:8.2f}"
        print(line + ("  *" if r in front else ""))
    print("(* on the Pareto front of validation force error vs parameters; errors in eV/A and meV/atom)")
    if args.plot:
        print(f"wrote {args.plot}")
    return 0


def cmd_export(args) -> int:
    from .lammps_export import export_lammps
    from .modelfile import load_model

    if not args.lammps:
        raise CompotError("give an export target: --lammps DIR")
    model = load_model(args.model)
    res = export_lammps(model, args.lammps, name=args.name, build=args.build)
    if args.json:
        _emit(res)
        return 0
    print("wrote " + ", ".join(res["files"]))
    if not args.build:
        print(f"build: sh {os.path.join(args.lammps, 'build.sh')}   (then see in.example)")
    return 0


def register(sub, common, model_args) -> None:
    p = sub.add_parser("export", help="export a trained model (LAMMPS plugin pair style)")
    p.add_argument("model", help="model file (from compot fit)")
    p.add_argument("--lammps", metavar="DIR", help="write a LAMMPS plugin pair style into DIR")
    p.add_argument("--name", default="model", help="pair style compot/NAME (default model)")
    p.add_argument("--build", action="store_true", help="also compile the plugin")
    common(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("fit", help="train a model on DFT data (the paper's dual-bipartite procedure)")
    model_args(p)
    p.add_argument("--train", required=True, help="training data (extxyz or any ASE format)")
    p.add_argument("--test", help="test data, evaluated after training")
    p.add_argument("-o", "--output", required=True, help="model file to write (JSON)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--optimizer", default="bo", choices=["bo", "varpro", "bo+varpro"],
                   help="nonlinear optimiser: Bayesian (paper), variable projection, or both")
    p.add_argument("--stages", default="dual-bipartite", choices=["dual-bipartite", "joint"])
    p.add_argument("--energy-weight", type=float, default=1.0)
    p.add_argument("--force-weight", type=float, default=1.0)
    p.add_argument("--per-atom-energy", action="store_true", help="energy residuals per atom")
    p.add_argument("--config-weight", action="append", metavar="TYPE=W",
                   help="weight of a config_type (repeatable)")
    p.add_argument("--bo-init", type=int, default=None, help="random BO points per stage")
    p.add_argument("--bo-iter", type=int, default=None, help="BO iterations per stage")
    p.add_argument("--linear-rcond", type=float, default=None,
                   help="truncate the linear solve at this relative singular value (e.g. 3.2e-8: "
                        "the FIM's SC region); smaller, better-conditioned coefficients")
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.add_argument("--threads", type=int, default=0,
                   help="structures evaluated in parallel (default: all cores; results do not depend on it)")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted fit from OUTPUT.checkpoint (same command otherwise)")
    common(p)
    p.set_defaults(func=cmd_fit)

    p = sub.add_parser("evaluate", help="error metrics of a trained model, per config_type")
    p.add_argument("model", help="model file (from compot fit)")
    p.add_argument("data", help="data file with reference energies and forces")
    p.add_argument("--plot", metavar="DIR", help="write parity plots into DIR")
    p.add_argument("--uncertainty", action="store_true",
                   help="check the FIM-based standard deviations against the errors (calibration)")
    common(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("design", help="FIM-guided search over compositions of models")
    p.add_argument("--train", required=True, help="training data (a validation split is held out)")
    p.add_argument("--test", help="test data, reported for every configuration")
    p.add_argument("--budget", type=int, default=16, help="configurations to train (default 16)")
    p.add_argument("--time-limit", type=float, default=None, help="seconds; no new fit starts after")
    p.add_argument("--max-params", type=int, default=80)
    p.add_argument("--validation-fraction", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seeds", default=None, help="comma-free list of seed models separated by ';'")
    p.add_argument("--cutoff", type=float, default=5.0)
    p.add_argument("--log", default="design.jsonl", help="JSON-lines log; an existing one is resumed")
    p.add_argument("--plot", metavar="PNG", help="Pareto plot of validation force error vs parameters")
    p.add_argument("--quiet", action="store_true")
    common(p)
    p.set_defaults(func=cmd_design)

    p = sub.add_parser("fim", help="Fisher-information eigen-analysis at high precision")
    p.add_argument("model", help="model file (from compot fit)")
    p.add_argument("data", help="data file (structures)")
    p.add_argument("--bits", type=int, default=256, help="precision of the eigenvalues (default 256)")
    p.add_argument("--plot", metavar="PNG", help="draw the eigenspectrum")
    p.add_argument("--extended", action="store_true",
                   help="evaluate J itself in extended precision from the symbolic forms (slow)")
    p.add_argument("--dps", type=int, default=40, help="decimal digits for --extended")
    p.add_argument("--max-structures", type=int, default=None, help="use only the first N structures")
    common(p)
    p.set_defaults(func=cmd_fim)
