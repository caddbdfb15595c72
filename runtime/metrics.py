"""Error metrics (docs/theory.md §7), overall and per config_type: RMSE and MAE of energies per
atom and of force components, force amplitude and angle RMSE, and RMSE and MAE of the stress
components (GPa) where the data have stresses."""

from __future__ import annotations

import numpy as np

from .crystal import EV_A3_TO_GPA


def _block(dE_per_atom, Fp, Fr, dS=None):
    out = {"n_structures": int(len(dE_per_atom)), "n_atoms": int(len(Fp))}
    out["energy_rmse"] = float(np.sqrt(np.mean(dE_per_atom**2))) if len(dE_per_atom) else float("nan")
    out["energy_mae"] = float(np.mean(np.abs(dE_per_atom))) if len(dE_per_atom) else float("nan")
    dF = Fp - Fr
    out["force_rmse"] = float(np.sqrt(np.mean(dF**2))) if len(dF) else float("nan")
    out["force_mae"] = float(np.mean(np.abs(dF))) if len(dF) else float("nan")
    nr = np.linalg.norm(Fr, axis=1)
    npred = np.linalg.norm(Fp, axis=1)
    ok = nr > 0                               # [choice] atoms with a non-zero reference force
    out["force_amplitude_rmse"] = float(np.sqrt(np.mean((npred[ok] - nr[ok])**2))) if ok.any() else float("nan")
    both = ok & (npred > 0)
    if both.any():
        cos = np.einsum("ij,ij->i", Fp[both], Fr[both]) / (npred[both] * nr[both])
        ang = np.arccos(np.clip(cos, -1.0, 1.0))
        out["force_angle_rmse"] = float(np.sqrt(np.mean(ang**2)))
    else:
        out["force_angle_rmse"] = float("nan")
    if dS is not None and len(dS):
        out["stress_rmse"] = float(np.sqrt(np.mean(dS**2)))
        out["stress_mae"] = float(np.mean(np.abs(dS)))
    return out


def compute_metrics(pred_energies, pred_forces, dataset, pred_stresses=None) -> dict:
    """Metrics of predictions (lists per structure) against a dataset's references.

    Keys: energy_rmse (eV/atom), energy_mae, force_rmse (eV/A, per component), force_mae,
    force_amplitude_rmse (eV/A), force_angle_rmse (rad), n_structures, n_atoms, by_config_type;
    with ``pred_stresses`` (Voigt, eV/A^3, None for a structure without one) also stress_rmse and
    stress_mae (GPa, per component) over the structures with a reference and a predicted stress.
    """
    nat = np.array([s.natoms for s in dataset], dtype=float)
    dE = (np.asarray(pred_energies, dtype=float) - np.array([s.energy for s in dataset])) / nat
    Fp = np.concatenate([np.asarray(f).reshape(-1, 3) for f in pred_forces])
    Fr = np.concatenate([s.forces for s in dataset])
    cts = [s.config_type for s in dataset]
    atom_ct = np.repeat(np.array(cts, dtype=object), nat.astype(int))
    dS = None
    if pred_stresses is not None:
        dS = [None if (p is None or s.stress is None) else (np.asarray(p) - s.stress) * EV_A3_TO_GPA
              for p, s in zip(pred_stresses, dataset)]

    def stresses(mask):
        if dS is None:
            return None
        rows = [d for d, m in zip(dS, mask) if m and d is not None]
        return np.array(rows) if rows else None

    out = _block(dE, Fp, Fr, stresses([True] * len(cts)))
    out["by_config_type"] = {}
    for ct in sorted(set(cts)):
        sm = np.array([c == ct for c in cts])
        am = atom_ct == ct
        out["by_config_type"][ct] = _block(dE[sm], Fp[am], Fr[am], stresses(sm))
    return out


def format_table(metrics: dict, title: str = "") -> str:
    """A readable table: one row overall and one per config_type."""
    cols = [("structures", "n_structures", "{:d}"), ("atoms", "n_atoms", "{:d}"),
            ("E RMSE", "energy_rmse", "{:.2f}"), ("E MAE", "energy_mae", "{:.2f}"),
            ("F RMSE", "force_rmse", "{:.4f}"), ("F MAE", "force_mae", "{:.4f}"),
            ("|F| RMSE", "force_amplitude_rmse", "{:.4f}"), ("angle RMSE", "force_angle_rmse", "{:.4f}")]
    if "stress_rmse" in metrics:
        cols += [("S RMSE", "stress_rmse", "{:.3f}"), ("S MAE", "stress_mae", "{:.3f}")]
    rows = [("all", metrics)] + list(metrics.get("by_config_type", {}).items())
    w0 = max(12, *(len(r[0]) for r in rows))
    head = f"{'config_type':<{w0}}" + "".join(f"{c[0]:>12}" for c in cols)
    lines = ([title] if title else []) + [head, "-" * len(head)]
    units = "energies in meV/atom, forces in eV/A (per component), angles in rad" + (
        ", stresses in GPa (per component)" if "stress_rmse" in metrics else "")
    for name, m in rows:
        vals = []
        for _, key, fmt in cols:
            v = m.get(key)
            if key in ("energy_rmse", "energy_mae"):
                v = v * 1000.0
            vals.append(fmt.format(v) if v is not None else "-")
        lines.append(f"{name:<{w0}}" + "".join(f"{v:>12}" for v in vals))
    lines.append(f"({units})")
    return "\n".join(lines)
