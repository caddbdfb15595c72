"""The ``compot`` command line.  Every command takes ``--help`` and ``--json``.

One module per command group (``model``: show, compile; ``train``: fit, evaluate, fim; ``design``;
``export``; ``demo``; ``validate``), helpers in ``common``.  Errors caused by input print one line
``compot: error: ...`` on stderr and exit with status 2; an interrupted command exits 130.  Set
``COMPOT_DEBUG=1`` to see tracebacks of internal errors.
"""

from __future__ import annotations

import os
import sys
import warnings

from ...errors import CompotError
from ...version import __version__
from . import demo, design, export, model, train, validate
from .common import EXIT_ERROR, Parser


def build_parser() -> Parser:
    ap = Parser(prog="compot", description="compot: compile, train and judge composable "
                "interatomic potentials written as text.")
    ap.add_argument("--version", action="version", version=f"compot {__version__}")
    sub = ap.add_subparsers(dest="command", metavar="command", parser_class=Parser)
    sub.required = True
    for group in (model, train, design, export, demo, validate):
        group.register(sub)
    return ap


def main(argv=None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    debug = bool(os.environ.get("COMPOT_DEBUG"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")      # each distinct warning once per place
            warnings.showwarning = lambda m, *a, **k: print(f"compot: warning: {m}", file=sys.stderr)
            return int(args.func(args) or 0)
    except CompotError as exc:
        if debug:
            raise
        print(f"compot: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("compot: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # an internal error: still one line unless debugging
        if debug:
            raise
        print(f"compot: internal error: {type(exc).__name__}: {exc} (set COMPOT_DEBUG=1 for a "
              "traceback, and please report it)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
