"""DFT reference values for ``compot validate --reference`` (docs/validation.md §2).

Only what the data determine is derived; everything else is ``None`` with a reason ("not
derivable from the reference data: ...").  Nothing is tuned per element.

Bulk cells.  A structure of the pure element is a *perfect bulk cell* of lattice L if every atom
has the coordination of L within 1.07 times the shortest distance (bcc 8, fcc/hcp 12, diamond 4)
and the cell has no vacuum.  The *reference cell* of a group of cells with the same number of atoms
is the one whose metric is closest to the lattice's ideal (cubic: equal, orthogonal vectors);
ties go to the lowest energy.  Elastic constants come from groups whose config_type contains
"elastic", "strain" or "deform"; the equilibrium lattice constant from any perfect bulk cells.

Elastic constants.  For every cell of a group with the same atom count as its reference cell, the
deformation gradient F = (ref^-1 cell)^T gives the small strain
sym(F) - I; cells within 2 % (by that or the Green-Lagrange measure, see
:mod:`compot.runtime.crystal`; the model side uses the same strains) enter the cubic least-squares
fit sigma = sigma0 + C eps of the DFT stresses (:func:`compot.runtime.crystal.fit_cubic_elastic`).  The reference cell's
cube axes must lie along x, y, z (else C is not derivable: the frame is unknown).  DFT cells are
clamped-ion unless the data say otherwise, so the reference C44 compares with the model's
clamped-ion C44.

Lattice constant.  If the bulk cells include >= 5 isotropic scalings of one cell (F = s I), a
Birch-Murnaghan fit of E(V); otherwise the reference cell corrected by its residual pressure
p = -tr(sigma0)/3 and the bulk modulus B = (C11 + 2 C12)/3 of the fit: V0 = V_ref (1 + p/B)
(first order), a0 = (V0 n_cube / N)^(1/3).

Vacancy.  Needs a cell with N-1 atoms and a perfect bulk cell with N atoms and the same cell
vectors (to 1e-3 relative): E_f = E(N-1) - (N-1)/N E(N), with the lowest-energy cell of each.

Surfaces.  A slab is a cell with a vacuum gap (> 4 Å) along one cell vector.  Its orientation is
identified from the atom nearest the slab's middle: the sorted |cos| between the surface normal and
its nearest-neighbour bonds must match that of (100), (110) or (111) of the lattice (within
0.05).  gamma = (E_slab - N e_bulk)/(2A) with e_bulk the lowest energy per atom of the perfect bulk
cells; for several slabs of one orientation the lowest gamma is reported.
"""

from __future__ import annotations

import re

import numpy as np

from ..errors import DataError
from . import crystal as X

NOT_DERIVABLE = "not derivable from the reference data"
ELASTIC_GROUP = re.compile(r"elastic|strain|deform", re.I)


def _pure(dataset, element):
    return [s for s in dataset if set(s.atoms.get_chemical_symbols()) == {element}]


def reference_lattice(dataset, element):
    """The lattice of the data's perfect bulk cells of ``element`` (the most common one; fcc
    stands for fcc or hcp), or None when the data have none."""
    from collections import Counter

    seen = Counter(L for L in (bulk_lattice(s.atoms) for s in _pure(dataset, element)) if L)
    return seen.most_common(1)[0][0] if seen else None


def reference_nearest_neighbour(dataset, element, lattice):
    """The nearest-neighbour distance of the lowest-energy perfect bulk cell of ``lattice`` in the
    data (a starting point for the model's lattice relaxation), or None."""
    cells = [s for s in _pure(dataset, element) if bulk_lattice(s.atoms) == lattice]
    if not cells:
        return None
    best = min(cells, key=lambda s: s.energy / s.natoms)
    from ase.neighborlist import neighbor_list

    d = neighbor_list("d", best.atoms, 4.0)
    return float(d.min()) if len(d) else None


