"""Training, model files, metrics and FIM."""

import json
import math
import subprocess
import sys

import mpmath
import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.singlepoint import SinglePointCalculator

import compot
from compot import DataError, ModelFileError
from compot.runtime.data import as_dataset, read_dataset
from compot.runtime.metrics import compute_metrics
from compot.runtime.training.fim import eigenvalues, exact_gram, fim
from compot.compiler.structure import linear_groups
from compot.runtime.training.fit import FitOptions, Problem, fit

from .conftest import data_file


def synthetic(model, p, n=8, seed=0, size=(2, 2, 2)):
    """Structures labelled by the model itself at parameters p."""
    rng = np.random.default_rng(seed)
    frames = []
    for k in range(n):
        a = bulk("Nb", "bcc", a=3.3 + 0.05 * rng.normal(), cubic=True) * size
        a.rattle(0.1, seed=int(rng.integers(1 << 30)))
        r = model.evaluate(a, p)
        a.calc = SinglePointCalculator(a, energy=r["energy"], forces=r["forces"])
        a.info["config_type"] = "even" if k % 2 == 0 else "odd"
        frames.append(a)
    return as_dataset(frames)


def test_linear_least_squares_recovers_coefficients(compiled):
    model = compiled("E[G4L2] + N[E[G4L2]]")
    p_true = model.parameter_vector(model.initial_parameters(5))
    data = synthetic(model, p_true)
    # unregularised and unconstrained: the data are exact, so the solve must recover them exactly
    prob = Problem(model, data, FitOptions(regularization="none", isolated_atom_constraint=False, physics_constraints=False))
    start = p_true.copy()
    start[prob.linear_idx] = 0.0
    p, loss = prob.solve_linear(start)
    assert loss < 1e-20
    assert np.abs(p - p_true).max() < 1e-6 * np.abs(p_true).max()


def test_als_fits_products_exactly(compiled):
    model = compiled("G3 * G3")
    p_true = model.parameter_vector(model.initial_parameters(3))
    p_true[model.parameter_names.index("t2.s")] = 1.0
    data = synthetic(model, p_true, n=6)
    prob = Problem(model, data, FitOptions(regularization="none", isolated_atom_constraint=False, physics_constraints=False))
    assert prob.is_bilinear and len(prob.groups) == 2
    start = p_true.copy()
    start[prob.linear_idx] = 0.0
    _, als_loss = prob.solve_linear(start)
    p, loss = prob.solve_linear(start, refine=True)
    _, pred = prob.jacobian(p)
    assert prob.loss(pred) == pytest.approx(loss, rel=1e-9)
    # predictions, not parameters, are identifiable (scale symmetry); the joint refinement gets
    # orders of magnitude below alternating least squares alone
    assert loss < 1e-3 * als_loss
    assert prob.rms(loss) < 1e-6 * np.abs(prob.y).max()


def test_linear_groups_colouring():
    from compot.compiler.lower import lower
    from compot.grammar import parse

    assert len(linear_groups(lower(parse("(G2 * G2) * G2")))) == 3
    ir = lower(parse("G2 * G2 + G3 * G3"))
    groups = linear_groups(ir)
    names = [[ir.params[k].name for k in g] for g in groups]
    assert len(groups) == 2 and "t1.c[1]" in names[0] and "t3.c[1]" in names[0]
    assert len(linear_groups(lower(parse("E[G2L2] + N[E[G2L2]]")))) == 1


def test_fit_recovers_nonlinear_parameters(compiled):
    model = compiled("G4")
    p_true = model.parameter_vector({"b1.alpha": 0.08, "b1.beta": 1.7, "t1.c[1]": -0.4, "t1.c[2]": 0.9,
                                     "t1.c[3]": -1.2, "t1.c[4]": 0.7, "t1.s": -2.0})
    data = synthetic(model, p_true, n=6)
    # exact synthetic data: no ridge and no isolated-atom constraint, so the truth is the minimum
    trained = fit(model, data, seed=1, optimizer="bo+varpro", bo_init_points=4, bo_iterations=8,
                  progress=False, regularization="none", isolated_atom_constraint=False, physics_constraints=False,
                  energy_weight=1.0)        # the paper's weights: the search budget was sized for them
    got = trained.parameter_vector()
    assert got[0] == pytest.approx(0.08, rel=1e-5)
    assert got[1] == pytest.approx(1.7, rel=1e-5)
    assert trained.metadata["metrics"]["train"]["force_rmse"] < 1e-6


