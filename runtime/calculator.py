"""ASE calculator for compot models."""

from __future__ import annotations

import numpy as np
from ase.calculators.calculator import Calculator as _ASECalculator, all_changes

from ..errors import CompotError


class Calculator(_ASECalculator):
    """``compot.Calculator(model_or_path)``: energy, energies, forces, stress, free_energy.

    Neighbours come from a Verlet list with a skin (:class:`~compot.runtime.neighbors.SkinList`):
    it is rebuilt only when an atom has moved more than skin/2 since the last build, or when the
    cell, the periodicity, the atom count or the species change; in between, a step only
    recomputes the separations of the kept pairs (in C).  Results are bit-identical to
    ``model.evaluate(atoms)`` with a fresh list.  ``skin=0`` rebuilds on every call."""

    implemented_properties = ["energy", "energies", "forces", "stress", "free_energy", "energy_std",
                              "forces_std", "energies_std"]

    def __init__(self, model, params=None, uncertainty: bool = False, threads: int | None = None,
                 skin: float = 0.5, **kwargs):
        """``threads``: OpenMP threads per evaluation (default: the model's, from
        ``COMPOT_NUM_THREADS`` or 1).  ``uncertainty=True`` adds ``energy_std`` and ``forces_std`` (FIM parameter covariance
        propagated to the prediction) and their ``*_predictive`` versions (plus the residual
        variance of the training data) to ``results``, and ``energies_std``: the per-atom
        extrapolation grade, the standard deviation of each site energy (docs/theory.md §8.3).  ``skin``: the neighbour list's skin in
        Angstrom (default 0.5)."""
        super().__init__(**kwargs)
        if not hasattr(model, "evaluate"):
            from .compile import load_model

            model = load_model(model)
        self.model = model
        self.params = model.parameter_vector(params if params is not None else model.parameters)
        self.uncertainty = uncertainty
        from .neighbors import SkinList

        self.neighbors = SkinList(model.cutoff, skin, model._kernel)
        if threads is not None:
            if int(threads) < 1:
                raise CompotError(f"threads must be at least 1, got {threads}")
            model.threads = int(threads)

    def check_state(self, atoms, tol=1e-15):
        """What changed since the last calculation, by exact comparison (ASE's default compares
        with ``isclose`` three times per MD step, which costs as much as a small kernel call)."""
        old = self.atoms
        if old is None:
            return list(all_changes)
        changes = []
        if len(atoms) != len(old) or not np.array_equal(atoms.numbers, old.numbers):
            changes += ["numbers", "positions"]
        elif not np.array_equal(atoms.positions, old.positions):
            changes.append("positions")
        if not np.array_equal(atoms.cell[:], old.cell[:]):
            changes.append("cell")
        if not np.array_equal(atoms.pbc, old.pbc):
            changes.append("pbc")
        return changes

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        nl = self.neighbors.get(self.atoms, self.model.species_indices(self.atoms))
        r = self.model.evaluate(self.atoms, self.params, nl=nl)
        self.results = {"energy": r["energy"], "free_energy": r["energy"],
                        "energies": r["energies"], "forces": r["forces"]}
        if "stress" in r:
            self.results["stress"] = r["stress"]
        elif "stress" in properties:
            raise CompotError("stress needs a periodic cell with three independent vectors")
        if self.uncertainty or {"energy_std", "forces_std", "energies_std"} & set(properties):
            from .uncertainty import atom_std, predict_std

            self.results.update(predict_std(self.model, self.atoms))
            self.results["energies_std"] = atom_std(self.model, self.atoms, nl=nl)