def check_reference(dataset, elements) -> None:
    """Fail early with one line if the data contain none of the model's elements in pure form."""
    if not any(_pure(dataset, el) for el in elements):
        raise DataError(f"the reference data ({len(dataset)} structures, groups "
                        f"{', '.join(dataset.config_types)}) contain no structure of pure "
                        f"{' or '.join(elements)}: no usable group")


def _vacuum_axis(atoms, gap=4.0):
    """Index of the cell vector along which the atoms leave a gap > ``gap`` Å, else None."""
    cell = np.asarray(atoms.cell)
    frac = atoms.get_scaled_positions() % 1.0
    for ax in range(3):
        n = np.cross(cell[(ax + 1) % 3], cell[(ax + 2) % 3])
        h = abs(cell[ax] @ n) / np.linalg.norm(n)      # layer spacing along the normal
        f = np.sort(frac[:, ax])
        gaps = np.diff(np.concatenate([f, [f[0] + 1]])) * h
        if gaps.max() > gap:
            return ax
    return None


def _coordination(atoms):
    from ase.neighborlist import neighbor_list

    i, d = neighbor_list("id", atoms, 4.5)
    if len(d) == 0:
        return None, None
    dmin = d.min()
    c = np.bincount(i[d < 1.07 * dmin], minlength=len(atoms))
    return c, dmin


def bulk_lattice(atoms):
    """The lattice of a perfect bulk cell (bcc, fcc or diamond; hcp and fcc are not told apart,
    12 -> fcc), or None."""
    if _vacuum_axis(atoms) is not None:
        return None
    c, _ = _coordination(atoms)
    if c is None or len(set(c.tolist())) != 1:
        return None
    return {8: "bcc", 12: "fcc", 4: "diamond"}.get(int(c[0]))


def _cubicness(cell):
    L = np.linalg.norm(cell, axis=1)
    return float(np.abs(np.asarray(cell) - np.diag(np.diag(cell))).max() / L.mean()
                 + np.ptp(L) / L.mean())


def _axes_aligned(cell, tol=1e-3):
    cell = np.asarray(cell)
    return np.abs(cell - np.diag(np.diag(cell))).max() < tol * np.abs(np.diag(cell)).min()


def derive_elastic(structures, lattice, max_strain=0.02) -> dict:
    groups = {}
    for s in structures:
        if ELASTIC_GROUP.search(s.config_type or "") and s.stress is not None \
                and _vacuum_axis(s.atoms) is None:
            groups.setdefault(s.natoms, []).append(s)
    if not groups:
        return {"reason": f"{NOT_DERIVABLE}: no strained bulk cells with stresses (config_type "
                          "containing 'elastic', 'strain' or 'deform')"}
    e_all, s_all, used, refs = [], [], 0, []
    reasons = []
    for n, cells in sorted(groups.items()):
        ref = min(cells, key=lambda s: (_cubicness(s.atoms.cell), s.energy / s.natoms))
        if _cubicness(ref.atoms.cell) > 1e-3 or not _axes_aligned(ref.atoms.cell):
            reasons.append(f"{n}-atom cells: no unstrained cubic reference cell along x, y, z")
            continue
        if bulk_lattice(ref.atoms) not in (lattice, None) and lattice in X.CUBIC:
            reasons.append(f"{n}-atom cells: reference cell is {bulk_lattice(ref.atoms)}, not {lattice}")
            continue
        k = 0
        for s in cells:
            F = X.F_from_cells(ref.atoms.cell, s.atoms.cell)
            E = X.small_strain_from_F(F)
            # within the bound by either common strain measure (scan generators use either)
            if min(X.max_tensor_strain(E), X.max_tensor_strain(X.voigt_from_F(F))) <= max_strain + 1e-6:
                e_all.append(E)
                s_all.append(np.asarray(s.stress) * X.EV_A3_TO_GPA)
                k += 1
        if k > 1:
            used += k
            refs.append({"atoms": n, "cell_A": float(np.diag(ref.atoms.cell).mean()),
                         "energy_per_atom_eV": ref.energy / ref.natoms, "cells_used": k})
    if used < 3:
        return {"reason": f"{NOT_DERIVABLE}: fewer than 3 cells within {max_strain:.0%} strain of an "
                          "unstrained reference cell" + (f" ({'; '.join(reasons)})" if reasons else "")}
    fit = X.fit_cubic_elastic(e_all, s_all)
    out = {"cells_used": used, "reference_cells": refs, "max_strain": max_strain,
           "rms_residual_GPa": fit["rms_residual"], "sigma0_GPa": fit["sigma0"].tolist()}
    for k in ("C11", "C12", "C44"):
        out[f"{k}_GPa"] = float(fit[k]) if fit["determined"][k] else None
    if not all(fit["determined"].values()):
        out["reason"] = f"{NOT_DERIVABLE}: the strains do not determine " + ", ".join(
            k for k, v in fit["determined"].items() if not v)
    return out


