"""``compot export``: a trained model as a LAMMPS plugin pair style."""

from __future__ import annotations

import os

from ...errors import CompotError
from .common import add_json, emit_json


def cmd_export(args) -> int:
    from ..compile import load_model
    from ..export import export_lammps

    if not args.lammps:
        raise CompotError("give an export target: --lammps DIR")
    if args.grade_threshold is not None and not args.grade:
        raise CompotError("--grade-threshold needs --grade")
    model = load_model(args.model)
    res = export_lammps(model, args.lammps, name=args.name, build=args.build, grade=args.grade,
                        grade_threshold=args.grade_threshold)
    if args.json:
        emit_json(res)
        return 0
    print("wrote " + ", ".join(res["files"]))
    if not args.build:
        print(f"build: sh {os.path.join(args.lammps, 'build.sh')}   (then see in.example"
              + (", in.grade)" if args.grade else ")"))
    return 0



def register(sub) -> None:
    p = sub.add_parser("export", help="export a trained model (LAMMPS plugin pair style)")
    p.add_argument("model", help="model file (from compot fit)")
    p.add_argument("--lammps", metavar="DIR", help="write a LAMMPS plugin pair style into DIR")
    p.add_argument("--name", default="model", help="pair style compot/NAME (default model)")
    p.add_argument("--build", action="store_true", help="also compile the plugin")
    p.add_argument("--grade", action="store_true",
                   help="compile in the parameter covariance: pair_style compot/NAME grade gives each "
                        "atom's extrapolation grade to fix pair (and write in.grade)")
    p.add_argument("--grade-threshold", type=float, metavar="EV", default=None,
                   help="the threshold of in.grade (default: the model's RMS training energy residual)")
    add_json(p)
    p.set_defaults(func=cmd_export)
