"""The package's imports follow the pipeline's layers and form no cycle.

Layers, lowest first: the leaf modules ``compot.errors`` and ``compot.version``; ``grammar``;
``compiler``; ``runtime``; ``runtime.training``; ``runtime.cli``; and the facade ``compot``
itself.  A module may import its own layer or lower ones, never a higher one.  Every import
counts, including those inside functions (they hide cycles, they do not remove them)."""

from __future__ import annotations

import ast
from pathlib import Path

from .conftest import ROOT

#: package directories (compot.X -> folder)
PACKAGES = {"compot": ROOT / "api", "compot.grammar": ROOT / "grammar",
            "compot.compiler": ROOT / "compiler", "compot.runtime": ROOT / "runtime"}
LAYERS = [("compot.errors", 0), ("compot.version", 0), ("compot.grammar", 1), ("compot.compiler", 2),
          ("compot.runtime.training", 4), ("compot.runtime.cli", 5), ("compot.runtime", 3),
          ("compot.__main__", 6), ("compot", 6)]


def modules() -> dict[str, Path]:
    out = {}
    for pkg, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            rel = path.relative_to(folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            if pkg == "compot" and parts and parts[0] in ("grammar", "compiler", "runtime"):
                continue
            out[".".join([pkg, *parts])] = path
    return out


def layer(module: str) -> int:
    for prefix, k in LAYERS:
        if module == prefix or module.startswith(prefix + "."):
            return k
    raise AssertionError(f"{module} is in no layer")


def imports(module: str, path: Path, known: set[str]) -> set[str]:
    """compot modules imported anywhere in the file (absolute, resolved to known modules)."""
    is_pkg = path.name == "__init__.py"
    base = module.split(".") if is_pkg else module.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                root = base[:len(base) - node.level + 1]
                mod = ".".join(root + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            # ``from X import Y``: the submodule X.Y if there is one, else X itself
            names = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in known else mod for a in node.names]
        for name in names:
            if not name.startswith("compot"):
                continue
            # the longest known module that the name starts with
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module and not module.startswith(name + "."):
                found.add(name)   # (a submodule may import its own package's __init__)
    return found


def graph():
    mods = modules()
    known = set(mods)
    edges = {m: imports(m, p, known) for m, p in mods.items()}
    return mods, edges


def test_every_module_is_in_a_layer():
    for m in modules():
        layer(m)


def test_imports_follow_the_layers():
    _, edges = graph()
    bad = [f"{a} (layer {layer(a)}) imports {b} (layer {layer(b)})"
           for a, deps in edges.items() for b in deps if layer(b) > layer(a)]
    assert not bad, "imports against the layering:\n" + "\n".join(sorted(bad))


def test_no_import_cycles():
    _, edges = graph()
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for d in sorted(edges.get(m, ())):
            if state.get(d) == 1:
                cycles.append(stack[stack.index(d):] + [d])
            elif d not in state:
                visit(d)
        stack.pop()
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_compiler_does_no_file_io_and_never_reads_atoms():
    """The compiler returns sources; writing them is the runtime's job (and so is every structure)."""
    banned_calls = {"open", "write_text", "write_bytes", "mkdir", "unlink"}   # (os, shutil, pathlib: below)
    for path in (ROOT / "compiler").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                f = node.func
                name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
                assert name not in banned_calls, f"{path.relative_to(ROOT)}:{node.lineno} calls {name}"
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                mods = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                # ase.data (the periodic table) is allowed: it is about elements, not structures
                assert not any(m.startswith(("ase", "vesin", "os", "shutil", "pathlib"))
                               and not m.startswith(("ase.data", "chemical_symbols")) for m in mods), \
                    f"{path.relative_to(ROOT)}:{node.lineno} imports {mods}"


def test_the_checker_sees_function_local_imports(tmp_path):
    """The import walker finds imports inside functions (a cycle hidden there still counts)."""
    p = tmp_path / "m.py"
    p.write_text("def f():\n    from ..runtime.model import Model\n    return Model\n")
    assert imports("compot.compiler.m", p, {"compot.runtime.model", "compot.runtime"}) == \
        {"compot.runtime.model"}
