"""A compiled model: parameter bookkeeping, evaluation and Jacobian through the generated kernel."""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np

from ..errors import DataError, ModelError
from .crystal import VOIGT
from .neighbors import NeighborList, neighbor_list


def model_meta(lowered) -> dict:
    """What a :class:`Model` needs without SymPy (kept in the kernel cache's index)."""
    return {"text": lowered.text, "cutoff": lowered.cutoff,
            "elements": list(lowered.elements) if lowered.elements else None,
            "parameters": [[p.name, bool(p.linear)] for p in lowered.params]}


def _default_threads() -> int:
    import os

    v = os.environ.get("COMPOT_NUM_THREADS", "1")
    try:
        return max(1, int(v))
    except ValueError:
        raise ModelError(f"COMPOT_NUM_THREADS must be a whole number, got {v!r}") from None


class Model:
    """A model compiled from text (see :func:`compot.compile`).

    Attributes: ``text`` (canonical text), ``cutoff``, ``elements``, ``parameter_names``,
    ``linear_names``, ``nonlinear_names``, ``key`` (kernel cache key) and ``cache_hit``.
    """

    def __init__(self, lowered, kernel, key: str, cache_hit: bool, meta: dict | None = None):
        """``lowered``: the LoweredModel, or a function returning it (called on first use of
        :attr:`ir`; then ``meta`` from :func:`model_meta` must be given)."""
        self._ir_value = None if callable(lowered) else lowered
        self._ir_factory = lowered if callable(lowered) else None
        meta = meta if meta is not None else model_meta(lowered)
        self._meta = meta
        self._kernel = kernel
        self.key = key
        self.cache_hit = cache_hit
        self.text = meta["text"]
        self.cutoff = float(meta["cutoff"])
        self.elements = list(meta["elements"]) if meta["elements"] else None
        self.parameter_names = [name for name, _ in meta["parameters"]]
        self.linear_names = [name for name, linear in meta["parameters"] if linear]
        self.nonlinear_names = [name for name, linear in meta["parameters"] if not linear]
        self.parameters: dict[str, float] | None = None   # set by training / loading
        self.metadata: dict = {}
        self._index = {n: k for k, n in enumerate(self.parameter_names)}
        self._species_table = None     # atomic number -> species index (built on first use)
        #: OpenMP threads of one energy/force evaluation (env COMPOT_NUM_THREADS, default 1;
        #: training parallelises over structures instead)
        self.threads = _default_threads()

    def __repr__(self):
        return (f"<compot.Model {self.text!r}: {len(self.linear_names)} linear + "
                f"{len(self.nonlinear_names)} nonlinear parameters>")

    # ------------------------------------------------------------------ parameters
    @property
    def ir(self):
        """The lowered model (parameters with bounds, bases, SymPy energy)."""
        if self._ir_value is None:
            self._ir_value = self._ir_factory()
        return self._ir_value

    def parameter_info(self):
        return list(self.ir.params)

    def initial_parameters(self, seed: int = 0) -> dict[str, float]:
        """Deterministic starting values: nonlinear parameters drawn inside their default search
        domain (user values for custom bases), linear coefficients small and random, shifts 0."""
        rng = np.random.default_rng(seed)
        out = {}
        for p in self.ir.params:
            if p.linear:
                out[p.name] = 0.0 if p.role == "s" else float(rng.normal(0.0, 0.01))
            elif p.value is not None:                     # custom basis values, weights (1)
                out[p.name] = float(p.value)
            elif p.role == "alpha":
                lo, hi = math.log(p.lower), math.log(p.upper)
                mid = 0.5 * (lo + hi)
                out[p.name] = float(math.exp(rng.uniform(mid - 0.25 * (hi - lo), mid)))
            elif p.role == "beta":
                out[p.name] = float(rng.uniform(1.3, 2.0))
            else:
                out[p.name] = float(rng.uniform(0.5 * p.lower, 0.5 * p.upper))
        return out

    def parameter_vector(self, params=None) -> np.ndarray:
        """Parameters as a float64 array in ``parameter_names`` order (from a dict or array)."""
        if params is None:
            if self.parameters is None:
                raise ModelError("no parameters given and the model has not been trained")
            params = self.parameters
        if isinstance(params, Mapping):
            unknown = [k for k in params if k not in self._index]
            if unknown:
                raise ModelError(f"unknown parameter names: {', '.join(unknown[:5])}")
            missing = [k for k in self.parameter_names if k not in params]
            if missing:
                raise ModelError(f"missing parameters: {', '.join(missing[:5])}"
                                 + (f" and {len(missing) - 5} more" if len(missing) > 5 else ""))
            vec = np.array([float(params[k]) for k in self.parameter_names], dtype=float)
        else:
            vec = np.array(params, dtype=float).reshape(-1)
            if len(vec) != len(self.parameter_names):
                raise ModelError(f"expected {len(self.parameter_names)} parameters, got {len(vec)}")
        if not np.all(np.isfinite(vec)):
            bad = self.parameter_names[int(np.argmin(np.isfinite(vec)))]
            raise ModelError(f"parameter {bad} is not finite")
        return vec

    def with_parameters(self, params, metadata: dict | None = None) -> "Model":
        """A copy of this model (same kernel) carrying ``params`` as its trained parameters."""
        m = Model(self._ir_value if self._ir_value is not None else self._ir_factory, self._kernel,
                  self.key, self.cache_hit, meta=self._meta)
        m.threads = self.threads
        vec = self.parameter_vector(params)
        m.parameters = {n: float(v) for n, v in zip(self.parameter_names, vec)}
        m.metadata = dict(metadata or {})
        return m

    def save(self, path) -> None:
        """Write the trained model as JSON (atomically)."""
        from .modelfile import save_model

        save_model(self, path)

    # ------------------------------------------------------------------ evaluation
    def species_indices(self, atoms) -> np.ndarray:
        """Index of each atom's element in the model's elements (all 0 without elements, when
        every atom is treated alike)."""
        if self.elements is None:
            return np.zeros(len(atoms), dtype=np.int32)
        if self._species_table is None:
            from ase.data import atomic_numbers

            table = np.full(len(atomic_numbers) + 1, -1, dtype=np.int32)   # Z -> species, -1 unknown
            for k, e in enumerate(self.elements):
                table[atomic_numbers[e]] = k
            self._species_table = table
        numbers = np.asarray(atoms.numbers)
        out = self._species_table[np.clip(numbers, 0, len(self._species_table) - 1)]
        bad = np.flatnonzero(out < 0)
        if len(bad):
            k = int(bad[0])
            raise DataError(f"atom {k} is {atoms.get_chemical_symbols()[k]}, which the model (elements "
                            f"{', '.join(self.elements)}) does not know")
        return out

    def neighbor_list(self, atoms) -> NeighborList:
        return neighbor_list(atoms, self.cutoff, self.species_indices(atoms))

    # direct kernel calls on a neighbour list
    def kernel_energy_forces(self, nl: NeighborList, p, threads: int | None = None):
        t = self.threads if threads is None else int(threads)
        return self._kernel.energy_forces(nl.n, nl.species, nl.i, nl.j, nl.d, p, max(t, 1))

    def kernel_seconds(self, atoms, repeats: int = 5, threads: int = 1) -> float:
        """Best wall time of one E+F kernel call on ``atoms`` over ``repeats`` calls (neighbour
        list built beforehand and excluded): the cost figure of benchmarks and ``compot design``."""
        import time

        nl = self.neighbor_list(atoms)
        p = self.parameter_vector()
        best = math.inf
        for _ in range(repeats):
            t = time.perf_counter()
            self.kernel_energy_forces(nl, p, threads=threads)
            best = min(best, time.perf_counter() - t)
        return best

    def kernel_site_grades(self, nl: NeighborList, p, cols, LT, threads: int | None = None):
        """Per-atom gradients dE_i/d(p[cols]) (n, len(cols)), grades |LT g_i| (n,) and energies."""
        t = self.threads if threads is None else int(threads)
        return self._kernel.site_grades(nl.n, nl.species, nl.i, nl.j, nl.d, p,
                                        np.ascontiguousarray(cols, dtype=np.int32),
                                        np.ascontiguousarray(LT, dtype=float), max(t, 1))

    def kernel_jacobian(self, nl: NeighborList, p, virial: bool = False):
        """(J, energies, forces), and with ``virial`` also d(virial)/d(parameters) (9, P)."""
        return self._kernel.jacobian(nl.n, nl.species, nl.i, nl.j, nl.d, p, virial)

    def kernel_descriptors(self, nl: NeighborList, p):
        return self._kernel.descriptors(nl.n, nl.species, nl.i, nl.j, nl.d, p)

    def evaluate(self, atoms, params=None, nl: NeighborList | None = None) -> dict:
        """Energy, per-atom energies, forces and (for 3-D cells) stress (6, Voigt, eV/A^3)."""
        p = self.parameter_vector(params)
        if nl is None:
            nl = self.neighbor_list(atoms)
        energies, forces, virial = self.kernel_energy_forces(nl, p)
        out = {"energy": float(energies.sum()), "energies": energies, "forces": forces}
        out["free_energy"] = out["energy"]
        vol = abs(float(np.linalg.det(atoms.cell[:])))
        if vol > 1e-12:                               # a 3-D cell (ASE's cell.rank == 3 is an SVD)
            out["stress"] = virial.ravel()[VOIGT] / vol
        return out

    def jacobian(self, atoms, params=None, nl: NeighborList | None = None,
                 return_values: bool = False):
        """d(E_total, F_1x, F_1y, F_1z, F_2x, ...)/d(parameters): array (1+3N, P).

        With ``return_values`` also returns ``(energy, forces)`` at the same point."""
        p = self.parameter_vector(params)
        if nl is None:
            nl = self.neighbor_list(atoms)
        J, energies, forces = self.kernel_jacobian(nl, p)
        if return_values:
            return J, float(energies.sum()), forces
        return J

    def stress_jacobian(self, atoms, params=None, nl: NeighborList | None = None):
        """d(stress)/d(parameters): array (6, P), Voigt order xx yy zz yz xz xy, eV/A^3 (3-D cells)."""
        vol = abs(float(np.linalg.det(atoms.cell[:])))
        if vol <= 1e-12:
            raise DataError("a stress needs a 3-D cell")
        p = self.parameter_vector(params)
        if nl is None:
            nl = self.neighbor_list(atoms)
        JW = self.kernel_jacobian(nl, p, virial=True)[3]
        return JW[VOIGT] / vol

    def predict(self, dataset, params=None, stresses: bool = False):
        """Total energies and forces of every structure of a dataset (or list of Atoms); with
        ``stresses`` also the stresses (Voigt, eV/A^3; None without a 3-D cell)."""
        from .data import Dataset

        p = self.parameter_vector(params)
        structures = dataset.structures if isinstance(dataset, Dataset) else dataset
        energies, forces, stress = [], [], []
        for s in structures:
            r = self.evaluate(getattr(s, "atoms", s), p)
            energies.append(r["energy"])
            forces.append(r["forces"])
            stress.append(r.get("stress"))
        return (energies, forces, stress) if stresses else (energies, forces)

    def metrics(self, dataset, params=None) -> dict:
        """Metrics (docs/theory.md §7) against a dataset (path, Dataset or list of Atoms with references)."""
        from .data import as_dataset
        from .metrics import compute_metrics

        ds = as_dataset(dataset)
        e, f, stresses = self.predict(ds, params, stresses=True)
        return compute_metrics(e, f, ds, stresses)

    # ------------------------------------------------------------------ symbolic forms
    def sympy_energy(self, explicit: bool = False):
        """SymPy expression of the per-atom energy E_i.

        By default in terms of the descriptors ``psi[b,nu]`` (and ``chi[b,nu]`` for N terms);
        with ``explicit=True`` the descriptors are written out as sums over neighbours j (and k)
        of the basis functions of r[i,j]."""
        if not explicit:
            return self.ir.energy
        from ..compiler.explicit import explicit_energy
        return explicit_energy(self.ir)

    def descriptor_definitions(self) -> dict:
        """``{psi[b,nu]: phi_nu(r)}``: the pair function each pair descriptor sums over neighbours
        j, and for three-body descriptors ``S_ab(r_ij, r_ik) P_l(cos theta_jik)``, summed over
        neighbour pairs j != k."""
        return {s: self.ir.descriptor_expression(a) for a, s in enumerate(self.ir.psi)}
