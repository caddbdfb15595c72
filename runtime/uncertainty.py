"""Predictive standard deviations of a trained model (``Calculator(uncertainty=True)``,
``compot evaluate --uncertainty``), from the parameter covariance that training stored in the model
file (:mod:`compot.runtime.training.covariance`; docs/theory.md §8.3).

The standard deviation of a prediction y = E or F_ix is sqrt(j Sigma j^T), j its Jacobian row by
the linear parameters ("parameter" uncertainty); the "predictive" one adds the residual variance
of that kind of row on the training data, for comparison with observed errors.

The per-atom **extrapolation grade** (:func:`atom_std`) is the same for the site energy E_i:
sqrt(g_i Sigma g_i^T) with g_i = dE_i/d(linear parameters), from the kernel's per-atom gradients
(``compot_energy_forces_grade_nt`` in the C passes, which the LAMMPS pair style calls too).  Since
sum_i E_i = E, sum_i g_i is the energy's Jacobian row.

Every quadratic form is evaluated as |L^T j|^2 with Sigma = L L^T (:func:`covariance_factor`): a
sum of squares, where j Sigma j^T summed term by term would lose all digits to cancellation when
Sigma spans many decades (the SC subspace allows 15).
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


def covariance_factor(model) -> tuple[np.ndarray, np.ndarray]:
    """``(cols, LT)``: the indices of the linear parameters in ``model.parameter_names`` and the
    transposed factor LT (rank, P_lin) of the stored covariance, Sigma = LT^T LT.  From the
    eigen-decomposition of Sigma, keeping its positive eigenvalues (Sigma lives on the FIM's SC
    subspace; the rest is rounding).  Computed once per stored covariance."""
    u = _cov_of(model)
    cached = getattr(model, "_covariance_factor", None)
    if cached is not None and cached[0] is u["covariance"]:
        return cached[1], cached[2]
    cov = np.asarray(u["covariance"], dtype=float)
    p = len(model.linear_names)
    if cov.shape != (p, p) or not np.all(np.isfinite(cov)):
        raise CompotError(f"the stored covariance must be a finite {p} x {p} matrix")
    w, V = np.linalg.eigh(0.5 * (cov + cov.T))
    keep = w > 0.0
    LT = np.ascontiguousarray((V[:, keep] * np.sqrt(w[keep])).T)
    cols = np.array([model.parameter_names.index(n) for n in model.linear_names], dtype=np.int32)
    model._covariance_factor = (u["covariance"], cols, LT)
    return cols, LT


def _site_grades(model, atoms, nl=None):
    cols, LT = covariance_factor(model)
    if nl is None:
        nl = model.neighbor_list(atoms)
    rows, grades, _ = model.kernel_site_grades(nl, model.parameter_vector(), cols, LT)
    return rows, grades


def site_gradients(model, atoms, nl=None) -> np.ndarray:
    """g_i = dE_i/d(linear parameters) of every atom, (N, P_lin) in ``model.linear_names`` order;
    their sum over atoms is the energy row of ``model.jacobian`` (by linear parameters)."""
    return _site_grades(model, atoms, nl)[0]


def atom_std(model, atoms, nl=None) -> np.ndarray:
    """The extrapolation grade of every atom (N,), eV: the standard deviation of its site energy
    E_i from the parameter covariance, sqrt(g_i Sigma g_i^T) (docs/theory.md §8.3).  The LAMMPS
    pair style exported with ``--grade`` computes the same numbers."""
    return _site_grades(model, atoms, nl)[1]


def predict_std(model, atoms, nl=None) -> dict:
    """Standard deviations of the total energy and forces of ``atoms``."""
    u = _cov_of(model)
    cols, LT = covariance_factor(model)
    J = model.jacobian(atoms, nl=nl)[:, cols]
    var = np.sum((J @ LT.T) ** 2, axis=1)
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
