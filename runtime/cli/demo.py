"""``compot demo``: generated EMT data, a fit, metrics, FIM and plots, with no files needed."""

from __future__ import annotations

from .common import add_json, emit_json


def cmd_demo(args) -> int:
    from ..training.demo import run_demo

    out = run_demo(args.output, args.model, seed=args.seed, quiet=args.quiet, as_json=args.json)
    if args.json:
        emit_json(out)
    return 0



def register(sub) -> None:
    p = sub.add_parser("demo", help="generate EMT data, train, evaluate and analyse (no files needed)")
    p.add_argument("-o", "--output", default="compot-demo", help="output directory (default compot-demo)")
    p.add_argument("--model", default="E[G6L4] + N[E[G6L4]]", help="model text to train")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true")
    add_json(p)
    p.set_defaults(func=cmd_demo)
