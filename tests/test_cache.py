"""Kernel cache: hits, COMPOT_CACHE, corruption detection, concurrent builds."""

import json
import os
import subprocess
import sys
import textwrap


import compot
from compot.runtime import cache


def test_second_compile_is_a_cache_hit(compiled):
    first = compiled("E[G8L4] + N[E[G8L4]]")
    again = compot.compile("E[G8L4] + N[E[G8L4]]", cutoff=5.0)
    assert again.cache_hit and again.key == first.key
    entry = cache.cache_root() / first.key
    assert entry.is_dir() and (entry / cache.MANIFEST).exists()


def test_key_depends_on_text_and_cutoff():
    assert cache.kernel_key("G8", 5.0, None) != cache.kernel_key("G8", 4.0, None)
    assert cache.kernel_key("G8", 5.0, None) != cache.kernel_key("G9", 5.0, None)
    assert cache.kernel_key("G8", 5.0, None) == cache.kernel_key("G8", 5.0, None)


SCRIPT = textwrap.dedent("""
    import json, sys, compot
    from ase.build import bulk
    m = compot.compile(sys.argv[1], cutoff=5.0)
    a = bulk("Nb", "bcc", a=3.3, cubic=True)
    print(json.dumps({"hit": m.cache_hit, "e": m.evaluate(a, m.initial_parameters(0))["energy"]}))
""")


def _run(text, cache_dir, n=1):
    env = dict(os.environ, COMPOT_CACHE=str(cache_dir))
    procs = [subprocess.Popen([sys.executable, "-c", SCRIPT, text], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(n)]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
        outs.append(json.loads(out))
    return outs


def test_concurrent_builds_and_corruption(tmp_path):
    text = "E[G3L2] + G2"   # a model no other test compiles
    outs = _run(text, tmp_path, n=8)
    assert sum(not o["hit"] for o in outs) == 1, outs          # exactly one process built it
    assert len({o["e"] for o in outs}) == 1
    entries = [p for p in tmp_path.iterdir() if not p.name.endswith(".lock") and p.name != "index"]
    assert len(entries) == 1, entries                           # one entry, no leftovers
    assert len(list((tmp_path / "index").glob("*.json"))) == 1   # and one request in the index
    entry = entries[0]
    manifest = json.loads((entry / cache.MANIFEST).read_text())
    so = entry / manifest["extension"]
    # corrupt the compiled module: detected by checksum and rebuilt
    so.write_bytes(so.read_bytes()[: so.stat().st_size // 2])
    (again,) = _run(text, tmp_path)
    assert not again["hit"] and again["e"] == outs[0]["e"]
    # a missing manifest is an incomplete entry: rebuilt too
    (entry / cache.MANIFEST).unlink()
    (again,) = _run(text, tmp_path)
    assert not again["hit"]
    (again,) = _run(text, tmp_path)
    assert again["hit"]


def test_failed_build_leaves_no_entry(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPOT_CACHE", str(tmp_path))
    monkeypatch.setenv("CC", "false")   # a C compiler that always fails
    try:
        compot.compile("G7 * C3", cutoff=4.0)
    except compot.BuildError as exc:
        assert "C compiler failed" in str(exc)
    else:
        raise AssertionError("expected a BuildError")
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == []


def test_cache_location_override(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPOT_CACHE", str(tmp_path / "here"))
    assert cache.cache_root() == tmp_path / "here"


def test_warm_compile_needs_neither_sympy_nor_lark(tmp_path):
    """A request seen before is answered from the index: no parsing, no SymPy, same model; a
    damaged index entry falls back to the full path, which writes it anew."""
    text = "E[G2L2] + G3 + G3"        # warns (degenerate): the warning is repeated on index hits
    code = textwrap.dedent("""
        import json, sys, warnings
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            import compot
            m = compot.compile(sys.argv[1], cutoff=5.0)
        loaded = {"sympy": "sympy" in sys.modules, "lark": "lark" in sys.modules}
        from ase.build import bulk
        e = m.evaluate(bulk("Nb", "bcc", a=3.3, cubic=True), m.initial_parameters(1))["energy"]
        print(json.dumps({"hit": m.cache_hit, **loaded, "e": e, "names": m.parameter_names, "warned": any("degenerate" in str(x.message) for x in w)}))
    """)

    def run():
        env = dict(os.environ, COMPOT_CACHE=str(tmp_path))
        p = subprocess.run([sys.executable, "-c", code, text], env=env, capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout)

    cold, warm = run(), run()
    assert not cold["hit"] and cold["sympy"] and cold["warned"]
    assert warm["hit"] and not warm["sympy"] and not warm["lark"] and warm["warned"]
    assert warm["e"] == cold["e"] and warm["names"] == cold["names"]   # initial_parameters lowered lazily
    (entry,) = (tmp_path / "index").glob("*.json")
    entry.write_text("{not json")
    again = run()
    assert again["hit"] and again["sympy"]          # full path (kernel still cached) ...
    assert json.loads(entry.read_text())["key"]     # ... which rewrote the index entry
