"""An independent, vectorised numpy implementation of the paper's reference models (energy and
forces), written by hand from docs/theory.md §2–4 -- no compot derivation or kernel is used.  It serves as a
correctness check (tests require agreement to 1e-10) and as the numpy baseline of the benchmarks.

Supported: G<n>, E[G<n>L<m>], N[E[G<n>L<m>]], G<a>*E[G<b>L<m>], E[G<n>L<m>] + N[E[G<n>L<m>]].
"""

from __future__ import annotations

import re

import numpy as np


def _fc(r, rc):
    x = r / rc
    fc = 1 - 35 * x**4 + 84 * x**5 - 70 * x**6 + 20 * x**7
    dfc = (-140 * x**3 + 420 * x**4 - 420 * x**5 + 140 * x**6) / rc
    inside = x < 1
    return np.where(inside, fc, 0.0), np.where(inside, dfc, 0.0)


class Pairs:
    def __init__(self, n, i, j, D, rc):
        self.n, self.i, self.j, self.D = n, i, j, D
        self.r = np.linalg.norm(D, axis=1)
        self.fc, self.dfc = _fc(self.r, rc)


def _gauss(pairs, alpha, beta, n):
    """phi (npairs, n) and dphi/dr of the even-tempered family."""
    a = alpha * beta ** np.arange(n)
    g = np.exp(-np.outer(pairs.r**2, a))
    phi = g * pairs.fc[:, None]
    dphi = g * (pairs.dfc[:, None] - 2 * pairs.r[:, None] * a[None, :] * pairs.fc[:, None])
    return phi, dphi


def _sum_i(pairs, vals):
    out = np.zeros((pairs.n,) + vals.shape[1:])
    np.add.at(out, pairs.i, vals)
    return out


class _Basis:
    def __init__(self, pairs, alpha, beta, n):
        self.phi, self.dphi = _gauss(pairs, alpha, beta, n)
        self.psi = _sum_i(pairs, self.phi)
        self.chi = None

    def neighbour(self, pairs):
        if self.chi is None:
            self.chi = _sum_i(pairs, pairs.fc[:, None] * self.psi[pairs.j])
        return self.chi


def _exp_term(x, c, lam):
    """E_i = sum_k sum_nu c[k,nu] exp(lam_k x_nu); returns (E, dE/dx)."""
    ex = np.exp(lam[None, :, None] * x[:, None, :])          # (N, m, n)
    return np.einsum("kn,ikn->i", c, ex), np.einsum("kn,k,ikn->in", c, lam, ex)


def _params(p, label, n, m=None):
    if m is None:
        return np.array([p[f"{label}.c[{nu}]"] for nu in range(1, n + 1)])
    c = np.array([[p[f"{label}.c[{k},{nu}]"] for nu in range(1, n + 1)] for k in range(1, m + 1)])
    lam = np.array([p[f"{label}.lambda[{k}]"] for k in range(1, m + 1)])
    return c, lam


def energy_forces(text: str, p: dict, pairs: Pairs):
    """Per-atom energies and forces of one of the supported models."""
    t = text.replace(" ", "")
    n_atoms = pairs.n
    grads = []          # (basis, U on psi, V on chi)

    def basis(label, n):
        return _Basis(pairs, p[f"{label}.alpha"], p[f"{label}.beta"], n)

    if (mt := re.fullmatch(r"G(\d+)", t)):
        n = int(mt[1])
        b = basis("b1", n)
        c = _params(p, "t1", n)
        E = b.psi @ c + p["t1.s"]
        grads.append((b, np.tile(c, (n_atoms, 1)), None))
    elif (mt := re.fullmatch(r"(N\[)?E\[G(\d+)L(\d+)\]\]?", t)):
        n, m = int(mt[2]), int(mt[3])
        b = basis("b1", n)
        c, lam = _params(p, "t1", n, m)
        if mt[1]:
            E, V = _exp_term(b.neighbour(pairs), c, lam)
            grads.append((b, np.zeros_like(b.psi), V))
        else:
            E, U = _exp_term(b.psi, c, lam)
            grads.append((b, U, None))
        E = E + p["t1.s"]
    elif (mt := re.fullmatch(r"G(\d+)\*E\[G(\d+)L(\d+)\]", t)):
        a, n, m = map(int, mt.groups())
        b1, b2 = basis("b1", a), basis("b2", n)
        c1 = _params(p, "t1", a)
        L = b1.psi @ c1 + p["t1.s"]
        c, lam = _params(p, "t2", n, m)
        Rr, UR = _exp_term(b2.psi, c, lam)
        Rr = Rr + p["t2.s"]
        E = L * Rr + p["p1.s"]
        grads.append((b1, Rr[:, None] * c1[None, :], None))
        grads.append((b2, L[:, None] * UR, None))
    elif (mt := re.fullmatch(r"E\[G(\d+)L(\d+)\]\+N\[E\[G\1L\2\]\]", t)):
        n, m = int(mt[1]), int(mt[2])
        b = basis("b1", n)
        c1, l1 = _params(p, "t1", n, m)
        c2, l2 = _params(p, "t2", n, m)
        E1, U = _exp_term(b.psi, c1, l1)
        E2, V = _exp_term(b.neighbour(pairs), c2, l2)
        E = E1 + E2 + p["t1.s"]
        grads.append((b, U, V))
    else:
        raise ValueError(f"numpy reference does not implement {text!r}")
    F = np.zeros((n_atoms, 3))
    u = pairs.D / pairs.r[:, None]
    for b, U, V in grads:
        W = U.copy()
        g = np.zeros(len(pairs.r))
        if V is not None:
            np.add.at(W, pairs.j, pairs.fc[:, None] * V[pairs.i])
            g += pairs.dfc * np.einsum("kn,kn->k", V[pairs.i], b.psi[pairs.j])
        g += np.einsum("kn,kn->k", W[pairs.i], b.dphi)
        f = g[:, None] * u
        np.add.at(F, pairs.i, f)
        np.add.at(F, pairs.j, -f)
    return E, F