@pytest.fixture(scope="module")
def small_nb(tmp_path_factory):
    """First structures of the Nb training set, written to a file."""
    from ase.io import read, write

    frames = read(data_file("nb", "train"), ":")
    picked = frames[:12] + frames[200:204] + frames[-3:]
    path = tmp_path_factory.mktemp("data") / "small.xyz"
    write(path, picked)
    return path


def test_fit_is_reproducible_and_model_files_round_trip(compiled, small_nb, tmp_path):
    model = compiled("E[G4L2]")
    kw = dict(bo_init_points=3, bo_iterations=3, progress=False)
    a = fit(model, small_nb, seed=7, **kw)
    b = fit(model, small_nb, seed=7, **kw)
    assert a.parameters == b.parameters
    path = tmp_path / "m.json"
    a.save(path)
    loaded = compot.load(path)
    assert loaded.parameters == a.parameters
    ds = read_dataset(small_nb)
    for s in ds.structures[:3]:
        r1, r2 = a.evaluate(s.atoms), loaded.evaluate(s.atoms)
        assert r1["energy"] == r2["energy"] and np.array_equal(r1["forces"], r2["forces"])
    assert json.dumps(loaded.metrics(ds)) == json.dumps(a.metadata["metrics"]["train"])  # NaN-safe
    doc = json.loads(path.read_text())
    assert doc["training"]["seed"] == 7 and doc["training"]["train_data"]["sha256"] == ds.sha256()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]   # no temp files left


