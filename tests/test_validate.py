"""compot validate: the machinery against known answers (EMT, Lennard-Jones), the DFT
derivation on the committed Mo data, the CLI's JSON keys and its one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from compot.runtime import crystal as X
from compot.runtime import validate as V

from .conftest import data_file

COMPOT = [sys.executable, "-m", "compot"]


def run(*args, check=True):
    p = subprocess.run(COMPOT + [str(a) for a in args], capture_output=True, text=True)
    if check:
        assert p.returncode == 0, p.stderr
    return p


# ------------------------------------------------------------------ known answers (ASE calculators)
@pytest.fixture(scope="module")
def emt_cu():
    from ase.calculators.emt import EMT

    calc = EMT()
    gs = V.relax_lattice(calc, "Cu", "fcc", 5.0)
    return calc, gs


def _energy_density(calc, cell0, e):
    at = X.strain_atoms(cell0, X.F_from_voigt(e))
    at.calc = calc
    return at.get_potential_energy() / cell0.get_volume()


def test_emt_elastic_constants_match_energy_second_differences(emt_cu):
    """C from the stress-strain fit equals C from second differences of the energy density
    (an independent route: E/V = 1/2 e.C.e to second order at zero stress)."""
    calc, gs = emt_cu
    assert gs["interior_minimum"] and abs(gs["a"] - 3.59) < 0.02       # EMT Cu
    el = V.elastic(calc, "Cu", gs)
    cell0 = X.conventional("Cu", "fcc", gs["a"])
    h = 2e-3
    u0 = _energy_density(calc, cell0, np.zeros(6))

    def second(e):
        e = np.asarray(e, float)
        return (_energy_density(calc, cell0, h * e) - 2 * u0 + _energy_density(calc, cell0, -h * e)) / h ** 2

    c11 = second([1, 0, 0, 0, 0, 0]) * X.EV_A3_TO_GPA
    c11_c12 = second([1, 1, 0, 0, 0, 0]) / 2 * X.EV_A3_TO_GPA       # (C11 + C12) for e1 = e2
    c44 = second([0, 0, 0, 1, 0, 0]) * X.EV_A3_TO_GPA
    assert el["C11_GPa"] == pytest.approx(c11, rel=0.02)
    assert el["C12_GPa"] == pytest.approx(c11_c12 - c11, rel=0.03)
    assert el["C44_GPa"] == pytest.approx(c44, rel=0.02)
    assert el["C44_relaxed_GPa"] == el["C44_GPa"]                     # fcc: no internal strain
    # the E-V curve's Birch-Murnaghan modulus agrees with (C11 + 2 C12)/3
    eos = V.eos(calc, "Cu", gs)
    assert eos["bulk_modulus_GPa"] == pytest.approx(el["bulk_modulus_from_C_GPa"], rel=0.03)


def test_lennard_jones_dimer_minimum_and_no_hole():
    from ase.calculators.lj import LennardJones

    sigma, eps, rc = 2.2, 0.4, 5.0
    calc = LennardJones(sigma=sigma, epsilon=eps, rc=rc, smooth=True)
    d = V.dimer(calc, "Ar", rc, V.isolated_energy(calc, "Ar"))
    step = (rc - 0.5) / 199
    assert abs(d["r_min_A"] - 2 ** (1 / 6) * sigma) <= step
    assert d["E_min_eV"] == pytest.approx(-eps, rel=0.05)
    assert d["no_hole"] and d["E_at_1A_eV"] > 100


def test_cubic_fit_recovers_known_constants():
    rng = np.random.default_rng(0)
    C = np.zeros((6, 6))
    C[:3, :3] = 60.0
    C[np.arange(3), np.arange(3)] = 200.0
    C[np.arange(3, 6), np.arange(3, 6)] = 80.0
    e = rng.uniform(-0.02, 0.02, (12, 6))
    s = e @ C.T + np.array([1.0, 1.0, 1.0, 0, 0, 0])
    fit = X.fit_cubic_elastic(e, s)
    assert (fit["C11"], fit["C12"], fit["C44"]) == pytest.approx((200.0, 60.0, 80.0))
    assert fit["sigma0"][:3] == pytest.approx([1.0, 1.0, 1.0])


def test_quick_validate_element_emt_fcc():
    from ase.calculators.emt import EMT

    r = V.validate_element(EMT(), "Cu", 5.0, "fcc", V.Options(quick=True, md_steps=10))
    assert r["lattice"] == "fcc" and 3.3 < r["cohesive_energy_eV"] < 3.7
    assert 0.5 < r["vacancy_formation_energy_eV"] < 2.0
    s = [r[f"surface_energy_{m}_J_m2"] for m in ("100", "110", "111")]
    assert all(0.5 < x < 3 for x in s) and s[2] < s[0]          # fcc (111) is the lowest
    assert not r["phonon"]["imaginary_modes"] and 5 < r["phonon"]["max_frequency_THz"] < 12
    assert r["md"]["stable"]


# ------------------------------------------------------------------ DFT derivation
@pytest.fixture(scope="module")
def mo_train():
    from compot.runtime.data import read_dataset

    return read_dataset(data_file("mo", "train"))


def test_mo_reference_derivation(mo_train):
    from compot.runtime.validate_reference import NOT_DERIVABLE, derive_reference

    r = derive_reference(mo_train, "Mo", "bcc")
    assert r["lattice_constant_A"] == pytest.approx(3.1694, rel=2e-3)
    assert r["C11_GPa"] == pytest.approx(479.7, rel=0.03)
    assert r["C12_GPa"] == pytest.approx(163.0, rel=0.03)
    assert r["C44_GPa"] == pytest.approx(108.8, rel=0.03)
    assert r["vacancy_formation_energy_eV"] is None and NOT_DERIVABLE in r["vacancy"]["reason"]
    for m, g in (("100", 3.188), ("110", 2.809), ("111", 2.964)):
        assert r[f"surface_energy_{m}_J_m2"] == pytest.approx(g, rel=0.03)


def test_reference_without_pure_element_is_one_line_error(mo_train):
    from compot.errors import DataError
    from compot.runtime.validate_reference import check_reference

    with pytest.raises(DataError, match="no usable group"):
        check_reference(mo_train, ["Nb"])


# ------------------------------------------------------------------ model and CLI
@pytest.fixture(scope="module")
def mo_model_file(tmp_path_factory, compiled, mo_train):
    from compot.runtime.data import Dataset
    from compot.runtime.training.fit import fit

    model = compiled("G4", cutoff=5.0, elements=["Mo"])
    data = Dataset([s for s in mo_train if s.config_type in ("Elastic", "Surface")])
    trained = fit(model, data, seed=0, bo_init_points=2, bo_iterations=1, progress=False)
    path = tmp_path_factory.mktemp("validate") / "mo.json"
    trained.save(path)
    return path


@pytest.fixture(scope="module")
def mo_reference_file(tmp_path_factory, mo_train):
    from ase.io import write

    frames = []
    for s in mo_train:
        if s.config_type == "Elastic":
            a = s.atoms.copy()
            from ase.calculators.singlepoint import SinglePointCalculator

            a.calc = SinglePointCalculator(a, energy=s.energy, forces=s.forces, stress=s.stress)
            a.info["config_type"] = s.config_type
            frames.append(a)
    path = tmp_path_factory.mktemp("ref") / "mo_elastic.xyz"
    write(path, frames, format="extxyz")
    return path


def test_cli_json_keys(mo_model_file, mo_reference_file, tmp_path):
    p = run("validate", mo_model_file, "--lattice", "bcc", "--quick", "--md-steps", "5", "--json",
            "--reference", mo_reference_file, "--plot", tmp_path / "plots")
    out = json.loads(p.stdout)
    r = out["results"]["Mo"]
    keys = " ".join(r)
    for word in ("lattice", "C11", "C12", "C44", "bulk", "vacancy", "surface", "phonon", "dimer", "md"):
        assert word in keys, word
    assert r["reference"]["C11_GPa"] == pytest.approx(479.7, rel=0.03)
    c = r["comparison"]
    assert c["C11_GPa"]["relative_error"] is not None
    assert c["vacancy_formation_energy_eV"]["reference"] is None
    assert "not derivable" in c["vacancy_formation_energy_eV"]["reason"]
    for name in ("eos.png", "dimer.png", "phonons.png", "md.png", "elastic.png"):
        assert (tmp_path / "plots" / name).exists()


@pytest.mark.parametrize("extra,fragment", [
    (["--lattice", "bct"], "unknown lattice 'bct'"),
    (["--reference", "NBREF"], "no usable group"),
    (["--md-steps", "0"], "--md-steps"),
])
def test_cli_bad_input_is_one_line(mo_model_file, tmp_path, extra, fragment):
    if "NBREF" in extra:
        from ase.build import bulk
        from ase.calculators.singlepoint import SinglePointCalculator
        from ase.io import write

        a = bulk("Nb", "bcc", a=3.3, cubic=True)
        a.calc = SinglePointCalculator(a, energy=-20.0, forces=np.zeros((2, 3)))
        write(tmp_path / "nb.xyz", [a], format="extxyz")
        extra = ["--reference", tmp_path / "nb.xyz"]
    p = run("validate", mo_model_file, *extra, check=False)
    assert p.returncode == 2, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("compot: error:") and fragment in lines[0], p.stderr


@pytest.mark.parametrize("content,fragment", [(None, "validate"), ("{not json", "")])
def test_cli_missing_or_invalid_model_file(tmp_path, content, fragment):
    path = tmp_path / "m.json"
    if content is not None:
        path.write_text(content)
    p = run("validate", path, "--quick", check=False)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and "compot: error:" in p.stderr


def test_phonopy_missing_is_a_compot_error(monkeypatch):
    from ase.calculators.emt import EMT

    from compot.errors import CompotError

    monkeypatch.setitem(sys.modules, "phonopy", None)
    gs = {"lattice": "fcc", "a": 3.59, "c_over_a": None}
    with pytest.raises(CompotError, match="phonopy"):
        V.phonons(EMT(), "Cu", gs, 5.0, quick=True)


def test_slabs_have_no_overlapping_atoms():
    """ase.build.surface(periodic=True) wrapped an atom through the vacuum of this diamond (111)
    slab (two atoms 0.79 A apart); the slabs of validate keep every atom in place."""
    from ase.neighborlist import neighbor_list

    for a, lattice, el in ((5.454870522122442, "diamond", "Si"), (3.1697, "bcc", "Mo"), (3.6, "fcc", "Cu")):
        nn = a * {"diamond": np.sqrt(3) / 4, "bcc": np.sqrt(3) / 2, "fcc": np.sqrt(0.5)}[lattice]
        for miller in ((1, 0, 0), (1, 1, 0), (1, 1, 1)):
            slab = V._slab(el, {"lattice": lattice, "a": a, "c_over_a": None}, miller, 5.0)
            assert neighbor_list("d", slab, nn * 1.01).min() == pytest.approx(nn, rel=1e-6), (el, miller)
