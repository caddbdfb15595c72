"""``python -m compot.compiler --update`` regenerates the reference kernels in ``generated/``;
``--check`` (the default) reports whether they are up to date (exit 1 if not)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .references import regenerate


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m compot.compiler", description=__doc__)
    ap.add_argument("--update", action="store_true", help="rewrite the reference kernels")
    ap.add_argument("--check", action="store_true", help="only compare (default)")
    ap.add_argument("--dir", type=Path, default=Path("generated"),
                    help="directory of reference kernels (default: ./generated)")
    args = ap.parse_args(argv)
    differ = regenerate(args.dir, check=not args.update)
    if args.update:
        print(f"updated {len(differ)} reference kernel(s) in {args.dir}: {' '.join(differ) or '-'}")
        return 0
    if differ:
        print(f"out of date in {args.dir}: {' '.join(differ)} (run with --update)")
        return 1
    print(f"all reference kernels in {args.dir} are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
