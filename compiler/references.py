"""The paper's reference models, whose generated kernels are committed in ``generated/``."""

from __future__ import annotations

import re
from pathlib import Path

from ..grammar import parse
from .codegen import pyx_source
from .lower import lower

#: (model text, cutoff) of every committed reference kernel
REFERENCE_MODELS = [
    "G8",
    "C8",
    "E[G8L4]",
    "N[E[G8L4]]",
    "G8*G8",
    "G10*E[G8L4]",
    "E[G8L4] + N[E[G8L4]]",
    "G6 + E[T[G3 P2] L2]",
]
REFERENCE_CUTOFF = 5.0


def slug(text: str) -> str:
    """File-name form of a model text: E[G8L4] + N[E[G8L4]] -> E_G8L4_+N_E_G8L4."""
    s = text.replace(" ", "").replace("*", "x").replace("⊗", "x").replace("⊕", "+")
    s = re.sub(r"[\[\]]+", "_", s)
    return s.strip("_")


def reference_source(text: str) -> str:
    return pyx_source(lower(parse(text), cutoff=REFERENCE_CUTOFF))


def regenerate(directory: Path, check: bool = False) -> list[str]:
    """Write (or with ``check``, compare) every reference kernel; return the names that differ."""
    directory.mkdir(parents=True, exist_ok=True)
    differ = []
    for text in REFERENCE_MODELS:
        path = directory / f"{slug(text)}.pyx"
        new = reference_source(text)
        old = path.read_text(encoding="utf-8") if path.exists() else None
        if old != new:
            differ.append(path.name)
            if not check:
                tmp = path.with_suffix(".pyx.tmp")
                tmp.write_text(new, encoding="utf-8")
                tmp.replace(path)
    return differ
