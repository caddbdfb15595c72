"""FIM-based uncertainty (issue: adaptive design).

Parameter covariance over the linear parameters at the trained point,
    Sigma = sigma^2 * sum_{k in SC} v_k v_k^T / lambda_k,
the pseudo-inverse of I = J^T J restricted to its sloppy-cutoff subspace (lambda >= 1e-15 lambda_max),
with J^T J exact and its eigenvectors at 256 bits (python-flint), and sigma^2 = r^T r / (n - n_SC)
from the training residuals (energies and force components, as in the loss).  The standard
deviation of a prediction y = E or F_ix is sqrt(j Sigma j^T) with j its Jacobian row ("parameter"
uncertainty); the "predictive" one adds the residual variance of that kind of row (energies and
forces estimated apart), for comparison with observed errors.
"""

from __future__ import annotations

import numpy as np

from ..errors import CompotError
from .data import as_dataset
from .fim import SC_THRESHOLD, arb_matrix, exact_gram, mp_matrix

UNCERTAINTY_VERSION = 1


def _eigh_highprec(gram, p: int, bits: int):
    """Eigenvalues and orthonormal eigenvectors of an exact Gram matrix at ``bits`` (flint)."""
    import flint

    old = flint.ctx.prec
    try:
        flint.ctx.prec = bits
        E, R = arb_matrix(gram, range(p)).eig(right=True, nonstop=True)
        vals = np.array([float(z.real.mid()) for z in E])
        vecs = np.zeros((p, p))
        for k in range(p):
            col = [complex(float(R[i, k].real.mid()), float(R[i, k].imag.mid())) for i in range(p)]
            col = np.array(col)
            big = col[np.argmax(np.abs(col))]
            if not (np.all(np.isfinite(col)) and abs(big) > 0 and np.isfinite(vals[k])):
                return _eigh_mpmath(gram, p, bits)      # flint could not resolve this eigenvector
            col = (col * np.conj(big) / abs(big)).real
            vecs[:, k] = col / np.linalg.norm(col)
    finally:
        flint.ctx.prec = old
    order = np.argsort(vals)[::-1]
    return vals[order], vecs[:, order]


def _eigh_mpmath(gram, p: int, bits: int):
    """As :func:`_eigh_highprec` with mpmath's symmetric eigensolver (slower, always resolves)."""
    import mpmath

    with mpmath.workprec(bits):
        E, Q = mpmath.eigsy(mp_matrix(gram, range(p)))
        vals = np.array([float(E[k]) for k in range(p)])
        vecs = np.array([[float(Q[i, k]) for k in range(p)] for i in range(p)])
    order = np.argsort(vals)[::-1]
    return vals[order], vecs[:, order]


def parameter_covariance(model, data, params=None, bits: int = 256) -> dict:
    """Covariance of the linear parameters from the FIM on ``data`` (normally the training set)."""
    ds = as_dataset(data)
    p = model.parameter_vector(params)
    lin = [model.parameter_names.index(n) for n in model.linear_names]
    blocks, resid_e, resid_f = [], [], []
    for s in ds:
        J, e, f = model.jacobian(s.atoms, p, return_values=True)
        blocks.append(J[:, lin])
        resid_e.append(e - s.energy)
        resid_f.append((f - s.forces).ravel())
    J = np.vstack(blocks)
    r = np.concatenate([np.concatenate([[a], b]) for a, b in zip(resid_e, resid_f)])
    vals, vecs = _eigh_highprec(exact_gram(J), len(lin), bits)
    lmax = vals[0]
    sc = vals >= SC_THRESHOLD * lmax
    n_sc = int(sc.sum())
    dof = max(len(r) - n_sc, 1)
    sigma2 = float(r @ r) / dof
    cov = sigma2 * (vecs[:, sc] / vals[sc]) @ vecs[:, sc].T
    re, rf = np.array(resid_e), np.concatenate(resid_f)
    return {"version": UNCERTAINTY_VERSION, "parameters": list(model.linear_names), "sigma2": sigma2,
            "energy_residual_var": float(re @ re / max(len(re), 1)),
            "force_residual_var": float(rf @ rf / max(len(rf), 1)),
            "n_sc": n_sc, "covariance": cov}


def _cov_of(model) -> dict:
    u = model.metadata.get("uncertainty") if model.metadata else None
    if not u:
        raise CompotError("the model has no uncertainty information: train it with compot fit "
                          "(which stores the FIM covariance) or call attach_uncertainty(model, train)")
    if list(u["parameters"]) != list(model.linear_names):
        raise CompotError("the stored covariance does not match the model's linear parameters")
    return u


def attach_uncertainty(model, train, bits: int = 256):
    """Compute and store the covariance in ``model.metadata['uncertainty']``."""
    u = parameter_covariance(model, train, bits=bits)
    u["covariance"] = u["covariance"].tolist()
    model.metadata["uncertainty"] = u
    return model


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
