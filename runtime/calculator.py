"""ASE calculator for compot models."""

from __future__ import annotations

from ase.calculators.calculator import Calculator as _ASECalculator, all_changes

from ..errors import CompotError


class Calculator(_ASECalculator):
    """``compot.Calculator(model_or_path)``: energy, energies, forces, stress, free_energy.

    The neighbour list is rebuilt only when positions, cell, pbc or species change (which for
    ASE means on every MD step; no skin is used, so results are exact)."""

    implemented_properties = ["energy", "energies", "forces", "stress", "free_energy", "energy_std",
                              "forces_std"]

    def __init__(self, model, params=None, uncertainty: bool = False, threads: int | None = None,
                 **kwargs):
        """``threads``: OpenMP threads per evaluation (default: the model's, from
        ``COMPOT_NUM_THREADS`` or 1).  ``uncertainty=True`` adds ``energy_std`` and ``forces_std`` (FIM parameter covariance
        propagated to the prediction) and their ``*_predictive`` versions (plus the residual
        variance of the training data) to ``results``."""
        super().__init__(**kwargs)
        if not hasattr(model, "evaluate"):
            from .compile import load_model

            model = load_model(model)
        self.model = model
        self.params = model.parameter_vector(params if params is not None else model.parameters)
        self.uncertainty = uncertainty
        if threads is not None:
            if int(threads) < 1:
                raise CompotError(f"threads must be at least 1, got {threads}")
            model.threads = int(threads)

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        r = self.model.evaluate(self.atoms, self.params)
        self.results = {"energy": r["energy"], "free_energy": r["energy"],
                        "energies": r["energies"], "forces": r["forces"]}
        if "stress" in r:
            self.results["stress"] = r["stress"]
        elif "stress" in properties:
            raise CompotError("stress needs a periodic cell with three independent vectors")
        if self.uncertainty or "energy_std" in properties or "forces_std" in properties:
            from .uncertainty import predict_std

            self.results.update(predict_std(self.model, self.atoms))
