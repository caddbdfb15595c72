"""The golden outputs in ``generated/``: the reference models' Cython kernels, plus one LAMMPS
pair style and one standalone C source.  Regenerating them must reproduce the committed files
byte for byte (``tests/test_generated.py``; ``pytest tests/test_generated.py --update-golden``
rewrites them).  Pure: :func:`golden_sources` returns ``{relative path: text}``."""

from __future__ import annotations

import re

from .backends import c, cython, lammps
from .pipeline import lower_text

#: model texts of the committed reference kernels
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
#: the model of the golden LAMMPS pair style and standalone source
EXPORT_REFERENCE = "E[G8L4] + N[E[G8L4]]"


def slug(text: str) -> str:
    """File-name form of a model text: E[G8L4] + N[E[G8L4]] -> E_G8L4_+N_E_G8L4."""
    s = text.replace(" ", "").replace("*", "x").replace("⊗", "x").replace("⊕", "+")
    s = re.sub(r"[\[\]]+", "_", s)
    return s.strip("_")


def reference_parameters(m) -> list[float]:
    """Fixed, deterministic parameters for golden exports: nonlinear parameters at the middle of
    their search domain, linear ones 0.01 k / P (k = 1..P)."""
    out = []
    for k, q in enumerate(m.params):
        if q.linear:
            out.append(0.01 * (k + 1) / len(m.params))
        elif q.value is not None:
            out.append(float(q.value))
        else:
            out.append(0.5 * (q.lower + q.upper))
    return out


def golden_sources() -> dict[str, str]:
    files = {}
    for text in REFERENCE_MODELS:
        files[f"{slug(text)}.pyx"] = cython.pyx_source(lower_text(text, cutoff=REFERENCE_CUTOFF))
    m = lower_text(EXPORT_REFERENCE, cutoff=REFERENCE_CUTOFF, elements=["Nb"])
    for name, text in c.sources(m, "paper").items():
        files[f"standalone/{name}"] = text
    plugin = lammps.sources(m, reference_parameters(m), "paper", version="22 Jul 2025",
                            include="/path/to/lammps/src")
    files["lammps/pair_compot_paper.cpp"] = plugin["pair_compot_paper.cpp"]
    return files