def derive_lattice_constant(bulk_cells, lattice, elastic) -> dict:
    from ase.eos import EquationOfState

    if lattice not in X.CUBIC:
        return {"lattice_constant_A": None, "reason": f"{NOT_DERIVABLE}: only cubic lattices"}
    n_cube = X.ATOMS_PER_CUBE[lattice]
    # isotropic scalings of one cell
    for s in bulk_cells:
        fam = []
        for t in bulk_cells:
            if t.natoms != s.natoms:
                continue
            F = X.F_from_cells(s.atoms.cell, t.atoms.cell)
            sc = np.cbrt(np.linalg.det(F))
            if np.abs(F - sc * np.eye(3)).max() < 1e-4:
                fam.append((t.atoms.get_volume() / t.natoms, t.energy / t.natoms))
        vols = sorted({round(v, 6) for v, _ in fam})
        if len(vols) >= 5:
            v, e = zip(*sorted(fam))
            v0, _, B = EquationOfState(v, e, eos="birchmurnaghan").fit()
            return {"lattice_constant_A": float(np.cbrt(v0 * n_cube)), "method": "E-V fit (BM3)",
                    "bulk_modulus_GPa": float(B) * X.EV_A3_TO_GPA, "volumes": len(vols)}
    # the reference cell of the elastic fit, corrected by its residual pressure
    if elastic.get("C11_GPa") is not None and elastic.get("C12_GPa") is not None and elastic.get("reference_cells"):
        ref = max(elastic["reference_cells"], key=lambda r: r["cells_used"])
        B = (elastic["C11_GPa"] + 2 * elastic["C12_GPa"]) / 3
        p = -float(np.mean(elastic["sigma0_GPa"][:3]))
        # the cell of the reference (cubic supercell of the conventional cube)
        cand = [s for s in bulk_cells if s.natoms == ref["atoms"]
                and abs(np.diag(s.atoms.cell).mean() - ref["cell_A"]) < 1e-6]
        s = cand[0] if cand else None
        if s is not None:
            V = s.atoms.get_volume() / s.natoms * (1 + p / B)
            return {"lattice_constant_A": float(np.cbrt(V * n_cube)),
                    "method": "unstrained cell corrected by its residual pressure",
                    "residual_pressure_GPa": p, "bulk_modulus_from_C_GPa": B}
    if bulk_cells:
        s = min(bulk_cells, key=lambda s: s.energy / s.natoms)
        return {"lattice_constant_A": None,
                "reason": f"{NOT_DERIVABLE}: no volume scan and no elastic fit to correct the "
                          f"lowest-energy bulk cell ({s.natoms} atoms) for its residual pressure"}
    return {"lattice_constant_A": None, "reason": f"{NOT_DERIVABLE}: no perfect {lattice} bulk cell"}


