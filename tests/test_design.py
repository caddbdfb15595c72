"""FIM-guided design search and FIM-based uncertainty."""

import json

import numpy as np
import pytest

import compot
from compot.runtime.data import as_dataset
from compot.runtime.training.demo import make_emt_data
from compot.runtime.training.design import DesignOptions, design, n_params, proposals, read_log, split
from compot.runtime.training.fit import fit
from compot.runtime.training.covariance import parameter_covariance
from compot.runtime.uncertainty import calibration, predict_std


@pytest.fixture(scope="module")
def emt():
    train, test = make_emt_data(n_train=16, n_test=6, seed=3)
    return as_dataset(train), as_dataset(test)


@pytest.mark.parametrize("parent", ["G8", "C4", "E[G6L4]", "N[E[G4L2]]", "E[G6L4] + N[E[G6L4]]",
                                    "G4 * E[G6L4]", "ZBL + E[G6L4] + A[C4 P2]", "E[A[C4 P2] L2]"])
def test_proposals_are_valid_new_models(parent):
    opt = DesignOptions()
    out = proposals(parent, ["G8", "E[G6L4]", "C8"], opt, kinds=True)
    assert out, parent
    for text, kind in out:
        lin, nl, degenerate = n_params(text, ["Nb"])    # parses and lowers
        assert text != parent and lin > 0
        assert kind in {"grow-basis", "grow-layers", "grow-angular", "body-order", "partner", "angular",
                        "core", "sum", "product"}
        if kind == "grow-basis":
            assert n_params(text)[0] > n_params(parent)[0]
    texts = [t for t, _ in out]
    assert len(set(texts)) == len(texts)


def test_specific_proposal_rules():
    opt = DesignOptions()
    assert "E[G6L4] + N[E[G6L4]]" in proposals("E[G6L4]", [], opt)      # shared-basis partner
    assert "E[G8L4] + N[E[G8L4]]" in proposals("E[G6L4] + N[E[G6L4]]", [], opt)  # shared growth
    assert "G4 * E[G6L4]" in proposals("E[G6L4]", [], opt)
    assert "E[G6L4] + C8" in proposals("E[G6L4]", ["E[G6L4]", "C8"], opt)
    assert all("G18" not in t for t in proposals("G16", [], opt))       # max_size respected
    assert n_params("E[G6L4] + N[E[G6L4]] + E[G6L4]")[2]                # degenerate detected
    # the language beyond pair terms: a many-body term, the core, angular growth and body order
    assert "E[G6L4] + A[C4 P2]" in proposals("E[G6L4]", [], opt)
    assert "ZBL + E[G6L4]" in proposals("E[G6L4]", [], opt)
    grown = proposals("ZBL + E[G6L4] + A[C4 P2]", ["ZBL + C8"], opt, kinds=True)
    assert ("ZBL + E[G6L4] + A[C6 P2]", "grow-angular") in grown
    assert ("ZBL + E[G6L4] + A[C4 P4]", "grow-angular") in grown
    assert ("ZBL + E[G6L4] + A[C4 P2 B4]", "body-order") in grown
    assert not any(k in ("angular", "core") for _, k in grown)              # it has both already
    assert not any(t.count("ZBL") > 1 for t, _ in grown)                    # one core per model


def test_split_is_stratified_and_deterministic(emt):
    train, _ = emt
    a, va = split(train, 0.25, 0)
    b, vb = split(train, 0.25, 0)
    assert [s.source for s in va] == [s.source for s in vb]
    assert len(a) + len(va) == len(train)
    assert {s.config_type for s in va} == set(train.config_types)


OPTS = dict(budget=3, seeds=("G3", "E[G3L2]"), effort=0.3, seed=1)


def _strip(recs):
    return [{k: v for k, v in r.items() if k not in ("time", "us_per_atom")} for r in recs]


def test_design_resumes_and_is_deterministic(emt, tmp_path):
    train, test = emt
    log = tmp_path / "d.jsonl"
    first = design(train, test, DesignOptions(**OPTS), log=str(log), say=lambda *a: None)
    assert len(first.records) == 3 and len(read_log(log)) == 3
    assert first.records[2]["parent"] in ("G3", "E[G3L2]")             # a proposal, not a seed
    more = design(train, test, DesignOptions(**{**OPTS, "budget": 4}), log=str(log), say=lambda *a: None)
    assert _strip(more.records[:3]) == _strip(json.loads(json.dumps(first.records)))
    assert len(read_log(log)) == 4
    again = design(train, test, DesignOptions(**{**OPTS, "budget": 4}), log=str(tmp_path / "e.jsonl"),
                   say=lambda *a: None)
    assert _strip(again.records) == _strip(json.loads(json.dumps(more.records)))
    front = more.pareto()
    assert front and all(a["n_params"] <= b["n_params"] for a, b in zip(front, front[1:]))
    with pytest.raises(compot.CompotError, match="different design run"):
        design(train, test, DesignOptions(**{**OPTS, "seed": 2}), log=str(log), say=lambda *a: None)


