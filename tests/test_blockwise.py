"""Blockwise J^T J (training/blockwise.py): exact sums, identical to the in-memory Gram matrix
whatever the blocking and the number of Dask workers."""

import json
import subprocess
import sys

import numpy as np
import pytest

import compot
from compot.runtime.data import read_dataset
from compot.runtime.training.blockwise import add_grams, block_gram, blockwise_gram, gram_values_equal
from compot.runtime.training.fim import exact_gram, fim, fim_of_gram, linear_jacobian

from .conftest import data_file, rich_parameters


def test_exact_sums_of_blocks_equal_the_whole():
    rng = np.random.default_rng(0)
    J = rng.normal(size=(300, 7)) * np.exp2(rng.integers(-300, 300, size=(1, 7)))
    J[:, 3] = 0.0                                             # an empty column
    J[17, 5] = 5e-320                                         # a subnormal
    whole = exact_gram(J)
    for cuts in ([100, 200], [1, 2, 3, 299], [150]):
        total = None
        for part in np.split(J, cuts):
            total = add_grams(total, exact_gram(part))
        assert gram_values_equal(total, whole)
    total = None
    for part in reversed(np.split(J, [40, 90])):              # order does not matter either
        total = add_grams(total, exact_gram(part))
    assert gram_values_equal(total, whole)
    J2 = J.copy()
    J2[0, 0] = np.nextafter(J2[0, 0], np.inf)                 # one ulp is seen
    assert not gram_values_equal(exact_gram(J2), whole)


@pytest.fixture(scope="module")
def trained(compiled, tmp_path_factory):
    model = compiled("E[G4L2] + N[E[G4L2]]", elements=["Nb"])
    m = model.with_parameters(rich_parameters(model, 1))
    path = tmp_path_factory.mktemp("bw") / "m.json"
    m.save(path)
    return m, path


def test_blockwise_gram_is_the_in_memory_gram(trained):
    model, _ = trained
    path = data_file("nb", "test")
    whole = exact_gram(linear_jacobian(model, read_dataset(path)))
    serial, info = blockwise_gram(model, path, block_atoms=120)
    assert info["blocks"] > 3 and info["structures"] == len(read_dataset(path))
    assert gram_values_equal(serial, whole)
    pooled, info2 = blockwise_gram(model, path, block_atoms=200, workers=2)
    assert info2["atoms"] == info["atoms"] and info2["peak_worker_mib"] > 0
    assert gram_values_equal(pooled, whole)
    a = fim(model, read_dataset(path))
    b = fim_of_gram(model, pooled)
    assert a.eigenvalue_strings(40) == b.eigenvalue_strings(40)


def test_fim_cli_blockwise_and_errors(trained, tmp_path):
    _, model_path = trained
    path = str(data_file("nb", "test"))
    run = lambda *a: subprocess.run([sys.executable, "-m", "compot", "fim", str(model_path), path, *a],
                                    capture_output=True, text=True)
    p0, p1 = run("--json"), run("--json", "--block-atoms", "150", "--workers", "0")
    assert p0.returncode == 0 and p1.returncode == 0, p1.stderr
    a, b = json.loads(p0.stdout), json.loads(p1.stdout)
    assert a["eigenvalues"] == b["eigenvalues"] and b["blockwise"]["blocks"] > 1
    bad = run("--scheduler", "tcp://127.0.0.1:9")
    assert bad.returncode != 0 and "cannot reach the Dask scheduler" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    bad = run("--block-atoms", "0")
    assert bad.returncode != 0 and "block size" in bad.stderr and "Traceback" not in bad.stderr
    empty = tmp_path / "empty.xyz"
    empty.write_text("")
    bad = subprocess.run([sys.executable, "-m", "compot", "fim", str(model_path), str(empty), "--block-atoms", "10"],
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "empty" in bad.stderr and "Traceback" not in bad.stderr


def test_block_gram_reports_its_block(trained):
    model, _ = trained
    from compot.runtime.modelfile import model_document

    frames = compot.runtime.data.read_structures(data_file("nb", "test"), ":3")
    g, rows, atoms, peak = block_gram(model_document(model), frames)
    assert rows == sum(1 + 3 * len(a) for a in frames) and atoms == sum(len(a) for a in frames)
    assert gram_values_equal(g, exact_gram(np.vstack([model.jacobian(a)[:, [
        k for k, n in enumerate(model.parameter_names) if n in set(model.linear_names)]] for a in frames])))
