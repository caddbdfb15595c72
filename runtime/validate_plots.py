"""Plots of ``compot validate`` (matplotlib, Agg): eos.png, elastic.png, dimer.png, phonons.png,
md.png per element (prefixed ``<El>_`` for multi-element models).  Methods: docs/validation.md."""

from __future__ import annotations

import os

import numpy as np


def write_plots(out: dict, outdir) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(outdir, exist_ok=True)
    files = []
    multi = len(out["results"]) > 1

    def save(fig, el, name):
        path = os.path.join(outdir, (f"{el}_" if multi else "") + name)
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)
        files.append(path)

    for el, r in out["results"].items():
        ref = r.get("reference") or {}
        e = r["eos"]
        fig, ax = plt.subplots(figsize=(4.5, 3.5))
        ax.plot(e["volumes_A3_per_atom"], e["energies_eV_per_atom"], "o-", ms=3, label="model")
        ttl = f"{el} {r['lattice']}: a0 = {r['lattice_constant_A']:.4f} Å"
        if e.get("bulk_modulus_GPa") is not None:
            ttl += f", B = {e['bulk_modulus_GPa']:.0f} GPa"
        ax.set_title(ttl, fontsize=9)
        ax.set_xlabel("volume (Å³/atom)")
        ax.set_ylabel("energy (eV/atom)")
        save(fig, el, "eos.png")

        el_c = r["elastic"].get("_curves")
        if el_c:
            fig, axs = plt.subplots(1, 3, figsize=(9, 3))
            strains, stresses = map(np.asarray, el_c["clamped"])
            for ax, (j, i, lab) in zip(axs, [(0, 0, "σxx vs εxx (C11)"), (0, 1, "σyy vs εxx (C12)"),
                                             (3, 3, "σyz vs γyz (C44)")]):
                m = np.abs(strains[:, j]) > 0
                m &= np.all(np.abs(np.delete(strains, j, axis=1)) < 1e-12, axis=1)
                ax.plot(strains[m, j], stresses[m, i], "o", label="model (clamped)")
                ax.set_title(lab, fontsize=9)
                ax.set_xlabel("strain")
            axs[0].set_ylabel("stress (GPa)")
            save(fig, el, "elastic.png")

        d = r["dimer"]
        fig, ax = plt.subplots(figsize=(4.5, 3.5))
        E = np.asarray(d["energy_eV"])
        ax.plot(d["r_A"], E)
        ax.axhline(0, color="k", lw=0.5)
        lo = max(E.min() * 1.5 - 0.5, -20)
        ax.set_ylim(lo, max(5.0, abs(lo)))
        ax.set_xlabel("r (Å)")
        ax.set_ylabel("E(r) − 2 E(atom) (eV)")
        ax.set_title(f"{el} dimer: min {d['E_min_eV']:.2f} eV at {d['r_min_A']:.2f} Å; "
                     f"{'no hole' if d['no_hole'] else 'HOLE'}", fontsize=9)
        save(fig, el, "dimer.png")

        ph = r.get("phonon")
        if ph and "_bands" in ph:
            fig, (a1, a2) = plt.subplots(1, 2, figsize=(8, 3.5), gridspec_kw={"width_ratios": [3, 1]},
                                         sharey=True)
            x0 = 0.0
            segs = ph["_bands"]["labels"]
            ticks, labels = [0.0], [segs[0][0]]
            for k, (dist, f) in enumerate(zip(ph["_bands"]["distances"], ph["_bands"]["frequencies"])):
                dist = np.asarray(dist)
                xs = dist - dist[0] + x0
                a1.plot(xs, f, "b-", lw=0.8)
                x0 = xs[-1]
                ticks.append(x0)
                end = segs[k][1]
                if k + 1 < len(segs) and segs[k + 1][0] != end:
                    end = end + "|" + segs[k + 1][0]
                labels.append(end)
            a1.set_xticks(ticks)
            a1.set_xticklabels([s.replace("G", "Γ") for s in labels], fontsize=7)
            a1.axhline(0, color="k", lw=0.5)
            a1.set_ylabel("frequency (THz)")
            a1.set_title(f"{el} phonons ({ph['supercell_atoms']}-atom supercell)", fontsize=9)
            a2.plot(ph["_dos"]["dos"], ph["_dos"]["frequency"])
            a2.set_xlabel("DOS")
            save(fig, el, "phonons.png")

        mdr = r.get("md")
        if mdr and "runs" in mdr:
            fig, (a1, a2) = plt.subplots(1, 2, figsize=(8, 3.2))
            for run in mdr["runs"]:
                tr = run["_trace"]
                c = np.asarray(tr["conserved_eV_per_atom"])
                a1.plot(tr["t_ps"], (c - c[0]) * 1000, label=f"{run['temperature_K']:.0f} K")
                a2.plot(tr["t_ps"], tr["T"], label=f"{run['temperature_K']:.0f} K")
            a1.set_xlabel("t (ps)")
            a1.set_ylabel("conserved energy drift (meV/atom)")
            a2.set_xlabel("t (ps)")
            a2.set_ylabel("T (K)")
            a1.legend(fontsize=7)
            a1.set_title(f"{el} NVT: {'stable' if mdr['stable'] else 'UNSTABLE'}", fontsize=9)
            save(fig, el, "md.png")
        del ref
    return files
