"""``compot design``: the FIM-guided search over model compositions."""

from __future__ import annotations

import os

from ...errors import CompotError
from .common import add_json, check_output, emit_json, infer_elements


def cmd_design(args) -> int:
    from ..data import read_dataset
    from ..training.design import DesignOptions, design, pareto_plot, score

    if args.budget < 1:
        raise CompotError("--budget must be at least 1")
    if not 0 < args.validation_fraction < 1:
        raise CompotError("--validation-fraction must lie between 0 and 1")
    if args.plot:
        check_output(args.plot)
    check_output(args.log)
    train = read_dataset(args.train)
    test = read_dataset(args.test) if args.test else None
    elements = infer_elements(None, train)
    if args.batch < 1:
        raise CompotError("--batch must be at least 1")
    if args.workers is not None and args.workers < 0:
        raise CompotError("--workers must be 0 (train in this process) or more")
    workers = (os.cpu_count() or 1) if args.workers is None else args.workers
    opt = DesignOptions(budget=args.budget, time_limit=args.time_limit, max_params=args.max_params,
                        validation_fraction=args.validation_fraction, seed=args.seed, batch=args.batch)
    if args.seeds:
        opt.seeds = tuple(s.strip() for s in args.seeds.split(";") if s.strip())
    quiet = args.quiet or args.json
    res = design(train, test, opt, log=args.log, progress=False, cutoff=args.cutoff, elements=elements,
                 say=(lambda *a: None) if quiet else print, workers=workers, scheduler=args.scheduler)
    if args.plot:
        pareto_plot(res, args.plot)
    ranked = sorted(res.trained, key=lambda r: score(r, opt))
    failed = [r for r in res.records if r.get("failed")]
    front = res.pareto()
    out = {"best": ranked[0]["text"] if ranked else None, "log": args.log,
           "ranking": [{"text": r["text"], "score": r["score"], "n_params": r["n_params"],
                        "validation": r["validation"], "test": r.get("test"),
                        "log10_kappa": r["log10_kappa"], "n_sc": r["n_sc"]} for r in ranked],
           "pareto": [r["text"] for r in front],
           "failed": [{"text": r["text"], "error": r["failed"]} for r in failed]}
    if args.json:
        emit_json(out)
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
    for r in failed:
        print(f"failed: {r['text']}: {r['failed']}")
    if args.plot:
        print(f"wrote {args.plot}")
    return 0



def cmd_select(args) -> int:
    import sys

    import numpy as np

    from ..compile import load_model
    from ..data import read_structures
    from ..files import atomic_write_text
    from ..training.select import select

    check_output(args.output)
    model = load_model(args.model)
    frames = read_structures(args.candidates)
    if args.type_elements:
        names = [e.strip() for e in args.type_elements.split(",") if e.strip()]
        from ase.data import atomic_numbers

        for k, a in enumerate(frames):
            types = a.get_array("type") if "type" in a.arrays else a.numbers
            if types.min() < 1 or types.max() > len(names):
                raise CompotError(f"{args.candidates}, frame {k}: atom types {types.min()}..{types.max()} "
                                  f"but --type-elements names {len(names)}")
            a.numbers = np.array([atomic_numbers[names[t - 1]] for t in types])
    quiet = args.quiet or args.json
    say = (lambda *a: None) if quiet else (lambda c, n: print(f"\rinformation of candidate {c}/{n}", end="",
                                                               file=sys.stderr, flush=True))
    res = select(model, frames, args.n, progress=say)
    if not quiet:
        print(file=sys.stderr)
    import io

    from ase.io import write

    buf = io.StringIO()
    picked = []
    for rank, c in enumerate(res["picked"]):
        a = frames[c].copy()
        a.calc = None
        a.info["compot_candidate_index"] = int(c)
        a.info["compot_gain_nats"] = res["gain_nats"][rank]
        picked.append(a)
    write(buf, picked, format="extxyz")
    atomic_write_text(args.output, buf.getvalue())
    out = {"candidates": len(frames), "picked": res["picked"], "gain_nats": res["gain_nats"],
           "output": args.output}
    if args.json:
        emit_json(out)
    else:
        print(f"picked {len(res['picked'])} of {len(frames)} candidates (greedy D-optimal information "
              f"gain) -> {args.output}")
        for rank, (c, g) in enumerate(zip(res["picked"], res["gain_nats"])):
            print(f"  {rank + 1:3d}. candidate {c:5d}  gain {g:.3f} nats")
    return 0


def register(sub) -> None:
    p = sub.add_parser("design", help="FIM-guided search over compositions of models")
    p.add_argument("--train", required=True, help="training data (a validation split is held out)")
    p.add_argument("--test", help="test data, reported for every configuration")
    p.add_argument("--budget", type=int, default=16, help="configurations to train (default 16)")
    p.add_argument("--time-limit", type=float, default=None, help="seconds; no new fit starts after")
    p.add_argument("--max-params", type=int, default=100)
    p.add_argument("--validation-fraction", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seeds", default=None, help="comma-free list of seed models separated by ';'")
    p.add_argument("--cutoff", type=float, default=5.0)
    p.add_argument("--log", default="design.jsonl", help="JSON-lines log; an existing one is resumed")
    p.add_argument("--plot", metavar="PNG", help="Pareto plot of validation force error vs parameters")
    p.add_argument("--workers", type=int, default=None,
                   help="train on a local Dask cluster of N single-threaded processes (default: one "
                        "per core; 0 trains in this process)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="train on an existing Dask cluster (e.g. tcp://host:8786) instead")
    p.add_argument("--batch", type=int, default=4,
                   help="configurations proposed per generation (default 4); the log depends on it, "
                        "not on --workers or --scheduler")
    p.add_argument("--quiet", action="store_true")
    add_json(p)
    p.set_defaults(func=cmd_design)

    p = sub.add_parser("select", help="active learning: pick the candidates with the most information "
                       "for a fitted model (greedy D-optimal on its FIM covariance)")
    p.add_argument("model", help="model file (from compot fit)")
    p.add_argument("candidates", help="candidate structures: any file ASE reads (extxyz, LAMMPS dump, ...)")
    p.add_argument("--n", type=int, required=True, help="number of structures to pick")
    p.add_argument("-o", "--output", required=True, help="picked structures (extxyz) to write")
    p.add_argument("--type-elements", default=None,
                   help="comma-separated elements of LAMMPS atom types 1, 2, ... (for dumps)")
    p.add_argument("--quiet", action="store_true")
    add_json(p)
    p.set_defaults(func=cmd_select)
