"""The bad-input matrix through the CLI: one clear line naming what and where, exit status 2,
no traceback, no output file, no cache entry."""

import json
import os
import subprocess
import sys

import pytest

from .conftest import data_file

GOOD_FRAME = ('2\nLattice="3.3 0 0 0 3.3 0 0 0 3.3" Properties=species:S:1:pos:R:3:forces:R:3 '
              'energy=-20.0 pbc="T T T"\nNb 0 0 0 0.1 0 0\nNb 1.65 1.65 1.65 -0.1 0 0\n')

DATA = {
    "missing": None,
    "empty": "",
    "truncated": GOOD_FRAME[: len(GOOD_FRAME) - 30],
    "binary": "\x00\x01\x7f\xfe\xff" * 20,
    "no_energy": GOOD_FRAME.replace("energy=-20.0 ", ""),
    "no_forces": GOOD_FRAME.replace(":forces:R:3", "").replace(" 0.1 0 0", "").replace(" -0.1 0 0", ""),
    "nan_position": GOOD_FRAME.replace("Nb 1.65 1.65 1.65", "Nb nan 1.65 1.65"),
    "inf_position": GOOD_FRAME.replace("Nb 1.65 1.65 1.65", "Nb inf 1.65 1.65"),
    "overlap": GOOD_FRAME.replace("Nb 1.65 1.65 1.65", "Nb 0 0 0"),
    "other_element": GOOD_FRAME.replace("Nb 1.65", "Mo 1.65"),
}
EXPECT = {
    "missing": "no such file", "empty": "empty", "truncated": "cannot read", "binary": "cannot read",
    "no_energy": "no energy", "no_forces": "no forces", "nan_position": "non-finite position",
    "inf_position": "non-finite position", "overlap": "overlap", "other_element": "Mo",
}


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "compot", *args], capture_output=True, text=True, env=env)


def assert_clean_failure(p, fragment):
    assert p.returncode == 2, (p.returncode, p.stderr)
    lines = [ln for ln in p.stderr.strip().splitlines() if "warning" not in ln]
    assert len(lines) == 1 and lines[0].startswith("compot: error:"), p.stderr
    assert fragment in lines[0], p.stderr
    assert "Traceback" not in p.stderr


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from ase.io import read, write

    d = tmp_path_factory.mktemp("bad")
    small = d / "small.xyz"
    write(small, read(data_file("nb", "train"), ":6"))
    model = d / "model.json"
    p = run("fit", "G3", "--train", str(small), "-o", str(model), "--quiet", "--bo-init", "2", "--bo-iter", "1")
    assert p.returncode == 0, p.stderr
    return small, model


@pytest.mark.parametrize("case", sorted(DATA))
def test_bad_data_files(case, tmp_path, trained):
    path = tmp_path / f"{case}.xyz"
    if DATA[case] is not None:
        path.write_bytes(DATA[case].encode("latin-1"))
    out = tmp_path / "out.json"
    p = run("fit", "G3", "--elements", "Nb", "--train", str(path), "-o", str(out))
    assert_clean_failure(p, EXPECT[case])
    assert str(path) in p.stderr or case == "other_element"
    assert not out.exists()
    p = run("evaluate", str(trained[1]), str(path))
    assert_clean_failure(p, EXPECT[case])


@pytest.mark.parametrize("text,fragment", [
    ("", "empty"), ("G8 +", "line 1, column 5"), ("E[G8L4", "expected ']'"), ("((G8)", "')'"),
    ("G0", "at least 1"), ("E[G8L0]", "at least 1"), ("G-1", "unexpected"), ("G100000", "maximum"),
    ("F8", "unknown basis 'F8'"), ("G8 / G8", "unexpected"), ("cutoff = -2; G8", "positive"),
    ("cutoff = nan; G8", "unexpected"), ("cutoff = 50; G8", "maximum"), ("elements = Zz; G8", "Zz"),
])
def test_bad_model_text(text, fragment, tmp_path, trained):
    out = tmp_path / "m.json"
    cache = tmp_path / "cache"
    env = dict(os.environ, COMPOT_CACHE=str(cache))
    p = run("fit", text, "--train", str(trained[0]), "-o", str(out), env=env)
    assert_clean_failure(p, fragment)
    assert not out.exists()
    assert not cache.exists() or not [c for c in cache.iterdir() if not c.name.endswith(".lock")]


@pytest.mark.parametrize("option,value,fragment", [
    ("--cutoff", "-1", "cutoff"), ("--cutoff", "inf", "cutoff"), ("--cutoff", "1e9", "maximum"),
    ("--elements", "Unobtainium", "unknown chemical element"),
    ("--elements", "Mo", "do not include"), ("--elements", "Nb,Nb", "twice"),
])
def test_bad_model_options(option, value, fragment, tmp_path, trained):
    p = run("fit", "G3", option, value, "--train", str(trained[0]), "-o", str(tmp_path / "m.json"))
    assert_clean_failure(p, fragment)


def test_bad_model_files(tmp_path, trained):
    text = trained[1].read_text()
    doc = json.loads(text)
    cases = {
        "truncated.json": (text[: len(text) // 3], "truncated"),
        "newer.json": (json.dumps({**doc, "format_version": 2}), "newer"),
        "count.json": (json.dumps({**doc, "parameters": dict(list(doc["parameters"].items())[:-1])}),
                       "do not match"),
        "badmodel.json": (json.dumps({**doc, "model": "E[G8"}), "syntax error"),
        "notjson.json": ("\x00garbage", "not a valid model file"),
    }
    for name, (content, fragment) in cases.items():
        path = tmp_path / name
        path.write_text(content)
        for cmd in (["evaluate", str(path), str(trained[0])], ["fim", str(path), str(trained[0])]):
            assert_clean_failure(run(*cmd), fragment)
    assert_clean_failure(run("evaluate", str(tmp_path / "absent.json"), str(trained[0])), "no such model file")


@pytest.mark.parametrize("target,fragment", [
    ("missing/dir/m.json", "does not exist"), ("/proc/m.json", "not writable"), (".", "is a directory"),
])
def test_bad_output_paths(target, fragment, tmp_path, trained):
    out = target if target.startswith("/") else str(tmp_path / target)
    if target == ".":
        out = str(tmp_path)
    p = run("fit", "G3", "--train", str(trained[0]), "-o", out)
    assert_clean_failure(p, fragment)


def test_bad_numbers_in_options(tmp_path, trained):
    p = run("fit", "G3", "--train", str(trained[0]), "-o", str(tmp_path / "m.json"), "--energy-weight", "-1")
    assert_clean_failure(p, "energy_weight")
    p = run("fim", str(trained[1]), str(trained[0]), "--bits", "10")
    assert_clean_failure(p, "bits")
