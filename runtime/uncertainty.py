"""Predictive standard deviations of a trained model (``Calculator(uncertainty=True)``,
``compot evaluate --uncertainty``), from the parameter covariance that training stored in the model
file (:mod:`compot.runtime.training.covariance`; docs/theory.md §8.3).

The standard deviation of a prediction y = E or F_ix is sqrt(j Sigma j^T), j its Jacobian row by
the linear parameters ("parameter" uncertainty); the "predictive" one adds the residual variance
of that kind of row on the training data, for comparison with observed errors.
"""

from __future__ import annotations

import numpy as np

from ..errors import CompotError
from .data import as_dataset


def _cov_of(model) -> dict:
    u = model.metadata.get("uncertainty") if model.metadata else None
    if not u:
        raise CompotError("the model has no uncertainty information: train it with compot fit "
                          "(which stores the FIM covariance) or call attach_uncertainty(model, train)")
    if list(u["parameters"]) != list(model.linear_names):
        raise CompotError("the stored covariance does not match the model's linear parameters")
    return u


def predict_std(model, atoms, nl=None) -> dict:
    """Standard deviations of the total energy and forces of ``atoms``."""
    u = _cov_of(model)
    cov = np.asarray(u["covariance"])
    lin = [model.parameter_names.index(n) for n in model.linear_names]
    J = model.jacobian(atoms, nl=nl)[:, lin]
    var = np.einsum("ij,jk,ik->i", J, cov, J)
    var = np.maximum(var, 0.0)
    n = len(atoms)
    return {"energy_std": float(np.sqrt(var[0])), "forces_std": np.sqrt(var[1:]).reshape(n, 3),
            "energy_std_predictive": float(np.sqrt(var[0] + u["energy_residual_var"])),
            "forces_std_predictive": np.sqrt(var[1:] + u["force_residual_var"]).reshape(n, 3)}


def calibration(model, data) -> dict:
    """Fractions of test errors inside 1 and 2 predicted standard deviations (Gaussian: 0.683 and
    0.954), for the parameter-only and the predictive standard deviations."""
    ds = as_dataset(data)
    ze, zf, ze_p, zf_p = [], [], [], []
    for s in ds:
        r = model.evaluate(s.atoms)
        sd = predict_std(model, s.atoms)
        de = abs(r["energy"] - s.energy)
        df = np.abs(r["forces"] - s.forces).ravel()
        ze.append(de / max(sd["energy_std"], 1e-300))
        ze_p.append(de / sd["energy_std_predictive"])
        zf.append(df / np.maximum(sd["forces_std"].ravel(), 1e-300))
        zf_p.append(df / sd["forces_std_predictive"].ravel())
    ze, ze_p = np.array(ze), np.array(ze_p)
    zf, zf_p = np.concatenate(zf), np.concatenate(zf_p)

    def frac(z):
        return {"within_1sigma": float(np.mean(z <= 1)), "within_2sigma": float(np.mean(z <= 2))}

    return {"energy": {"parameter": frac(ze), "predictive": frac(ze_p)},
            "forces": {"parameter": frac(zf), "predictive": frac(zf_p)},
            "gaussian": {"within_1sigma": 0.6827, "within_2sigma": 0.9545},
            "n_structures": len(ds)}