def derive_vacancy(structures, bulk_cells) -> dict:
    best = None
    for v in structures:
        for b in bulk_cells:
            if b.natoms == v.natoms + 1 and np.allclose(np.asarray(b.atoms.cell), np.asarray(v.atoms.cell),
                                                        rtol=1e-3, atol=1e-3):
                ef = v.energy - (b.natoms - 1) / b.natoms * b.energy
                if best is None or v.energy < best[1].energy:
                    best = (ef, v, b)
    if best is None:
        return {"vacancy_formation_energy_eV": None,
                "reason": f"{NOT_DERIVABLE}: no cell with N-1 atoms together with a perfect bulk cell "
                          "of N atoms and the same cell vectors"}
    ef, v, b = best
    return {"vacancy_formation_energy_eV": float(ef), "supercell_atoms": b.natoms,
            "vacancy_cell_max_force_eV_A": float(np.abs(v.forces).max())}


def slab_orientation(atoms, lattice):
    ax = _vacuum_axis(atoms)
    if ax is None or lattice not in X.CUBIC:
        return None
    cell = np.asarray(atoms.cell)
    normal = np.cross(cell[(ax + 1) % 3], cell[(ax + 2) % 3])
    normal /= np.linalg.norm(normal)
    # the atom nearest the slab's middle along the normal (positions unwrapped across the gap)
    frac = atoms.get_scaled_positions() % 1.0
    f = np.sort(frac[:, ax])
    gaps = np.diff(np.concatenate([f, [f[0] + 1]]))
    start = f[(int(np.argmax(gaps)) + 1) % len(f)]
    u = (frac[:, ax] - start) % 1.0
    mid = int(np.argmin(np.abs(u - (u.max() / 2))))
    from ase.neighborlist import neighbor_list

    i, D, d = neighbor_list("iDd", atoms, 4.5)
    sel = i == mid
    if not sel.any():
        return None
    dmin = d[sel].min()
    bonds = D[sel][d[sel] < 1.07 * dmin]
    want = X.COORDINATION[lattice]
    if len(bonds) != want:
        return None
    cosines = np.sort(np.abs(bonds @ normal) / np.linalg.norm(bonds, axis=1))
    for name, fp in X.surface_fingerprint_table(lattice).items():
        ref = np.sort(np.repeat(fp, 2)) if lattice != "diamond" else fp
        if len(ref) == len(cosines) and np.abs(ref - cosines).max() < 0.05:
            return name, float(np.linalg.norm(np.cross(cell[(ax + 1) % 3], cell[(ax + 2) % 3])))
    return None


def derive_surfaces(structures, lattice, e_bulk) -> dict:
    out = {}
    found = {}
    for s in structures:
        o = slab_orientation(s.atoms, lattice) if e_bulk is not None else None
        if o is None:
            continue
        name, A = o
        g = (s.energy - s.natoms * e_bulk) / (2 * A) * X.EV_A2_TO_J_M2
        if name not in found or g < found[name][0]:
            found[name] = (g, s.natoms)
    for m in ("100", "110", "111"):
        if m in found:
            out[f"surface_energy_{m}_J_m2"] = float(found[m][0])
            out[f"slab_{m}_atoms"] = found[m][1]
        else:
            out[f"surface_energy_{m}_J_m2"] = None
            out[f"surface_{m}_reason"] = (f"{NOT_DERIVABLE}: no perfect bulk cell for the bulk energy"
                                          if e_bulk is None else
                                          f"{NOT_DERIVABLE}: no slab identified as ({m})")
    return out