def test_covariance_of_linear_model_matches_direct_computation(compiled, emt):
    train, _ = emt
    model = compiled("G3")
    trained = fit(model, train, seed=0, bo_init_points=2, bo_iterations=2, progress=False)
    u = parameter_covariance(trained, train)
    assert u["n_sc"] == 4                                               # all directions stiff
    lin = [model.parameter_names.index(n) for n in model.linear_names]
    p = trained.parameter_vector()
    J, r = [], []
    for s in train:
        Jm, e, f = trained.jacobian(s.atoms, p, return_values=True)
        J.append(Jm[:, lin])
        r.append(np.concatenate([[e - s.energy], (f - s.forces).ravel()]))
    J, r = np.vstack(J), np.concatenate(r)
    sigma2 = r @ r / (len(r) - 4)
    direct = sigma2 * np.linalg.inv(J.T @ J)
    assert u["sigma2"] == pytest.approx(sigma2, rel=1e-10)
    assert np.allclose(u["covariance"], direct, rtol=1e-7, atol=0)


def test_uncertainty_in_model_file_calculator_and_calibration(compiled, emt, tmp_path):
    train, test = emt
    trained = fit(compiled("E[G3L2]"), train, seed=0, bo_init_points=2, bo_iterations=2, progress=False)
    path = tmp_path / "m.json"
    trained.save(path)
    loaded = compot.load(path)
    atoms = test[0].atoms.copy()
    atoms.calc = compot.Calculator(loaded, uncertainty=True)
    atoms.get_potential_energy()
    res = atoms.calc.results
    assert res["energy_std"] > 0 and res["forces_std"].shape == (len(atoms), 3)
    assert res["energy_std_predictive"] > res["energy_std"]
    direct = predict_std(trained, atoms)
    assert res["energy_std"] == pytest.approx(direct["energy_std"], rel=1e-12)
    cal = calibration(loaded, test)
    for q in ("energy", "forces"):
        for kind in ("parameter", "predictive"):
            c = cal[q][kind]
            assert 0 <= c["within_1sigma"] <= c["within_2sigma"] <= 1


def test_generations_are_independent_of_where_they_train(emt, tmp_path, monkeypatch):
    """Generations of proposals: the log is the same trained serially or on a 2-worker Dask
    LocalCluster (apart from timings); a proposal whose training fails is logged as failed and the
    run goes on; an unreachable scheduler is one clear error."""
    from compot.runtime.training import design as d

    train, test = emt
    opts = dict(budget=4, seeds=("G3", "E[G3L2]"), effort=0.3, seed=1, batch=2)
    serial = design(train, test, DesignOptions(**opts), log=str(tmp_path / "s.jsonl"), say=lambda *a: None)
    assert [r["generation"] for r in serial.records] == [0, 0, 1, 1]
    assert {serial.records[2]["parent"], serial.records[3]["parent"]} <= {"G3", "E[G3L2]"}
    pool = design(train, test, DesignOptions(**opts), log=str(tmp_path / "p.jsonl"), say=lambda *a: None,
                  workers=2)
    assert _strip(pool.records) == _strip(serial.records)
    assert _strip(read_log(tmp_path / "p.jsonl")) == _strip(read_log(tmp_path / "s.jsonl"))
    assert all(r["us_per_atom"] > 0 for r in pool.records)
    from compot.runtime.training.design import pareto_plot

    pareto_plot(pool, tmp_path / "front.png")
    assert (tmp_path / "front.png").stat().st_size > 1000

    real = d._train

    def flaky(text, *a, **k):
        if text == "E[G3L2]":
            raise ArithmeticError("overflow in the test")
        return real(text, *a, **k)

    monkeypatch.setattr(d, "_train", flaky)
    res = design(train, test, DesignOptions(**{**opts, "budget": 3}), log=str(tmp_path / "f.jsonl"),
                 say=lambda *a: None)
    failed = [r for r in res.records if r.get("failed")]
    assert [r["text"] for r in failed] == ["E[G3L2]"] and "overflow in the test" in failed[0]["failed"]
    assert len(res.records) == 3 and len(res.trained) == 2
    assert res.best(DesignOptions())["text"] != "E[G3L2]" and res.pareto()
    assert res.records[2]["parent"] == "G3"                     # a failed record is never a parent
    assert len(read_log(tmp_path / "f.jsonl")) == 3
    with pytest.raises(compot.CompotError, match="cannot reach the Dask scheduler"):
        design(train, test, DesignOptions(**opts), log=str(tmp_path / "u.jsonl"), say=lambda *a: None,
               scheduler="tcp://127.0.0.1:9")
    assert not (tmp_path / "u.jsonl").exists()
