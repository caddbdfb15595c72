"""FIM-based uncertainty: the parameter covariance, computed at the end of training and stored in
the model file (predictions use it through :mod:`compot.runtime.uncertainty`).

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

from ..data import as_dataset
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


def attach_uncertainty(model, train, bits: int = 256):
    """Compute and store the covariance in ``model.metadata['uncertainty']``."""
    u = parameter_covariance(model, train, bits=bits)
    u["covariance"] = u["covariance"].tolist()
    model.metadata["uncertainty"] = u
    return model