def derive_reference(dataset, element: str, lattice: str, cutoff: float | None = None) -> dict:
    """Reference values of ``element`` in ``lattice`` derivable from ``dataset`` (see above)."""
    structures = _pure(dataset, element)
    bulk_cells = [s for s in structures if bulk_lattice(s.atoms) == (lattice if lattice != "hcp" else "fcc")]
    el = derive_elastic(structures, lattice) if lattice in X.CUBIC else {
        "reason": f"{NOT_DERIVABLE}: elastic constants are derived for cubic lattices only"}
    a = derive_lattice_constant(bulk_cells, lattice, el)
    vac = derive_vacancy([s for s in structures if _vacuum_axis(s.atoms) is None
                          and bulk_lattice(s.atoms) is None], bulk_cells)
    e_bulk = min((s.energy / s.natoms for s in bulk_cells), default=None)
    surf = derive_surfaces(structures, lattice, e_bulk)
    out = {"element": element, "lattice": lattice, "structures": len(structures),
           "perfect_bulk_cells": len(bulk_cells), "bulk_energy_per_atom_eV": e_bulk,
           "lattice_constant_A": a.get("lattice_constant_A"), "lattice_constant": a,
           "C11_GPa": el.get("C11_GPa"), "C12_GPa": el.get("C12_GPa"), "C44_GPa": el.get("C44_GPa"),
           "elastic": el, "vacancy_formation_energy_eV": vac.get("vacancy_formation_energy_eV"),
           "vacancy": vac, "surface": surf}
    for m in ("100", "110", "111"):
        out[f"surface_energy_{m}_J_m2"] = surf[f"surface_energy_{m}_J_m2"]
    if a.get("bulk_modulus_GPa") is not None:
        out["bulk_modulus_GPa"] = a["bulk_modulus_GPa"]
    elif el.get("C11_GPa") is not None and el.get("C12_GPa") is not None:
        out["bulk_modulus_GPa"] = (el["C11_GPa"] + 2 * el["C12_GPa"]) / 3
        out["bulk_modulus_note"] = "(C11 + 2 C12)/3 of the elastic fit"
    else:
        out["bulk_modulus_GPa"] = None
    keys = ["lattice_constant_A", "C11_GPa", "C12_GPa", "C44_GPa", "bulk_modulus_GPa",
            "vacancy_formation_energy_eV", "surface_energy_100_J_m2", "surface_energy_110_J_m2",
            "surface_energy_111_J_m2"]
    if all(out[k] is None for k in keys):
        raise DataError(f"the reference data have no usable group for {element} ({lattice}): no "
                        f"strained bulk cells, bulk cells, vacancy cells or slabs "
                        f"(groups: {', '.join(dataset.config_types)})")
    return out


COMPARED = [("lattice_constant_A", "lattice constant (Å)"), ("C11_GPa", "C11 (GPa)"),
            ("C12_GPa", "C12 (GPa)"), ("C44_GPa", "C44 (GPa)"), ("bulk_modulus_GPa", "bulk modulus (GPa)"),
            ("vacancy_formation_energy_eV", "vacancy formation energy (eV)"),
            ("surface_energy_100_J_m2", "surface energy (100) (J/m²)"),
            ("surface_energy_110_J_m2", "surface energy (110) (J/m²)"),
            ("surface_energy_111_J_m2", "surface energy (111) (J/m²)")]


def _reason(ref, key):
    if key == "lattice_constant_A":
        return ref["lattice_constant"].get("reason")
    if key.startswith("C"):
        return ref["elastic"].get("reason")
    if key.startswith("vacancy"):
        return ref["vacancy"].get("reason")
    if key.startswith("surface"):
        return ref["surface"].get(f"surface_{key.split('_')[2]}_reason")
    return f"{NOT_DERIVABLE}"


def compare(model_res: dict, ref: dict) -> dict:
    """{key: {model, reference, relative_error, reason}} for the compared quantities."""
    out = {}
    for key, label in COMPARED:
        m, r = model_res.get(key), ref.get(key)
        row = {"label": label, "model": m, "reference": r,
               "relative_error": (m - r) / abs(r) if (m is not None and r not in (None, 0)) else None}
        if r is None:
            row["reason"] = _reason(ref, key) or NOT_DERIVABLE
        out[key] = row
    return out
