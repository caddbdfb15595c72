"""Active learning: pick the candidate structures that would teach a trained model the most
(``compot select``; docs/theory.md §8.4).

A fitted model carries the covariance of its linear parameters, Sigma (§8.3).  Labelling a
candidate structure s (energy and forces by DFT) would add the information

    G_s = J_E^T J_E / var_E + J_F^T J_F / var_F

with J_E, J_F the Jacobian rows of its total energy and force components by the linear
parameters and var_E, var_F the variances of a new label.  [choice] They are 1 % of the training
residual variances (``label_noise=0.01``): the fit's residuals are model error, not noise in the
DFT labels, which are far more precise; the smaller the label noise, the more a candidate that
informs new directions beats a near-copy of a picked one (below).  The posterior covariance becomes (Sigma^-1 + G_s)^-1 and the D-optimal information
gain (the mutual information between the parameters and the new labels, in nats) is

    gain(s) = 1/2 log det(I + L^T G_s L),   Sigma = L L^T.

Candidates are picked greedily: the one with the largest gain, then Sigma is updated as if it had
been labelled, L <- L (I + L^T G_s L)^(-1/2), and the gains of the rest are recomputed.  A second
copy of a picked event then gains at most (1/2) log 2 per direction it informs (its labels would
only average the noise), against (1/2) log(1 + mu) for a direction of eigenvalue mu the first
copy informed, so the picks are diverse, not K copies of one event.
Greedy selection of a monotone submodular gain (log det) is within (1 - 1/e) of the best set.
"""

from __future__ import annotations

import numpy as np

from ...errors import CompotError, DataError


def _whitening(model):
    from ..uncertainty import _cov_of

    u = _cov_of(model)
    cov = np.asarray(u["covariance"], dtype=float)
    w, V = np.linalg.eigh(0.5 * (cov + cov.T))
    keep = w > 0.0                      # the stored covariance lives on the FIM's SC subspace
    L = V[:, keep] * np.sqrt(w[keep])
    return L, float(u["energy_residual_var"]), float(u["force_residual_var"])


def information(model, atoms, var_e: float, var_f: float) -> np.ndarray:
    """G_s for one structure (P_lin x P_lin)."""
    lin = [model.parameter_names.index(n) for n in model.linear_names]
    J = model.jacobian(atoms)[:, lin]
    return np.outer(J[0], J[0]) / var_e + J[1:].T @ J[1:] / var_f


def select(model, candidates, k: int, progress=None, label_noise: float = 0.01) -> dict:
    """Greedy D-optimal choice of ``k`` of ``candidates`` (list of ase.Atoms).  ``label_noise``:
    the variance of a new label as a fraction of the training residual variance.  Returns
    ``{"picked": [indices in order], "gain_nats": [...], "initial_gain_nats": [per candidate]}``."""
    n = len(candidates)
    if n == 0:
        raise DataError("the candidate file contains no structures")
    if k < 1:
        raise CompotError(f"--n must be at least 1, got {k}")
    if k > n:
        raise CompotError(f"--n {k} is larger than the number of candidates ({n})")
    L, var_e, var_f = _whitening(model)
    if not label_noise > 0:
        raise CompotError(f"label_noise must be positive, got {label_noise}")
    var_e, var_f = var_e * label_noise, var_f * label_noise
    if var_e <= 0 or var_f <= 0:
        raise CompotError("the model's stored residual variances are zero; selection needs a model "
                          "fitted to noisy data")
    G = []
    for c, atoms in enumerate(candidates):
        G.append(information(model, atoms, var_e, var_f))
        if progress:
            progress(c + 1, n)

    def gain(Gs, L):
        M = L.T @ Gs @ L
        sign, logdet = np.linalg.slogdet(np.eye(len(M)) + 0.5 * (M + M.T))
        return 0.5 * logdet, M

    first = [gain(Gs, L)[0] for Gs in G]
    picked, gains = [], []
    left = list(range(n))
    for _ in range(k):
        scores = [(gain(G[c], L)[0], -c) for c in left]          # ties: the earlier candidate
        best, negc = max(scores)
        c = -negc
        _, M = gain(G[c], L)
        w, V = np.linalg.eigh(np.eye(len(M)) + 0.5 * (M + M.T))
        L = L @ (V / np.sqrt(w)) @ V.T                           # L (I + M)^(-1/2)
        picked.append(c)
        gains.append(float(best))
        left.remove(c)
    return {"picked": picked, "gain_nats": gains, "initial_gain_nats": [float(x) for x in first]}
