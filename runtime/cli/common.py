"""Helpers shared by the CLI's command modules: the argument parser, JSON output, model-text
and element arguments, and early checks of output paths."""

from __future__ import annotations

import argparse
import json
import os
import sys

from ...errors import CompotError

EXIT_ERROR = 2


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse's own convention)
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message}\n")


def emit_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, indent=1, default=_json_default) + "\n")


def _json_default(o):
    import numpy as np

    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    raise TypeError(type(o).__name__)


def add_json(p):
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def add_model_args(p):
    p.add_argument("expr", help="model text, e.g. 'E[G8L4] + N[E[G8L4]]', a preset name (paper, "
                   "accurate) or @file to read it")
    p.add_argument("--cutoff", type=float, default=None, help="cutoff radius in Angstrom (default 5)")
    p.add_argument("--elements", default=None, help="comma-separated elements, e.g. Nb")


def model_text(expr: str) -> str:
    if expr.startswith("@"):
        path = expr[1:]
        try:
            with open(path, encoding="utf-8") as f:
                return f.read()
        except OSError as exc:
            raise CompotError(f"cannot read model file {path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise CompotError(f"model file {path} is not UTF-8 text") from None
    return expr


def parse_elements(s):
    return [e.strip() for e in s.split(",") if e.strip()] if s else None


def key_values(items, flag: str = "--config-weight", what: str = "TYPE=WEIGHT"):
    """Repeated ``KEY=NUMBER`` options as a dict; one-line errors naming the flag."""
    import math

    out = {}
    for item in items or []:
        if "=" not in item:
            raise CompotError(f"{flag} takes {what}, got {item!r}")
        k, v = item.split("=", 1)
        try:
            out[k.strip()] = float(v)
        except ValueError:
            raise CompotError(f"{flag} {item!r}: {v!r} is not a number") from None
        if not math.isfinite(out[k.strip()]):
            raise CompotError(f"{flag} {item!r}: {v!r} is not a finite number")
    return out


def config_weights(items):
    return key_values(items, "--config-weight", "TYPE=WEIGHT")


def check_output(path):
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
