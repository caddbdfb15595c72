"""Parity plots (matplotlib, written to files)."""

from __future__ import annotations

import os

import numpy as np


def parity_plots(model, dataset, outdir, params=None) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(outdir, exist_ok=True)
    e, f = model.predict(dataset, params)
    nat = np.array([s.natoms for s in dataset])
    ep = np.array(e) / nat
    er = np.array([s.energy for s in dataset]) / nat
    cts = [s.config_type for s in dataset]
    files = []
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    for ct in sorted(set(cts)):
        m = np.array([c == ct for c in cts])
        ax.scatter(er[m], ep[m], s=10, label=ct)
    lo, hi = min(er.min(), ep.min()), max(er.max(), ep.max())
    ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
    ax.set_xlabel("DFT energy (eV/atom)")
    ax.set_ylabel("model energy (eV/atom)")
    rmse = np.sqrt(np.mean((ep - er) ** 2)) * 1000
    ax.set_title(f"energy: RMSE {rmse:.2f} meV/atom", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = os.path.join(outdir, "parity_energy.png")
    fig.savefig(path, dpi=150)
    plt.close(fig)
    files.append(path)
    Fp = np.concatenate(f).ravel()
    Fr = np.concatenate([s.forces for s in dataset]).ravel()
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.scatter(Fr, Fp, s=2, alpha=0.4)
    lo, hi = min(Fr.min(), Fp.min()), max(Fr.max(), Fp.max())
    ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
    ax.set_xlabel("DFT force component (eV/Å)")
    ax.set_ylabel("model force component (eV/Å)")
    ax.set_title(f"forces: RMSE {np.sqrt(np.mean((Fp - Fr) ** 2)):.4f} eV/Å", fontsize=9)
    fig.tight_layout()
    path = os.path.join(outdir, "parity_forces.png")
    fig.savefig(path, dpi=150)
    plt.close(fig)
    files.append(path)
    return files