def test_model_file_errors(compiled, small_nb, tmp_path):
    model = compiled("G3")
    m = fit(model, small_nb, seed=0, bo_init_points=2, bo_iterations=1, progress=False)
    good = tmp_path / "good.json"
    m.save(good)
    text = good.read_text()
    cases = {
        "truncated": text[: len(text) // 2],
        "newer": text.replace('"format_version": 1', '"format_version": 99'),
        "count": json.dumps({**json.loads(text), "parameters": {"t1.c[1]": 1.0}}),
        "nan": text.replace(f'"t1.s": {json.loads(text)["parameters"]["t1.s"]!r}', '"t1.s": NaN'),
        "other": json.dumps({"hello": 1}),
    }
    for name, content in cases.items():
        p = tmp_path / f"{name}.json"
        p.write_text(content)
        with pytest.raises(ModelFileError) as info:
            compot.load(p)
        assert str(p) in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(ModelFileError, match="no such"):
        compot.load(tmp_path / "missing.json")
    with pytest.raises(compot.CompotError, match="does not exist"):
        m.save(tmp_path / "nodir" / "m.json")


@pytest.mark.parametrize("content,fragment", [
    (None, "no such file"),
    ("", "empty"),
    ("2\nLattice=\"3 0 0 0 3 0 0 0 3\" Properties=species:S:1:pos:R:3 pbc=\"T T T\"\nNb 0 0 0\n",
     "cannot read"),
    ("\x00\x01\x02binary\xff", "cannot read"),
    ("1\nLattice=\"3 0 0 0 3 0 0 0 3\" Properties=species:S:1:pos:R:3:forces:R:3 pbc=\"T T T\"\n"
     "Nb 0 0 0 0 0 0\n", "no energy"),
    ("1\nLattice=\"3 0 0 0 3 0 0 0 3\" Properties=species:S:1:pos:R:3 energy=-1.0 pbc=\"T T T\"\n"
     "Nb 0 0 0\n", "no forces"),
    ("1\nLattice=\"3 0 0 0 3 0 0 0 3\" Properties=species:S:1:pos:R:3:forces:R:3 energy=-1.0 pbc=\"T T T\"\n"
     "Nb 0 0 0 nan 0 0\n", "non-finite"),
    ("1\nLattice=\"3 0 0 0 3 0 0 0 3\" Properties=species:S:1:pos:R:3:forces:R:3 energy=inf pbc=\"T T T\"\n"
     "Nb 0 0 0 0 0 0\n", "not finite"),
    ("2\nLattice=\"3 0 0 0 3 0 0 0 3\" Properties=species:S:1:pos:R:3:forces:R:3 energy=-1.0 pbc=\"T T T\"\n"
     "Nb 0 0 0 0 0 0\nNb nan 0 0 0 0 0\n", "non-finite position"),
])
def test_bad_data_files(tmp_path, content, fragment):
    path = tmp_path / "data.xyz"
    if content is not None:
        path.write_bytes(content.encode("latin-1"))
    with pytest.raises(DataError) as info:
        read_dataset(path)
    msg = str(info.value)
    assert str(path) in msg and fragment in msg and "\n" not in msg


# ----------------------------------------------------------------------------- FIM
def _numpy_design_matrix(model, p, data):
    """Independent Psi for a linear G model: numpy + ASE neighbour list, no compot kernel."""
    from ase.neighborlist import neighbor_list

    alpha, beta = p[0], p[1]
    n = len(model.linear_names) - 1
    rc = model.cutoff
    rows = []
    for s in data:
        i, j, D = neighbor_list("ijD", s.atoms, rc)
        r = np.linalg.norm(D, axis=1)
        x = r / rc
        fc = 1 - 35 * x**4 + 84 * x**5 - 70 * x**6 + 20 * x**7
        dfc = (-140 * x**3 + 420 * x**4 - 420 * x**5 + 140 * x**6) / rc
        E = np.zeros(n + 1)
        F = np.zeros((len(s.atoms), 3, n + 1))
        for nu in range(n):
            a = alpha * beta**nu
            g = np.exp(-a * r**2)
            E[nu] = np.sum(g * fc)
            dphi = (-2 * a * r * g * fc + g * dfc)[:, None] * D / r[:, None]
            np.add.at(F[:, :, nu], i, dphi)
            np.add.at(F[:, :, nu], j, -dphi)
        E[n] = len(s.atoms)
        rows.append(E[None, :])
        rows.append(F.reshape(-1, n + 1))
    return np.vstack(rows)


def test_fim_of_linear_model_equals_psi_t_psi(compiled, small_nb):
    model = compiled("G3")
    p = model.parameter_vector({"b1.alpha": 0.12, "b1.beta": 1.5, "t1.c[1]": 0.1, "t1.c[2]": 0.2,
                                "t1.c[3]": 0.3, "t1.s": 0.0})
    data = read_dataset(small_nb)
    psi = _numpy_design_matrix(model, p, data)
    J = np.vstack([model.jacobian(s.atoms, p)[:, 2:] for s in data])
    assert np.abs(J - psi).max() < 1e-12 * np.abs(psi).max()
    res = fim(model, data, p)
    ref = np.linalg.eigvalsh(psi.T @ psi)[::-1]
    got = res.eigenvalues_float()
    assert np.allclose(got, ref, rtol=1e-9, atol=0)
    assert res.log10_kappa == pytest.approx(math.log10(ref[0] / ref[-1]), rel=1e-6)
    assert res.n_sc == 4 and res.backend == "python-flint"


@pytest.mark.parametrize("case", ["rows", "wide", "blocks"])
def test_exact_gram_is_exact(case, monkeypatch):
    """Against exact rational arithmetic: magnitudes varying by row, entries spanning 400 binary
    orders with signs, zeros and a subnormal, and several row blocks of the digit product."""
    from fractions import Fraction

    import compot.runtime.training.fim as fim_module

    rng = np.random.default_rng(0)
    if case == "rows":
        J = rng.normal(size=(200, 4)) * 10.0 ** rng.uniform(-30, 5, size=(200, 1))
    else:
        J = rng.normal(size=(300, 4)) * 2.0 ** rng.integers(-200, 200, size=(300, 4))
        J[rng.random(J.shape) < 0.1] = 0.0
        J[0, 0] = 5e-324
    if case == "blocks":
        monkeypatch.setattr(fim_module, "_GRAM_BLOCK", 64)
    g = exact_gram(J)
    for k in range(4):
        for l in range(4):
            exact = sum(Fraction(a) * Fraction(b) for a, b in zip(J[:, k], J[:, l]))
            m, e = g.man_exp(k, l)
            assert Fraction(m) * Fraction(2) ** e == exact


def test_high_precision_eigenvalues_stay_positive_where_float64_fails():
    x = np.linspace(0.0, 1.0, 60)
    J = np.vander(x, 16, increasing=True)           # kappa(J^T J) ~ 1.8e22: beyond float64
    f64 = np.linalg.eigvalsh(J.T @ J)
    vals, _ = eigenvalues(exact_gram(J), list(range(16)), 256)
    assert all(v > 0 for v in vals)
    assert f64.min() <= 0                           # float64 returns a negative eigenvalue
    # well conditioned part agrees with float64
    assert float(vals[0]) == pytest.approx(f64.max(), rel=1e-12)
    # and all agree with an independent mpmath computation at 300 bits
    mpmath.mp.prec = 300
    A = mpmath.matrix([[mpmath.fsum(mpmath.mpf(float(a)) * mpmath.mpf(float(b)) for a, b in zip(J[:, k], J[:, l]))
                        for l in range(16)] for k in range(16)])
    ref = sorted(mpmath.eigsy(A, eigvals_only=True), reverse=True)
    for v, r in zip(vals, ref):
        assert abs(v - r) <= mpmath.mpf(10) ** -40 * abs(r)


def test_extended_precision_jacobian_matches_kernel(compiled, small_nb):
    model = compiled("E[G3L2] + N[E[G3L2]]")
    p = model.parameter_vector(model.initial_parameters(4))
    data = read_dataset(small_nb).structures[:1]
    from compot.runtime.training.extended import mp_linear_jacobian

    Jmp = np.array([[float(v) for v in row] for row in mp_linear_jacobian(model, data[0].atoms, p, 30)])
    lin = [model.parameter_names.index(n) for n in model.linear_names]
    Jk = model.jacobian(data[0].atoms, p)[:, lin]
    assert np.abs(Jmp - Jk).max() < 1e-10 * np.abs(Jk).max()


def test_product_fim_is_flagged_singular(compiled, small_nb):
    model = compiled("G3 * G3")
    trained = fit(model, small_nb, seed=0, bo_init_points=2, bo_iterations=1, progress=False)
    res = fim(trained, small_nb)
    assert any("scale symmetry" in n for n in res.notes)
    assert set(res.blocks) == {"left", "right"}


def test_cli_fit_evaluate_fim(small_nb, tmp_path):
    out = tmp_path / "m.json"
    run = lambda *a: subprocess.run([sys.executable, "-m", "compot", *a], capture_output=True, text=True)
    p = run("fit", "E[G3L2] + N[E[G3L2]]", "--train", str(small_nb), "--test", str(small_nb),
            "-o", str(out), "--bo-init", "2", "--bo-iter", "2", "--json")
    assert p.returncode == 0, p.stderr
    res = json.loads(p.stdout)
    assert res["train"]["force_rmse"] > 0 and "by_config_type" in res["test"]
    p = run("evaluate", str(out), str(small_nb), "--json", "--plot", str(tmp_path / "plots"))
    assert p.returncode == 0, p.stderr
    ev = json.loads(p.stdout)
    for key in ("energy_rmse", "force_rmse", "force_amplitude_rmse", "force_angle_rmse", "by_config_type"):
        assert key in ev
    assert ev["force_rmse"] == pytest.approx(res["test"]["force_rmse"], rel=1e-12)
    assert (tmp_path / "plots" / "parity_forces.png").exists()
    p = run("fim", str(out), str(small_nb), "--json", "--plot", str(tmp_path / "spec.png"))
    assert p.returncode == 0, p.stderr
    f = json.loads(p.stdout)
    assert f["n_sc"] <= len(f["eigenvalues"]) == 13 and f["log10_kappa"] > 0
    assert (tmp_path / "spec.png").exists()
    # failures: one line, non-zero, no model file written
    bad = tmp_path / "bad.json"
    p = run("fit", "G4", "--train", str(tmp_path / "nothing.xyz"), "-o", str(bad))
    assert p.returncode != 0 and "no such file" in p.stderr and "Traceback" not in p.stderr
    assert not bad.exists()
    p = run("fit", "G4", "--train", str(small_nb), "-o", str(tmp_path / "no" / "dir.json"))
    assert p.returncode != 0 and "does not exist" in p.stderr


def test_isolated_atom_energy_is_the_reference(compiled, small_nb):
    """E(isolated atom) = E0 exactly, given (--e0) or by the default rule (docs/theory.md §4.6),
    and the default gives a positive, plausible cohesive energy."""
    from compot.runtime.reference import COHESIVE_ENERGY, isolated_atom

    model = compiled("E[G4L2] + N[E[G4L2]]", elements=["Nb"])
    kw = dict(bo_init_points=2, bo_iterations=2, progress=False, uncertainty=False)
    given = fit(model, small_nb, seed=0, e0={"Nb": -3.25}, **kw)
    assert given.evaluate(isolated_atom("Nb"))["energy"] == pytest.approx(-3.25, abs=1e-8)
    assert given.metadata["isolated_atom_energies"]["Nb"]["source"] == "given"
    default = fit(model, small_nb, seed=0, **kw)
    ref = default.metadata["isolated_atom_energies"]["Nb"]
    assert ref["source"] == "default"
    e_atom = default.evaluate(isolated_atom("Nb"))["energy"]
    assert e_atom == pytest.approx(ref["e0"], abs=1e-8)
    cell = bulk("Nb", "bcc", a=3.32, cubic=True) * (2, 2, 2)
    e_coh = e_atom - default.evaluate(cell)["energy"] / len(cell)
    assert 2.0 < e_coh < 10.0
    assert e_coh == pytest.approx(COHESIVE_ENERGY["Nb"], abs=1.0)
    free = fit(model, small_nb, seed=0, isolated_atom_constraint=False, physics_constraints=False, **kw)
    assert free.evaluate(isolated_atom("Nb"))["energy"] != pytest.approx(ref["e0"], abs=1e-3)


def test_default_fit_is_permutation_invariant(compiled, small_nb):
    """The paper's model fitted with default options (GCV ridge): permuting the atoms of a
    3,456-atom cell changes the energy by <= 1e-10 relative and the forces by <= 1e-8 eV/A
    (summation order is all that changes; huge cancelling coefficients would amplify it)."""
    model = compiled("E[G8L4] + N[E[G8L4]]", elements=["Nb"])
    m = fit(model, small_nb, seed=0, bo_init_points=3, bo_iterations=3, progress=False, uncertainty=False)
    atoms = bulk("Nb", "bcc", a=3.32, cubic=True) * (12, 12, 12)
    atoms.rattle(0.1, seed=2)
    r0 = m.evaluate(atoms)
    perm = np.random.default_rng(0).permutation(len(atoms))
    r1 = m.evaluate(atoms[perm])
    assert abs(r1["energy"] - r0["energy"]) <= 1e-10 * abs(r0["energy"])
    assert np.abs(r1["forces"] - r0["forces"][perm]).max() <= 1e-8


def test_stress_rows(compiled):
    """Stresses enter the loss as virials per atom (theory §6.1): rows consistent with the
    predictions, recovered exactly from exact labels, and absent with stress_weight 0."""
    model = compiled("E[G4L2] + N[E[G4L2]]")
    p_true = model.parameter_vector(model.initial_parameters(5))
    frames = []
    for a in synthetic(model, p_true, n=4):
        a = a.atoms.copy()
        a.set_cell(a.cell[:] @ (np.eye(3) + 0.01 * np.array([[1, 0.3, 0], [0.3, -1, 0], [0, 0, 0.5]])),
                   scale_atoms=True)
        r = model.evaluate(a, p_true)
        a.calc = SinglePointCalculator(a, energy=r["energy"], forces=r["forces"], stress=r["stress"])
        frames.append(a)
    data = as_dataset(frames)
    opts = dict(regularization="none", isolated_atom_constraint=False, physics_constraints=False)
    plain = Problem(model, data, FitOptions(stress_weight=0.0, **opts))
    prob = Problem(model, data, FitOptions(stress_weight=4.0, **opts))
    assert prob.nrows == plain.nrows + 6 * len(data)
    J, pred = prob.jacobian(p_true)
    assert prob.loss(pred) < 1e-20 * np.abs(prob.y).max() ** 2
    e, f, s = prob.predict(p_true)
    assert prob.residual_loss(e, f, s) == pytest.approx(prob.loss(pred), abs=1e-20)
    # the stress rows are the Jacobian of V sigma / N: compare with a parameter finite difference
    k = prob.linear_idx[3]
    q = p_true.copy()
    q[k] += 1e-3
    _, pred2 = prob.jacobian(q)
    rows = np.concatenate([np.arange(sl.stop - 6, sl.stop) for sl in prob.slices])
    assert np.allclose((pred2 - pred)[rows] / 1e-3, J[rows, k], rtol=1e-6, atol=1e-12)
    assert np.isclose(prob.w[rows], 2.0).all()
    # from a wrong start the weighted solve recovers the labels' parameters
    start = p_true.copy()
    start[prob.linear_idx] = 0.0
    p, loss = prob.solve_linear(start)
    assert loss < 1e-18 and np.abs(p - p_true).max() < 1e-6 * np.abs(p_true).max()
    # and the metrics report the stress errors (GPa)
    m = compute_metrics(e, f, data, s)
    assert m["stress_rmse"] < 1e-9 and "stress_mae" in m["by_config_type"]["even"]


def test_exact_gram_in_small_blocks_and_flushes(monkeypatch):
    """Many blocks (64 rows) and int64 partial sums flushed every two blocks give the exact J^T J."""
    from fractions import Fraction

    import compot.runtime.training.fim as F

    monkeypatch.setattr(F, "_DIGIT_BYTES", 1)           # the smallest block: 64 rows
    monkeypatch.setattr(F, "_FLUSH_BLOCKS", 2)
    rng = np.random.default_rng(3)
    J = rng.normal(size=(1000, 4)) * 10.0 ** rng.uniform(-40, 40, size=(1000, 4))
    J[rng.random(J.shape) < 0.2] = 0.0
    g = F.exact_gram(J)
    for k in range(4):
        for l in range(4):
            want = sum(Fraction(a) * Fraction(b) for a, b in zip(J[:, k], J[:, l]))
            m, e = g.man_exp(k, l)
            assert Fraction(m) * Fraction(2) ** e == want
