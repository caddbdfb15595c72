"""The Cython backend: the C source wrapped as a Python extension module for numpy arrays.

``templates/kernel.pyx`` declares the pass functions of the C backend and wraps them; the C source
is embedded verbatim (``cdef extern from *``), so the module is self-contained and deterministic.
The runtime compiles it into the kernel cache (``compot.runtime.cache``).
"""

from __future__ import annotations

from importlib import resources

from ....version import __version__
from ...ir import LoweredModel
from ..c import c_source


def pyx_source(m: LoweredModel, csrc: str | None = None) -> str:
    """The Cython module wrapping the C source (self-contained, deterministic)."""
    if csrc is None:
        csrc = c_source(m)
    tpl = resources.files(__package__).joinpath("templates", "kernel.pyx").read_text(encoding="utf-8")
    indented = "\n".join(("    " + ln) if ln else "" for ln in csrc.rstrip("\n").split("\n"))
    rep = {
        "@VERSION@": __version__,
        "@TEXT@": m.text.replace("\n", " "),
        "@TEXT_LITERAL@": repr(m.text),
        "@CUTOFF@": repr(float(m.cutoff)),
        "@NAMES@": "(" + "".join(repr(n) + ", " for n in m.parameter_names) + ")",
        "@NPSI@": str(len(m.psi)),
        "@NCHI@": str(len(m.chi)),
        "@NSPECIES@": str(m.n_species),
        "@NP@": str(len(m.params)),
        "@CSOURCE@": indented,
    }
    out = tpl
    for k, v in rep.items():
        out = out.replace(k, v)
    return out


def sources(m: LoweredModel, name: str = "compot_model", csrc: str | None = None) -> dict[str, str]:
    """``{name.pyx: the module}``."""
    return {f"{name}.pyx": pyx_source(m, csrc)}
