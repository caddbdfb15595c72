"""``compot compile EXPR -o DIR``: standalone kernel sources that build without compot.

Writes ``<name>.pyx`` (the Cython module, self-contained), ``<name>.h`` (the same physics and
driver loops as plain C, see the signatures at the top of its driver section), ``setup.py``
(``python setup.py build_ext --inplace`` needs only Cython, setuptools and a C compiler) and
``README.txt``.  Files are written atomically.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..compiler.codegen import c_source, pyx_source
from ..compiler.derive import derive
from ..compiler.lower import lower
from ..errors import CompotError
from ..grammar import parse
from .files import atomic_write_text

_SETUP = '''"""Build the compot kernel {name} without compot: python setup.py build_ext --inplace"""
from setuptools import Extension, setup
from Cython.Build import cythonize

setup(
    name="{name}",
    ext_modules=cythonize([Extension("{name}", ["{name}.pyx"], extra_compile_args=["-O3"])],
                          language_level=3),
)
'''

_README = """compot kernel for: {text}
parameters ({np}), in this order:
{names}

Build the Python module:   python setup.py build_ext --inplace
Use it:                     import {name}; e, f, virial = {name}.energy_forces(n, s, i, j, d, params)
  n: number of atoms; s: int32 species index per atom (0..N_SPECIES-1, element order of the model);
  i, j: int32 arrays of a FULL neighbour list (both directions);
  d: float64 array (3*npairs) of R_j + shift - R_i; params: float64 array in the order above.
  stress = virial / cell volume (ASE sign convention, eV/A^3).
  jacobian(n, s, i, j, d, params) -> J (1+3n, P), energies, forces.

Use the C directly:         #include "{name}.h"
  int compot_energy_forces(int n, const int* species, int npairs, const int* pi, const int* pj,
                           const double* d, const double* p, double* energies, double* forces,
                           double* virial);
  int compot_jacobian(int n, const int* species, int npairs, const int* pi, const int* pj,
                      const double* d, const double* p, double* J, double* energies, double* forces);
  Both return 0 on success, 1 when out of memory.  Link with -lm.
"""


def write_standalone(text: str, outdir, cutoff=None, elements=None, name: str = "compot_model"):
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise CompotError(f"module name {name!r} is not a valid Python identifier")
    lowered = lower(parse(text), cutoff=cutoff, elements=elements)
    csrc = c_source(lowered, derive(lowered))
    files = {
        f"{name}.pyx": pyx_source(lowered, csrc),
        f"{name}.h": csrc,
        "setup.py": _SETUP.format(name=name),
        "README.txt": _README.format(text=lowered.text, np=len(lowered.params), name=name,
                                     names="\n".join(lowered.parameter_names)),
    }
    out = Path(outdir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CompotError(f"cannot create output directory {out}: {exc.strerror}") from None
    written = []
    for fname, content in files.items():
        atomic_write_text(out / fname, content)
        written.append(str(out / fname))
    return written
