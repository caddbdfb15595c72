"""Physics constraints on the linear solve (docs/theory.md §6.2.2): the energy rises under
compression along dimer and crystal paths built from the data, imposed as linear inequalities by
an exact least-distance programme."""

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.emt import EMT

from compot.runtime.data import as_dataset
from compot.runtime.training.fit import fit
from compot.runtime.training.physics import (PhysicsProbes, least_distance, probe_paths,
                                             ridge_with_inequalities)

from .conftest import data_file


def test_ridge_with_inequalities_is_the_constrained_optimum():
    from scipy.optimize import minimize

    rng = np.random.default_rng(0)
    A, b, lam = rng.normal(size=(60, 8)), rng.normal(size=60), 0.3
    G, h = rng.normal(size=(5, 8)), rng.normal(size=5) + 1.0
    U, sv, Vt = np.linalg.svd(A, full_matrices=False)
    y = ridge_with_inequalities(sv, Vt, U.T @ b, lam, G, h)

    def f(x):
        return float(((A @ x - b) ** 2).sum() + lam * x @ x)

    ref = minimize(f, np.zeros(8), method="SLSQP", constraints=[{"type": "ineq", "fun": lambda x: G @ x - h}],
                   options={"ftol": 1e-14, "maxiter": 500})
    assert (G @ y - h).min() > -1e-10
    assert f(y) == pytest.approx(ref.fun, rel=1e-9)
    assert np.abs(y - ref.x).max() < 1e-6
    # without binding constraints it is the plain ridge solution
    free = Vt.T @ (sv / (sv * sv + lam) * (U.T @ b))
    loose = ridge_with_inequalities(sv, Vt, U.T @ b, lam, G, G @ free - 1.0)
    assert np.allclose(loose, free, atol=1e-10)


def test_least_distance_reports_infeasible():
    E = np.array([[1.0], [-1.0]])
    assert least_distance(E, np.array([1.0, 0.0])) is None        # z >= 1 and z <= 0
    z = least_distance(E, np.array([1.0, -3.0]))                  # 1 <= z <= 3
    assert z[0] == pytest.approx(1.0)


def _emt_frames():
    frames = []
    rng = np.random.default_rng(1)
    for sym, a in (("Cu", 3.6), ("Au", 4.08)):
        for s in (0.98, 1.0, 1.02):
            at = bulk(sym, "fcc", a=a * s, cubic=True)
            at.rattle(0.02, seed=int(rng.integers(100)))
            frames.append(at)
    mixed = bulk("Cu", "fcc", a=3.8, cubic=True)
    mixed.symbols[[1, 2]] = "Au"
    frames.append(mixed)
    for at in frames:
        at.calc = EMT()
        at.get_potential_energy()
    return frames


def test_probe_paths_come_from_the_data():
    data = as_dataset(_emt_frames())
    paths = dict(probe_paths(data, ["Au", "Cu"], 5.0))
    assert set(paths) == {"dimer Au-Au", "dimer Au-Cu", "dimer Cu-Cu"} | {
        f"{X} {k} compressed" for X in ("Au", "Cu") for k in ("ground state", "bcc", "fcc", "sc", "diamond")} | {
        f"{X} atom pushed onto a neighbour" for X in ("Au", "Cu")} | {
        f"{X} under-coordinated atoms meeting ({v})" for X in ("Au", "Cu") for v in ("back", "chain")}
    from ase.neighborlist import neighbor_list

    for label, atoms in paths.items():
        d = [neighbor_list("d", a, 5.0).min() if a.pbc.any() else a.get_distance(0, a.info.get("push", (1,))[0])
             for a in atoms]
        assert (np.diff(d) < 0).all(), label                     # ever more compressed
    for X in ("Au", "Cu"):      # two atoms with the neighbours behind them (fcc: 5; chain: 1) meet head on
        for v, n in (("back", 12), ("chain", 4)):
            path = paths[f"{X} under-coordinated atoms meeting ({v})"]
            j, u = path[0].info["push"]
            assert len(path[0]) == n and j == n // 2
            for a in (path[0], path[-1]):
                pos = a.positions
                r = pos[j] - pos[0]
                assert np.allclose(np.cross(r, u), 0.0, atol=1e-12) and r @ u > 0
                assert np.allclose(pos[j:] - pos[j], -(pos[:j] - pos[0]))     # mirror images
                assert ((pos[1:j] - pos[0]) @ u < 0).all()                    # behind, away from the other
    for X in ("Au", "Cu"):                                       # one atom moves, straight onto atom 0
        path = paths[f"{X} atom pushed onto a neighbour"]
        j, u = path[0].info["push"]
        moved = np.array([a.positions - path[0].positions for a in path])
        assert np.abs(np.delete(moved, j, axis=1)).max() == 0.0
        assert np.allclose(np.cross(moved[:, j], u), 0.0, atol=1e-12) and (moved[1:, j] @ u < 0).all()
        assert path[-1].get_distance(path[0].info["partner"], j, mic=True) == pytest.approx(0.3 * neighbor_list("d", path[0], 5.0).min(), rel=0.05)
    # the shortest Cu-Cu distance of the data bounds the dimer path
    dmin = min(neighbor_list("d", f[[i for i, x in enumerate(f.symbols) if x == "Cu"]], 5.0).min()
               for f in _emt_frames() if "Cu" in f.symbols and f.symbols.count("Cu") > 1)
    assert paths["dimer Cu-Cu"][0].get_distance(0, 1) <= dmin + 1e-9


@pytest.fixture(scope="module")
def constrained_fits(compiled):
    from ase.io import read

    frames = read(data_file("nb", "train"), ":")
    picked = frames[:12] + frames[200:206] + frames[-4:]
    model = compiled("paper", elements=["Nb"])
    kw = dict(seed=0, bo_init_points=2, bo_iterations=2, progress=False, uncertainty=False)
    return model, picked, fit(model, picked, **kw), fit(model, picked, physics_constraints=False, **kw)


def test_fit_obeys_the_physics_constraints(constrained_fits):
    model, picked, on, off = constrained_fits
    probes = PhysicsProbes(model, as_dataset(picked))
    info = on.metadata["physics_constraints"]
    assert info["inequalities"] == probes.n > 0 and info["violated"] == []
    for (label, _), e in zip(probes.paths, probes.energies(on.parameter_vector())):
        assert (np.diff(e) >= -1e-6 * np.abs(e[1:]).clip(1.0)).all(), label
    # the option switches it off, and the unconstrained paper model does turn over somewhere
    assert off.metadata["physics_constraints"] is None
    assert probes.violations(off.parameter_vector())
    # the isolated-atom equality still holds exactly
    e0 = on.metadata["isolated_atom_energies"]["Nb"]["e0"]
    assert on.evaluate(Atoms("Nb", positions=[[0, 0, 0]]))["energy"] == pytest.approx(e0, abs=1e-8)


def test_cli_switch(capsys):
    from compot.runtime.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["fit", "--help"])
    assert exc.value.code == 0
    assert "--no-physics-constraints" in capsys.readouterr().out
