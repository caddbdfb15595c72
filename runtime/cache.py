"""Compile generated Cython kernels into a content-addressed cache and load them.

Layout: ``$COMPOT_CACHE`` (default ``~/.cache/compot``) / ``<key>/`` holding the ``.pyx``, the
compiled extension and ``manifest.json`` (with the extension's SHA-256).  An entry is built in a
temporary directory beside it and renamed into place under an exclusive file lock, so concurrent
builds of one key are safe and an interrupted build never leaves a half entry.  An entry whose
checksum does not match is discarded and rebuilt.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.machinery
import importlib.util
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from functools import lru_cache
from pathlib import Path

from ..errors import BuildError

MANIFEST = "manifest.json"
DEFAULT_CFLAGS = ("-O3", "-fno-math-errno", "-fopenmp", "-fPIC", "-shared")


def cache_root() -> Path:
    env = os.environ.get("COMPOT_CACHE")
    if env:
        root = Path(env)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = Path(base) / "compot"
    return root


def compiler() -> str:
    return os.environ.get("CC", "cc")


@lru_cache(maxsize=1)
def _simd_exp_flags() -> tuple[str, ...]:
    """Vector exp from glibc's libmvec (x86-64 Linux), when its link library is installed, and
    AVX2/FMA when the CPU has them (kernels are cached per machine; the flags are in the key)."""
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        return ()
    dirs = ["/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64", "/lib64", "/usr/lib"]
    if not any(os.path.exists(os.path.join(d, "libmvec.so")) for d in dirs):
        return ()
    flags = ("-DCOMPOT_SIMD_EXP",)
    try:                                   # 4-wide exp and fused multiply-add where the CPU has them
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].split() for ln in f if ln.startswith("flags")), [])
        if "avx2" in cpu and "fma" in cpu:
            flags += ("-mavx2", "-mfma")
    except OSError:
        pass
    return flags


def cflags() -> tuple[str, ...]:
    extra = tuple(os.environ.get("COMPOT_CFLAGS", "").split())
    if os.environ.get("COMPOT_NO_SIMD_EXP"):
        return DEFAULT_CFLAGS + extra
    return DEFAULT_CFLAGS + _simd_exp_flags() + extra


@lru_cache(maxsize=1)
def generator_fingerprint() -> str:
    """Hash of the grammar and compiler sources: any change to them invalidates cached kernels."""
    h = hashlib.sha256()
    for pkg in ("compot.grammar", "compot.compiler"):       # located, not imported (no SymPy/Lark)
        root = Path(next(iter(importlib.util.find_spec(pkg).submodule_search_locations)))
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.suffix in (".py", ".lark", ".c", ".pyx"):
                h.update(str(path.relative_to(root)).encode())
                h.update(path.read_bytes())
    return h.hexdigest()


def _toolchain() -> dict:
    """Everything besides the model that a compiled kernel depends on."""
    from ..version import __version__
    import Cython

    from ..compiler.version import GENERATOR_VERSION

    return {"compot": __version__, "generator": GENERATOR_VERSION, "sources": generator_fingerprint(),
            "cc": compiler(), "cflags": list(cflags()), "cython": Cython.__version__,
            "python": sys.implementation.cache_tag, "platform": platform.machine(),
            "soabi": sysconfig.get_config_var("EXT_SUFFIX")}


def _digest(ident: dict) -> str:
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:32]


def kernel_key(canonical_text: str, cutoff: float, elements) -> str:
    return _digest({"text": canonical_text, "cutoff": repr(float(cutoff)),
                    "elements": list(elements) if elements else None, **_toolchain()})


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _module_name(key: str) -> str:
    return f"compot_kernel_{key}"


def _valid(entry: Path, key: str) -> Path | None:
    """Return the extension path if the entry is complete and its checksum matches."""
    try:
        manifest = json.loads((entry / MANIFEST).read_text())
        so = entry / manifest["extension"]
        if manifest.get("key") != key or _sha256(so) != manifest["sha256"]:
            return None
        return so
    except (OSError, ValueError, KeyError, TypeError):
        return None


@contextlib.contextmanager
def _locked(path: Path):
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _discard(entry: Path) -> None:
    if entry.exists():
        trash = entry.with_name(f".trash-{entry.name}-{os.getpid()}-{time.time_ns()}")
        os.rename(entry, trash)
        shutil.rmtree(trash, ignore_errors=True)


def _remove_stale_builds(root: Path, key: str) -> None:
    """Remove build directories of this key left by processes that died (killed mid-build)."""
    for d in root.glob(f".build-{key[:12]}-*"):
        try:
            pid = int(d.name.split("-")[2])
        except (IndexError, ValueError):
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(d, ignore_errors=True)
        except PermissionError:
            pass


def _build(entry: Path, key: str, pyx_text: str) -> None:
    name = _module_name(key)
    _remove_stale_builds(entry.parent, key)
    tmp = Path(tempfile.mkdtemp(prefix=f".build-{key[:12]}-{os.getpid()}-", dir=entry.parent))
    try:
        pyx = tmp / f"{name}.pyx"
        pyx.write_text(pyx_text, encoding="utf-8")
        c_file = tmp / f"{name}.c"
        _cythonize(pyx, c_file)
        so = tmp / (name + importlib.machinery.EXTENSION_SUFFIXES[0])
        cmd = [compiler(), *cflags(), f"-I{sysconfig.get_paths()['include']}", str(c_file), "-o",
               str(so), *(["-lmvec"] if "-DCOMPOT_SIMD_EXP" in cflags() else []), "-lm"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise BuildError(f"C compiler failed on kernel {key}: {proc.stderr.strip()[-2000:]}")
        c_file.unlink()
        manifest = {"key": key, "extension": so.name, "sha256": _sha256(so), "module": name}
        with open(tmp / MANIFEST, "w") as f:
            json.dump(manifest, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, entry)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _cythonize(pyx: Path, c_file: Path) -> None:
    from Cython.Compiler.Main import CompilationOptions, compile_single, default_options

    opts = CompilationOptions(default_options, output_file=str(c_file), language_level=3)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        result = compile_single(str(pyx), opts, pyx.stem)
    if result.num_errors or not c_file.exists():
        raise BuildError(f"Cython failed on {pyx.name}: {err.getvalue().strip()[-2000:]}")


def load_kernel(key: str, make_pyx) -> tuple[object, bool]:
    """Load the kernel ``key``, building it from ``make_pyx()`` if needed.

    Returns ``(module, built)``; ``built`` is False on a cache hit.
    """
    name = _module_name(key)
    if name in sys.modules:
        return sys.modules[name], False
    root = cache_root()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BuildError(f"cannot create the kernel cache {root}: {exc.strerror}") from None
    entry = root / key
    built = False
    so = _valid(entry, key)
    if so is None:
        with _locked(root / f"{key}.lock"):
            so = _valid(entry, key)
            if so is None:
                _discard(entry)
                _build(entry, key, make_pyx())
                built = True
                so = _valid(entry, key)
                if so is None:
                    raise BuildError(f"kernel {key} failed its checksum right after building")
    spec = importlib.util.spec_from_file_location(name, so)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except ImportError as exc:
        raise BuildError(f"cannot load kernel {so}: {exc}") from None
    sys.modules[name] = module
    return module, built


# ----------------------------------------------------------------------------- request index
# compot.compile(text) on a warm cache should not need SymPy or Lark: the index maps the exact
# request (text as given, cutoff, elements) to the kernel key and the model's parameter table.
# Entries are written only after a successful compile; anything unreadable falls back to the
# full path, which re-creates the entry.

def request_id(text, cutoff, elements) -> str | None:
    """Identity of a compile request, or None when it is not a plain one (the full path decides)."""
    if not isinstance(text, str):
        return None
    if cutoff is not None:
        if isinstance(cutoff, bool) or not isinstance(cutoff, (int, float)):
            return None
        cutoff = repr(float(cutoff))
    if isinstance(elements, str):
        elements = [elements]
    if elements is not None:
        try:
            elements = [e for e in elements]
        except TypeError:
            return None
        if not all(isinstance(e, str) for e in elements):
            return None
    return _digest({"text": text, "cutoff": cutoff, "elements": elements, **_toolchain()})


def _index_path(rid: str) -> Path:
    return cache_root() / "index" / f"{rid}.json"


def read_index(rid: str) -> dict | None:
    try:
        with open(_index_path(rid), encoding="utf-8") as f:
            entry = json.load(f)
        if not isinstance(entry, dict) or not {"key", "meta", "warnings"} <= entry.keys():
            return None
        return entry
    except (OSError, ValueError):
        return None


def write_index(rid: str, key: str, meta: dict, warnings: list) -> None:
    from .files import atomic_write_text

    path = _index_path(rid)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps({"key": key, "meta": meta, "warnings": list(warnings)}))
    except Exception:          # the index is an optimisation; a read-only cache just skips it
        pass


def load_cached_kernel(key: str):
    """The kernel ``key`` if it is in the cache (never builds), else None."""
    class _Missing(Exception):
        pass

    def missing():
        raise _Missing

    try:
        return load_kernel(key, missing)[0]
    except (_Missing, BuildError):
        return None
