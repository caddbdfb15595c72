"""Reliability: interrupted and resumed fits, determinism, numerical safety, physical invariants,
killed builds, and property-based fuzzing of the language."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import compot
from compot import ModelError, ModelSyntaxError
from compot.grammar import parse, to_text
from compot.runtime.training import fit as train_mod
from compot.runtime.training.fit import fit

from .conftest import data_file


@pytest.fixture(scope="module")
def nb_small(tmp_path_factory):
    from ase.io import read, write

    frames = read(data_file("nb", "train"), ":")
    path = tmp_path_factory.mktemp("rel") / "nb_small.xyz"
    write(path, frames[:10] + frames[200:203] + frames[-2:])
    return path


KW = dict(bo_init_points=3, bo_iterations=4, progress=False)


def test_interrupted_fit_resumes_to_the_same_model(compiled, nb_small, tmp_path, monkeypatch):
    model = compiled("E[G4L2] + N[E[G4L2]]")
    reference = fit(model, nb_small, seed=3, **KW)
    ref_file = tmp_path / "ref.json"
    reference.save(ref_file)

    ck = tmp_path / "m.json.checkpoint"
    real = train_mod.Problem.solve_linear
    calls = {"n": 0}

    def interrupting(self, p, refine=False):
        calls["n"] += 1
        if calls["n"] == 9:
            raise KeyboardInterrupt
        return real(self, p, refine=refine)

    monkeypatch.setattr(train_mod.Problem, "solve_linear", interrupting)
    with pytest.raises(KeyboardInterrupt):
        fit(model, nb_small, seed=3, checkpoint=str(ck), **KW)
    monkeypatch.setattr(train_mod.Problem, "solve_linear", real)
    saved = json.loads(ck.read_text())
    assert len(saved["evaluations"]) == 8
    resumed = fit(model, nb_small, seed=3, checkpoint=str(ck), resume=True, **KW)
    assert resumed.n_replayed == reference.n_replayed + 8   # BO also re-probes points within a run
    out = tmp_path / "resumed.json"
    resumed.save(out)
    assert out.read_bytes() == ref_file.read_bytes()
    # a checkpoint of another fit is refused
    with pytest.raises(compot.CompotError, match="different fit"):
        fit(model, nb_small, seed=4, checkpoint=str(ck), resume=True, **KW)


def _sigint_default():
    # a test run started in the background by a shell without job control inherits SIGINT
    # ignored, and Python then never raises KeyboardInterrupt: give the child the default
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _cli(*args, env=None, **kw):
    return subprocess.Popen([sys.executable, "-m", "compot", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, preexec_fn=_sigint_default, **kw)


def test_ctrl_c_keeps_previous_model_and_resume_works(nb_small, tmp_path, compiled):
    compiled("E[G6L2] + N[E[G6L2]]")     # warm the kernel cache
    out = tmp_path / "model.json"
    out.write_text("previous model")
    args = ["fit", "E[G6L2] + N[E[G6L2]]", "--train", str(nb_small), "-o", str(out), "--quiet",
            "--bo-init", "6", "--bo-iter", "14"]
    proc = _cli(*args)
    ck = tmp_path / "model.json.checkpoint"
    deadline = time.time() + 120
    while not ck.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert proc.poll() is None, "fit finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "--resume" in err and "Traceback" not in err
    assert out.read_text() == "previous model"
    proc = _cli(*args, "--resume", "--json")
    so, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert json.loads(out.read_text())["format"] == "compot-model"
    assert not ck.exists()


def test_model_file_identical_with_one_or_two_threads(nb_small, tmp_path, compiled):
    compiled("E[G4L2]")
    files = []
    for threads in ("1", "2"):
        env = dict(os.environ, OMP_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads,
                   MKL_NUM_THREADS=threads)
        out = tmp_path / f"m{threads}.json"
        p = _cli("fit", "E[G4L2]", "--train", str(nb_small), "-o", str(out), "--quiet", "--bo-init", "3",
                 "--bo-iter", "3", "--seed", "11", "--threads", threads, env=env)
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
        files.append(out.read_bytes())
    assert files[0] == files[1]


def test_overflowing_proposals_are_penalised_not_fatal(compiled, nb_small):
    model = compiled("E[G4L2]")
    trained = fit(model, nb_small, seed=0, lambda_range=2000.0, **KW)   # exp(2000) overflows
    assert trained.metadata["n_failed_evaluations"] > 0
    assert all(np.isfinite(v) for v in trained.parameters.values())


def test_killed_build_leaves_no_entry(tmp_path):
    env = dict(os.environ, COMPOT_CACHE=str(tmp_path))
    code = "import compot; compot.compile('G5 * C2 + E[G2L3]', cutoff=4.4)"
    p = subprocess.Popen([sys.executable, "-c", code], env=env)
    deadline = time.time() + 60
    while time.time() < deadline and not list(tmp_path.glob(".build-*/*.pyx")):
        time.sleep(0.05)
    p.kill()
    p.wait()
    leftovers = [d.name for d in tmp_path.iterdir() if not d.name.endswith(".lock") and d.name != "index"]
    assert all(name.startswith(".build-") for name in leftovers)     # no (half) entry
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    names = [d.name for d in tmp_path.iterdir() if not d.name.endswith(".lock") and d.name != "index"]
    assert len(names) == 1 and not names[0].startswith(".")          # stale build removed


def test_nve_energy_conservation(compiled, nb_small):
    from ase.build import bulk
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
    from ase.md.verlet import VelocityVerlet
    from ase import units

    trained = fit(compiled("E[G6L2] + N[E[G6L2]]"), nb_small, seed=0, **KW)
    atoms = bulk("Nb", "bcc", a=3.32, cubic=True) * (4, 4, 4)          # 128 atoms
    atoms.calc = compot.Calculator(trained)
    MaxwellBoltzmannDistribution(atoms, temperature_K=600, rng=np.random.default_rng(0))
    dyn = VelocityVerlet(atoms, timestep=1.0 * units.fs)
    energies = []
    dyn.attach(lambda: energies.append(atoms.get_total_energy()), interval=1)
    dyn.run(200)
    drift = (max(energies) - min(energies)) / len(atoms)
    assert drift < 1e-4, drift


def test_virial_is_symmetric(compiled, nb_test_frames):
    model = compiled("E[G8L4] + N[E[G8L4]]")
    p = model.initial_parameters(0)
    nl = model.neighbor_list(nb_test_frames[5])
    _, _, virial = model.kernel_energy_forces(nl, model.parameter_vector(p))
    assert np.abs(virial - virial.T).max() < 1e-12 * np.abs(virial).max()


# ----------------------------------------------------------------------------- fuzzing
SUM = ["+", "⊕", "(+)"]
PROD = ["*", "⊗", "(x)"]


@st.composite
def terms(draw):
    kind = draw(st.sampled_from(["G", "C", "E", "N"]))
    n = draw(st.integers(1, 3))
    if kind in ("G", "C"):
        return f"{kind}{n}"
    m = draw(st.integers(1, 2))
    sep = draw(st.sampled_from(["", " "]))
    inner = f"E[G{n}{sep}L{m}]"
    return inner if kind == "E" else f"N[{inner}]"


def exprs(depth=2):
    if depth == 0:
        return terms()
    sub = exprs(depth - 1)
    return st.one_of(terms(), st.tuples(sub, st.sampled_from(SUM + PROD), sub).map(
        lambda t: f"({t[0]} {t[1]} {t[2]})"))


def expected_counts(text):
    """Parameter counts by the rules of docs/theory.md §4.2–4.4, computed on the AST independently of lowering."""
    from compot.grammar import nodes as n

    model = parse(text)
    linear = nonlinear = 0

    def count(e, additive, scope):
        nonlocal linear, nonlinear
        if isinstance(e, n.Sum):
            for k, t in enumerate(e.terms):
                count(t, additive and k == 0, scope)
        elif isinstance(e, n.Product):
            count(e.left, True, set())
            count(e.right, True, set())
            linear += 1 if additive else 0
        else:
            spec = e.basis.spec
            if spec not in scope:
                scope.add(spec)
                nonlinear += 2 if spec.kind == "G" else 0
            layers = getattr(e, "layers", 1)
            linear += spec.size * layers + (1 if additive else 0)
            nonlinear += layers if isinstance(e, (n.Exp, n.NExp)) else 0

    count(model.expr, True, set())
    return linear, nonlinear


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(exprs())
def test_fuzz_valid_models_roundtrip_and_count(text):
    import warnings

    from compot.compiler.lower import lower

    m = parse(text)
    assert parse(to_text(m)) == m
    assert parse(to_text(m, unicode=True)) == m
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        low = lower(m)
    assert (sum(p.linear for p in low.params), sum(not p.linear for p in low.params)) == expected_counts(text)
    assert len(set(low.parameter_names)) == len(low.parameter_names)


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(exprs(1))
def test_fuzz_random_models_are_finite_and_fd_exact(text):
    import warnings

    from ase.build import bulk

    from .test_kernels import fd_forces, rel

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = compot.compile(text, cutoff=4.5)
    atoms = bulk("Nb", "bcc", a=3.3, cubic=True)
    atoms.rattle(0.1, seed=2)
    p = model.parameter_vector(model.initial_parameters(1))
    r = model.evaluate(atoms, p)
    assert np.isfinite(r["energy"]) and np.all(np.isfinite(r["forces"]))
    assert rel(r["forces"], fd_forces(model, atoms, p)) < 1e-6


VALID = ["E[G8L4] + N[E[G8L4]]", "g = G8; E[g L4] * C3",
         "m = basis 2 (a = 1.0 in [0.5, 2]): exp(-nu*a*r); E[m L2]", "cutoff = 4.0; elements = Nb; G3"]


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=60).map(lambda b: b.decode("latin-1")),
                 st.text(max_size=60),
                 st.tuples(st.sampled_from(VALID), st.integers(0, 60), st.integers(0, 5), st.text(max_size=4))
                 .map(lambda t: t[0][:t[1]] + t[3] + t[0][t[1] + t[2]:])))
def test_fuzz_garbage_only_raises_documented_errors(text):
    try:
        parse(text)
    except (ModelSyntaxError, ModelError) as exc:
        assert "\n" not in str(exc)
