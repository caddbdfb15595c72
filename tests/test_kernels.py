"""Forces, stress and Jacobian of every reference model against central finite differences, on a
real Nb frame and on tiny periodic cells; invariances of the energy."""

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from compot.compiler.references import REFERENCE_MODELS

from .conftest import rich_parameters

EXTRA_MODELS = [
    "m = basis 3 (a = 1.2, r0 = 1.5): exp(-nu*a*(r - r0)); E[m L2] + G2",
    "(G2 + C2) * N[E[G2L2]]",
]


def tiny_cells():
    """Cells much smaller than the cutoff (images of an atom are its own neighbours)."""
    a = bulk("Nb", "bcc", a=3.3, cubic=True)          # 2 atoms, 3.3 A cube, r_c = 5
    a.rattle(0.12, seed=3)
    b = Atoms("Nb3", positions=[[0, 0, 0], [1.6, 1.5, 0.2], [0.3, 1.7, 1.8]],
              cell=[[3.4, 0.2, 0.0], [0.3, 3.1, 0.1], [0.5, 0.4, 3.6]], pbc=True)
    return [a, b]


def frames(nb_test_frames):
    real = nb_test_frames[0].copy()
    return [("nb_test_0", real)] + [(f"tiny{k}", c) for k, c in enumerate(tiny_cells())]


def fd_forces(model, atoms, p, h=1e-5):
    F = np.zeros((len(atoms), 3))
    for i in range(len(atoms)):
        for x in range(3):
            e = []
            for s in (h, -h):
                b = atoms.copy()
                b.positions[i, x] += s
                e.append(model.evaluate(b, p)["energy"])
            F[i, x] = -(e[0] - e[1]) / (2 * h)
    return F


def fd_stress(model, atoms, p, h=1e-6):
    S = np.zeros((3, 3))
    cell = atoms.cell[:].copy()
    for x in range(3):
        for y in range(3):
            e = []
            for s in (h, -h):
                eps = np.eye(3)
                eps[x, y] += s
                b = atoms.copy()
                b.set_cell(cell @ eps.T, scale_atoms=True)
                e.append(model.evaluate(b, p)["energy"])
            S[x, y] = (e[0] - e[1]) / (2 * h) / atoms.get_volume()
    return np.array([S[0, 0], S[1, 1], S[2, 2], S[1, 2], S[0, 2], S[0, 1]])


def fd_jacobian(model, atoms, p):
    nl = model.neighbor_list(atoms)
    cols = []
    for k in range(len(p)):
        h = 1e-6 * max(1.0, abs(p[k]))
        rows = []
        for s in (h, -h):
            q = p.copy()
            q[k] += s
            r = model.evaluate(atoms, q, nl=nl)
            rows.append(np.concatenate([[r["energy"]], r["forces"].ravel(), r.get("stress", [])]))
        cols.append((rows[0] - rows[1]) / (2 * h))
    return np.array(cols).T


def full_jacobian(model, atoms, p):
    """The Jacobian of energy and forces, with the stress rows below for a 3-D cell (the rows of
    fd_jacobian)."""
    J = model.jacobian(atoms, p)
    if abs(np.linalg.det(atoms.cell[:])) > 1e-12:
        J = np.vstack([J, model.stress_jacobian(atoms, p)])
    return J


def rel(a, b):
    return np.abs(a - b).max() / max(np.abs(b).max(), 1e-12)


@pytest.mark.parametrize("text", REFERENCE_MODELS + EXTRA_MODELS)
def test_finite_differences(text, compiled, nb_test_frames):
    model = compiled(text)
    p = rich_parameters(model)
    for name, atoms in frames(nb_test_frames):
        r = model.evaluate(atoms, p)
        assert np.isfinite(r["energy"])
        assert rel(r["forces"], fd_forces(model, atoms, p)) < 1e-6, name
        assert rel(r["stress"], fd_stress(model, atoms, p)) < 1e-6, name
        assert model.jacobian(atoms, p).shape == (1 + 3 * len(atoms), len(model.parameter_names))
        J = full_jacobian(model, atoms, p)     # with the stress rows of fits to stresses
        Jfd = fd_jacobian(model, atoms, p)
        scale = np.maximum(np.abs(Jfd).max(axis=0), 1e-12)
        err = (np.abs(J - Jfd).max(axis=0) / scale)
        worst = int(np.argmax(err))
        assert err.max() < 1e-6, f"{name}: column {model.parameter_names[worst]} off by {err.max():.2e}"
        # the Jacobian kernel returns the same energies and forces as the evaluation kernel
        _, e2, f2 = model.jacobian(atoms, p, return_values=True)
        assert abs(e2 - r["energy"]) <= 1e-12 * max(1, abs(r["energy"]))
        assert np.abs(f2 - r["forces"]).max() <= 1e-12 * max(1, np.abs(r["forces"]).max())


