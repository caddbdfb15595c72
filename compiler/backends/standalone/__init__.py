"""The standalone backend (``compot compile EXPR -o DIR``): sources that build without compot.

``<name>.pyx`` (the Cython module, self-contained), ``<name>.h`` (the same physics and passes as
plain C; see the signatures at the top of its passes section), ``setup.py`` (``python setup.py
build_ext --inplace`` needs only Cython, setuptools and a C compiler) and ``README.txt``.
"""

from __future__ import annotations

from importlib import resources
from string import Template

from ...derive import derive
from ...ir import LoweredModel
from .. import c, cython


def _template(name: str) -> Template:
    return Template(resources.files(__package__).joinpath("templates", name).read_text(encoding="utf-8"))


def sources(m: LoweredModel, name: str = "compot_model") -> dict[str, str]:
    """``{filename: text}`` of the standalone kernel ``name`` (a valid Python identifier)."""
    csrc = c.c_source(m, derive(m))
    files = {}
    files.update(cython.sources(m, name, csrc))
    files.update(c.sources(m, name, csrc=csrc))
    files["setup.py"] = _template("setup.py").substitute(name=name)
    files["README.txt"] = _template("README.txt").substitute(
        text=m.text, np=len(m.params), name=name, names="\n".join(m.parameter_names))
    return files
