"""Isolated-atom reference energies E0 (docs/theory.md §4.5).

The energy of an isolated atom of element X is a per-element reference E0_X; a fitted model
reproduces it exactly (the fit constrains E(isolated atom) = E0), so that the cohesive energy
E0 - E_bulk comes out positive and plausible instead of whatever the shift absorbed.  E0 is, in
order of preference:

1. given by the user (``--e0 Nb=-3.1``, ``FitOptions(e0={"Nb": -3.1})``);
2. taken from isolated-atom frames in the data (one atom without neighbours within the cutoff);
3. the default rule [choice]: E0_X = e_X + E_coh,X, with e_X the lowest energy per atom among the
   data's structures of pure X (or, for an element that only occurs in compounds, the per-atom
   energy of X from a least-squares fit of the structures' energies to their compositions) and
   E_coh,X the experimental cohesive energy (Kittel, Introduction to Solid State Physics, 8th
   ed., ch. 3, table 1).  So the model's cohesive energy is the experimental one (up to the gap
   between e_X and the model's ground state), whatever the DFT code's energy zero.
"""

from __future__ import annotations

import warnings

import numpy as np

#: experimental cohesive energies, eV/atom (Kittel, 8th ed., ch. 3, table 1)
COHESIVE_ENERGY = {
    "Li": 1.63, "Be": 3.32, "B": 5.81, "C": 7.37, "N": 4.92, "O": 2.60, "F": 0.84, "Ne": 0.020,
    "Na": 1.113, "Mg": 1.51, "Al": 3.39, "Si": 4.63, "P": 3.43, "S": 2.85, "Cl": 1.40, "Ar": 0.080,
    "K": 0.934, "Ca": 1.84, "Sc": 3.90, "Ti": 4.85, "V": 5.31, "Cr": 4.10, "Mn": 2.92, "Fe": 4.28,
    "Co": 4.39, "Ni": 4.44, "Cu": 3.49, "Zn": 1.35, "Ga": 2.81, "Ge": 3.85, "As": 2.96, "Se": 2.46,
    "Br": 1.22, "Kr": 0.116, "Rb": 0.852, "Sr": 1.72, "Y": 4.37, "Zr": 6.25, "Nb": 7.57, "Mo": 6.82,
    "Tc": 6.85, "Ru": 6.74, "Rh": 5.75, "Pd": 3.89, "Ag": 2.95, "Cd": 1.16, "In": 2.52, "Sn": 3.14,
    "Sb": 2.75, "Te": 2.19, "I": 1.11, "Xe": 0.16, "Cs": 0.804, "Ba": 1.90, "La": 4.47, "Ce": 4.32,
    "Pr": 3.70, "Nd": 3.40, "Sm": 2.14, "Eu": 1.86, "Gd": 4.14, "Tb": 4.05, "Dy": 3.04, "Ho": 3.14,
    "Er": 3.29, "Tm": 2.42, "Yb": 1.60, "Lu": 4.43, "Hf": 6.44, "Ta": 8.10, "W": 8.90, "Re": 8.03,
    "Os": 8.17, "Ir": 6.94, "Pt": 5.84, "Au": 3.81, "Hg": 0.67, "Tl": 1.88, "Pb": 2.03, "Bi": 2.18,
    "Th": 6.20, "U": 5.55, "Np": 4.73, "Pu": 3.60,
}


def isolated_atom(symbol: str):
    """One atom in free space (no periodic images, so no neighbours)."""
    from ase import Atoms

    return Atoms(symbol, positions=[[0.0, 0.0, 0.0]], pbc=False)


def _isolated_frames(dataset, cutoff: float) -> dict:
    """E0 from single-atom structures without neighbours within the cutoff."""
    out = {}
    for s in dataset:
        a = s.atoms
        if len(a) != 1:
            continue
        if a.pbc.any():
            lengths = np.linalg.norm(np.asarray(a.cell[:])[a.pbc], axis=1)
            if lengths.size and lengths.min() < cutoff:
                continue
        out.setdefault(a.get_chemical_symbols()[0], s.energy)
    return out


def _per_atom_energies(dataset, elements) -> dict:
    """e_X: the lowest energy per atom of pure-X structures, else X's share of a least-squares fit
    of energies to compositions."""
    out = {}
    for X in elements:
        pure = [s.energy / s.natoms for s in dataset if set(s.atoms.get_chemical_symbols()) == {X}]
        if pure:
            out[X] = min(pure)
    missing = [X for X in elements if X not in out]
    if missing:
        counts = np.array([[s.atoms.get_chemical_symbols().count(X) for X in elements] for s in dataset],
                          dtype=float)
        mu, *_ = np.linalg.lstsq(counts, np.array([s.energy for s in dataset]), rcond=None)
        for X in missing:
            out[X] = float(mu[elements.index(X)])
    return out


def reference_energies(elements, dataset, cutoff: float, given: dict | None = None) -> dict:
    """{element: {"e0": eV, "source": "given" | "data" | "default"}} for every element."""
    given = dict(given or {})
    unknown = [X for X in given if X not in elements]
    if unknown:
        from ..errors import CompotError

        raise CompotError(f"--e0 for {', '.join(unknown)}, which the model does not contain "
                          f"(elements: {', '.join(elements)})")
    frames = _isolated_frames(dataset, cutoff)
    need = [X for X in elements if X not in given and X not in frames]
    e_min = _per_atom_energies(dataset, need) if need else {}
    out = {}
    for X in elements:
        if X in given:
            out[X] = {"e0": float(given[X]), "source": "given"}
        elif X in frames:
            out[X] = {"e0": float(frames[X]), "source": "data"}
        elif X in COHESIVE_ENERGY:
            out[X] = {"e0": e_min[X] + COHESIVE_ENERGY[X], "source": "default"}
        else:
            warnings.warn(f"no cohesive energy is known for {X}: its isolated-atom energy is set to its "
                          f"lowest energy per atom in the data; give it with --e0 {X}=...", stacklevel=3)
            out[X] = {"e0": e_min[X], "source": "default"}
    return out