@pytest.mark.parametrize("text", REFERENCE_MODELS)
def test_invariances(text, compiled, nb_test_frames):
    model = compiled(text)
    p = rich_parameters(model, seed=2)
    for name, atoms in frames(nb_test_frames):
        r0 = model.evaluate(atoms, p)
        tol = 1e-10 * max(1.0, abs(r0["energy"]))
        # translation
        b = atoms.copy()
        b.translate([0.37, -1.21, 2.5])
        assert abs(model.evaluate(b, p)["energy"] - r0["energy"]) < tol
        # rotation of positions and cell together
        b = atoms.copy()
        b.rotate(37.0, (1, 2, 3), rotate_cell=True)
        rb = model.evaluate(b, p)
        assert abs(rb["energy"] - r0["energy"]) < tol
        R = b.cell[:].T @ np.linalg.inv(atoms.cell[:].T)
        assert np.abs(rb["forces"] - r0["forces"] @ R.T).max() < 1e-9
        # permutation of atoms
        perm = np.random.default_rng(0).permutation(len(atoms))
        b = atoms[perm]
        rb = model.evaluate(b, p)
        assert abs(rb["energy"] - r0["energy"]) < tol
        assert np.abs(rb["forces"] - r0["forces"][perm]).max() < 1e-10
        assert np.abs(rb["energies"] - r0["energies"][perm]).max() < 1e-10
        # forces sum to zero; virial symmetric; energy extensive under replication
        assert np.abs(r0["forces"].sum(axis=0)).max() < 1e-9
        nl = model.neighbor_list(atoms)
        _, _, virial = model.kernel_energy_forces(nl, p)
        assert np.abs(virial - virial.T).max() <= 1e-12 * np.abs(virial).max()
        big = model.evaluate(atoms * (2, 2, 2), p)
        assert abs(big["energy"] - 8 * r0["energy"]) < 1e-10 * abs(8 * r0["energy"]) + 1e-9
        assert np.abs(big["stress"] - r0["stress"]).max() < 1e-10 + 1e-9 * np.abs(r0["stress"]).max()


def test_pair_beyond_cutoff_is_ignored(compiled):
    model = compiled("E[G8L4]")
    p = model.initial_parameters(0)
    dimer = Atoms("Nb2", positions=[[0, 0, 0], [0, 0, 5.0 + 1e-9]], cell=[20, 20, 20], pbc=False)
    r = model.evaluate(dimer, p)
    assert np.all(r["forces"] == 0)
    # an isolated atom: only the shift
    r = model.evaluate(Atoms("Nb", positions=[[0, 0, 0]]), p)
    shift = p["t1.s"] + sum(p[f"t1.c[{k},{nu}]"] for k in range(1, 5) for nu in range(1, 9))
    assert r["energy"] == pytest.approx(shift)
    assert "stress" not in r


def test_custom_even_tempered_equals_G(compiled, nb_test_frames):
    """A user-defined even-tempered family reproduces G8 exactly."""
    g = compiled("E[G8L2]")
    u = compiled("g = basis 8 (alpha = 0.05, beta = 1.5): exp(-alpha * beta^(nu - 1) * r^2); E[g L2]")
    pg = g.initial_parameters(1)
    pu = {k.replace("b1.", "g."): v for k, v in pg.items()}
    atoms = nb_test_frames[3]
    a, b = g.evaluate(atoms, pg), u.evaluate(atoms, pu)
    assert abs(a["energy"] - b["energy"]) < 1e-11 * abs(a["energy"])
    assert np.abs(a["forces"] - b["forces"]).max() < 1e-11
    assert np.abs(g.jacobian(atoms, pg) - u.jacobian(atoms, pu)).max() < 1e-9


@pytest.mark.parametrize("text", ["E[G8L4] + N[E[G8L4]]", "G4 * E[G3L2]", "G3 + T[G2 P1]"])
def test_threads_agree_with_one_thread(text, compiled):
    """OpenMP evaluation (per-thread buffers summed in thread order) equals one thread to 1e-12,
    and repeated runs with the same thread count are bit-identical."""
    model = compiled(text)
    atoms = bulk("Nb", "bcc", a=3.3, cubic=True) * (5, 5, 5)     # 250 atoms, > 4096 pairs
    atoms.rattle(0.1, seed=9)
    p = rich_parameters(model, seed=4)
    nl = model.neighbor_list(atoms)
    assert nl.npairs >= 4096
    ref = model.kernel_energy_forces(nl, p, threads=1)
    for t in (2, 3):
        got = model.kernel_energy_forces(nl, p, threads=t)
        for a, b in zip(got, ref):
            assert np.abs(a - b).max() <= 1e-12 * np.abs(b).max()
        again = model.kernel_energy_forces(nl, p, threads=t)
        assert all(np.array_equal(a, b) for a, b in zip(got, again))
    from compot.runtime.calculator import Calculator

    calc = Calculator(model, params=p, threads=2)
    b = atoms.copy()
    b.calc = calc
    assert model.threads == 2
    assert abs(b.get_potential_energy() - ref[0].sum()) <= 1e-12 * abs(ref[0].sum())
    model.threads = 1
