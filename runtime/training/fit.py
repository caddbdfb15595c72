"""Training (docs/theory.md §6): linear least squares inside a search over the nonlinear parameters.

* Linear parameters are solved exactly by weighted least squares with the nonlinear ones fixed.
  Products are bilinear: their linear parameters are split into groups in which the predictions
  are linear (left factors first), solved by alternating least squares (ALS); the final refit
  adds variable projection over the bilinear structure, which converges where ALS crawls.
* Nonlinear parameters are searched by Bayesian optimisation with sequential domain reduction
  (``bayesian-optimization``), the objective being the loss after re-solving the linear ones, in
  the paper's dual-bipartite order: submodel 1's nonlinear parameters (with shared bases) first,
  then submodel 2's; a final linear-only refit follows.
* ``optimizer="varpro"`` instead runs variable projection with Levenberg-Marquardt-type trust
  region steps (``scipy.optimize.least_squares``) on the analytic Jacobian; ``"bo+varpro"`` polishes
  the Bayesian result that way.
Every run is reproducible from its seed.
"""

from __future__ import annotations

import math
import os
import re
import time
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
import scipy.linalg

from ...compiler.ir import ProductNode, SumNode, TermNode
from ...compiler.structure import linear_groups
from ...errors import CompotError
from ..crystal import VOIGT
from ..data import Dataset, as_dataset
from ..metrics import compute_metrics
from .physics import shortest_distance  # noqa: F401 -- also part of this module's interface

PENALTY_LOG_RMS = 10.0   # BO target of a failed evaluation: -log10(rms) = -10


@dataclass
class FitOptions:
    optimizer: str = "bo"                 # "bo" (paper) | "varpro" | "bo+varpro"
    stages: str = "dual-bipartite"        # or "joint": one search over all nonlinear parameters
    energy_weight: float = 10.0           # loss weight of (total) energy residuals (the paper: 1)
    force_weight: float = 1.0             # loss weight of force-component residuals
    per_atom_energy: bool = False         # energy residuals divided by the atom count
    stress_weight: float = 10.0           # loss weight of virial-per-atom residuals (eV/atom), six
                                          # per structure with a stress and a 3-D cell; 0: none
    config_weights: dict = field(default_factory=dict)   # config_type -> weight factor
    bo_init_points: int | None = None     # default 2*d + 2 per stage (d = stage dimension)
    bo_iterations: int | None = None      # default 6*d + 6 per stage
    sdr: bool = True                      # sequential domain reduction
    sdr_min_window: float = 0.02          # smallest domain, as a fraction of the original
    lambda_range: float = 3.0             # lambda domain: |lambda * descriptor| <= lambda_range
    als_max_sweeps: int = 4               # products: left-first ALS sweeps per linear solve
    als_tol: float = 1e-10
    refine_max_nfev: int = 100            # products, final refit: variable-projection LM evaluations
    varpro_max_nfev: int = 60
    regularization: str = "gcv"           # linear solve: "gcv" (ridge, strength by generalised
                                          # cross-validation; default) or "none" (minimum norm)
    ridge: float = 0.0                    # a fixed ridge strength instead (relative to the largest
                                          # squared singular value of the column-scaled system)
    linear_rcond: float | None = None     # or truncate at this relative singular value of the
                                          # weighted raw Jacobian (e.g. 3.2e-8 = FIM SC region)
    e0: dict | None = None                # element -> isolated-atom energy (eV); None: from
                                          # isolated-atom frames in the data, else the default rule
    isolated_atom_constraint: bool = True # fit with E(isolated atom) = E0 exactly
    physics_constraints: bool = True      # energy rises under compression: dimers and crystals
                                          # built from the data (physics.py, theory §6.2.2)

    def __post_init__(self):
        if self.optimizer not in ("bo", "varpro", "bo+varpro"):
            raise CompotError(f"unknown optimizer {self.optimizer!r} (bo, varpro or bo+varpro)")
        if self.stages not in ("dual-bipartite", "joint"):
            raise CompotError(f"unknown stages {self.stages!r} (dual-bipartite or joint)")
        if self.regularization not in ("gcv", "none"):
            raise CompotError(f"unknown regularization {self.regularization!r} (gcv or none)")
        for name in ("energy_weight", "force_weight", "stress_weight", "lambda_range", "ridge", "sdr_min_window"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise CompotError(f"option {name} must be a non-negative number, got {v!r}")


def product_start(ir, p: np.ndarray) -> np.ndarray:
    """Start products as left * 1: each right factor's additive shift 1, its other linear
    parameters 0, so that the first ALS step fits the left factor alone (paper: left first)."""
    index = {q.name: k for k, q in enumerate(ir.params)}
    p = p.copy()

    def linear_params(node):
        if isinstance(node, TermNode):
            return [q for q in node.params if q.linear]
        if isinstance(node, SumNode):
            return [q for c in node.children for q in linear_params(c)]
        return linear_params(node.left) + linear_params(node.right) + list(node.shift)

    def first_shift(node):
        if isinstance(node, TermNode):
            return node.shift
        if isinstance(node, SumNode):
            return first_shift(node.children[0])
        return node.shift

    def walk(node):
        if isinstance(node, SumNode):
            for c in node.children:
                walk(c)
        elif isinstance(node, ProductNode):
            walk(node.left)
            walk(node.right)
            for q in linear_params(node.right):
                p[index[q.name]] = 0.0
            for s in first_shift(node.right):
                p[index[s.name]] = 1.0

    walk(ir.tree)
    return p


def gcv_ridge(sv: np.ndarray, beta: np.ndarray, bb: float, n: int) -> float:
    """Ridge strength minimising the generalised cross-validation score (docs/theory.md §6.2.1)

        GCV(lam) = n ||(I - H) b||^2 / (n - tr H)^2,   H = A (A^T A + lam I)^-1 A^T,

    from the SVD of A (singular values sv, beta = U^T b, bb = ||b||^2), on a log grid of
    lam / sv_max^2 from 1e-15 (the FIM's sloppy/stiff boundary) to 1, refined by a golden search."""
    if not len(sv) or sv[0] <= 0:
        return 0.0
    s2 = sv * sv
    out = max(bb - float(beta @ beta), 0.0)         # the part of b outside the range of A

    def score(t):
        lam = s2[0] * 10.0 ** t
        f = lam / (s2 + lam)
        rss = out + float(((f * beta) ** 2).sum())
        dof = n - float((s2 / (s2 + lam)).sum())
        return rss / max(dof, 1e-300) ** 2

    grid = np.arange(-15.0, 0.01, 0.5)
    vals = [score(t) for t in grid]
    k = int(np.argmin(vals))
    lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, len(grid) - 1)]
    g = (np.sqrt(5.0) - 1.0) / 2.0
    a, b = hi - g * (hi - lo), lo + g * (hi - lo)
    fa, fb = score(a), score(b)
    for _ in range(30):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - g * (hi - lo)
            fa = score(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + g * (hi - lo)
            fb = score(b)
    t = 0.5 * (lo + hi)
    return float(s2[0] * 10.0 ** (t if score(t) <= vals[k] else grid[k]))


def _single_thread():
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


# ----------------------------------------------------------------------------- the problem
class Problem:
    """A model on a data set: neighbour lists, targets and loss weights, computed once."""

    def __init__(self, model, dataset: Dataset, options: FitOptions, threads: int = 0):
        self.model = model
        self.data = dataset
        self.opt = options
        self.nls = [model.neighbor_list(s.atoms) for s in dataset]
        ys, ws, self.slices = [], [], []
        # virial rows (docs/theory.md §6.1): the virial per atom V sigma / N (eV/atom), Voigt order
        self.volumes = [abs(float(np.linalg.det(s.atoms.cell[:]))) if s.atoms.pbc.all() else 0.0
                        for s in dataset]           # 0 without a 3-D periodic cell
        self.virial_scale = []                      # V / N per structure, or None without stress rows
        start = 0
        for s, vol in zip(dataset, self.volumes):
            wm = s.weight * options.config_weights.get(s.config_type, 1.0)
            ew = math.sqrt(wm * options.energy_weight) / (s.natoms if options.per_atom_energy else 1.0)
            fw = math.sqrt(wm * options.force_weight)
            scale = vol / s.natoms if (options.stress_weight > 0 and s.stress is not None and vol > 1e-12) else None
            self.virial_scale.append(scale)
            y = [[s.energy], s.forces.ravel()]
            w = [[ew], np.full(3 * s.natoms, fw)]
            if scale is not None:
                y.append(np.asarray(s.stress, dtype=float) * scale)
                w.append(np.full(6, math.sqrt(wm * options.stress_weight)))
            ys.append(np.concatenate(y))
            ws.append(np.concatenate(w))
            n = 1 + 3 * s.natoms + (6 if scale is not None else 0)
            self.slices.append(slice(start, start + n))
            start += n
        self.y = np.concatenate(ys)
        self.w = np.concatenate(ws)
        self.nrows = start
        self.P = len(model.parameter_names)
        self.ir = model.ir
        self.groups = linear_groups(self.ir)
        self.linear_idx = [k for k, q in enumerate(self.ir.params) if q.linear]
        self.nonlinear_idx = [k for k, q in enumerate(self.ir.params) if not q.linear]
        self.is_bilinear = len(self.groups) > 1
        # the isolated atoms' reference energies, imposed on every linear solve
        self.e0 = {}
        self.e0_atoms = []
        if options.isolated_atom_constraint or options.e0:
            from ..reference import isolated_atom, reference_energies

            elements = model.elements or sorted({x for st in dataset for x in st.atoms.get_chemical_symbols()})
            if model.elements is None and len(elements) > 1:
                warnings.warn("a species-blind model of several elements has no per-element isolated-atom "
                              "energy; fitting without it (give the model's elements)", stacklevel=3)
            else:
                self.e0 = reference_energies(elements, dataset, model.cutoff, options.e0)
                if options.isolated_atom_constraint:
                    self.e0_atoms = [(isolated_atom(X), v["e0"]) for X, v in self.e0.items()]
        self.physics = None
        self.n_infeasible = 0
        if options.physics_constraints:
            from .physics import PhysicsProbes

            self.physics = PhysicsProbes(model, dataset, self.e0)
        threads = threads or (os.cpu_count() or 1)
        self._pool = None
        if threads > 1 and len(self.nls) > 1:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(max_workers=threads)

    def close(self):
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def __del__(self):
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown(wait=False)

    def _map(self, fn):
        """Apply ``fn(k)`` to every structure; in threads (the kernels release the GIL)."""
        if self._pool is None:
            return [fn(k) for k in range(len(self.nls))]
        return list(self._pool.map(fn, range(len(self.nls))))

    def jacobian(self, p):
        J = np.empty((self.nrows, self.P))
        pred = np.empty(self.nrows)

        def one(k):
            sl = self.slices[k]
            scale = self.virial_scale[k]
            if scale is None:
                Jm, e, f = self.model.kernel_jacobian(self.nls[k], p)
                J[sl] = Jm
            else:
                Jm, e, f, JW = self.model.kernel_jacobian(self.nls[k], p, virial=True)
                n = len(Jm)
                J[sl.start:sl.start + n] = Jm
                J[sl.start + n:sl.stop] = JW[VOIGT] / self.nls[k].n
                _, _, W = self.model.kernel_energy_forces(self.nls[k], p, threads=1)
                pred[sl.start + n:sl.stop] = W.ravel()[VOIGT] / self.nls[k].n
            pred[sl.start] = e.sum()
            pred[sl.start + 1:sl.start + 1 + f.size] = f.ravel()

        self._map(one)
        return J, pred

    def predict(self, p):
        """(total energies, forces, stresses): lists per structure; a stress (Voigt, eV/A^3) only
        for a 3-D periodic cell, else None."""
        out = self._map(lambda k: self.model.kernel_energy_forces(self.nls[k], p, threads=1))
        stresses = [W.ravel()[VOIGT] / vol if vol > 1e-12 else None for (_, _, W), vol in zip(out, self.volumes)]
        return [e.sum() for e, _, _ in out], [f for _, f, _ in out], stresses

    def residual_loss(self, energies, forces, stresses) -> float:
        """The loss of predictions from ``predict`` (the rows of ``jacobian``)."""
        rows = []
        for k, (e, f, st) in enumerate(zip(energies, forces, stresses)):
            rows += [[e], np.ravel(f)]
            if self.virial_scale[k] is not None:
                rows.append(np.asarray(st) * self.virial_scale[k])
        return self.loss(np.concatenate(rows))

    def loss(self, pred) -> float:
        r = self.w * (pred - self.y)
        return float(r @ r)

    def rms(self, loss: float) -> float:
        return math.sqrt(loss / self.nrows)

    # ------------------------------------------------------------------ linear solve
    def _lstsq(self, A, b, C=None, d=None, G=None, h=None):
        """min ||w (A x - b)||^2, with the equality constraints C x = d when given (the isolated
        atoms' energies; docs/theory.md §6.2) and the inequalities G x >= h (the physics
        constraints, §6.2.2), regularised as the options say (§6.2.1)."""
        Aw = A * self.w[:, None]
        bw = b * self.w
        has_eq = C is not None and len(C) > 0
        has_ineq = G is not None and len(G) > 0
        if self.opt.linear_rcond is not None and not has_eq:
            with _single_thread():
                x, *_ = scipy.linalg.lstsq(Aw, bw, cond=self.opt.linear_rcond, lapack_driver="gelsd")
            return x
        norms = np.linalg.norm(Aw, axis=0)
        norms[norms == 0] = 1.0
        As = Aw / norms
        if has_eq:
            x0, Z = self._null_space(C / norms, d)
            if Z.shape[1] == 0:
                return x0 / norms
            Ar, br = As @ Z, bw - As @ x0
        else:
            x0, Z, Ar, br = np.zeros(As.shape[1]), None, As, bw
        self._svd = None
        y = self._scaled_solve(Ar, br)
        if has_ineq:
            Gs = G / norms
            Gr, hr = (Gs @ Z if Z is not None else Gs), h - Gs @ x0
            if (Gr @ y < hr - 1e-9 * (1.0 + np.abs(hr))).any():
                y2 = self._inequality_solve(Ar, br, Gr, hr)
                if y2 is None:
                    self.n_infeasible += 1
                else:
                    y = y2
        return (x0 + (Z @ y if Z is not None else y)) / norms

    def _scaled_solve(self, As, bw):
        """The column-scaled system: ridge with a fixed or GCV-chosen strength, or minimum norm.
        One BLAS thread: results must not depend on the thread count (reproducible model files)."""
        if self.opt.regularization == "none" and self.opt.ridge == 0:
            with _single_thread():
                x, *_ = scipy.linalg.lstsq(As, bw, lapack_driver="gelsd", check_finite=True)
            return x
        with _single_thread():
            U, sv, Vt = scipy.linalg.svd(As, full_matrices=False, lapack_driver="gesdd", check_finite=True)
        beta = U.T @ bw
        if self.opt.ridge > 0:
            lam = self.opt.ridge * sv[0] ** 2
        else:
            lam = gcv_ridge(sv, beta, float(bw @ bw), len(bw))
        self.last_ridge = lam / sv[0] ** 2 if len(sv) and sv[0] > 0 else 0.0
        self._svd = (sv, Vt, beta, lam)
        return Vt.T @ (sv / (sv * sv + lam) * beta)

    def _inequality_solve(self, As, bw, G, h):
        """The same regularised problem subject to G y >= h (physics.ridge_with_inequalities);
        the minimum-norm solve gets the smallest ridge of the GCV grid (1e-15 of the largest
        squared singular value) to make it strictly convex.  None when infeasible."""
        from .physics import ridge_with_inequalities

        if self._svd is None:
            with _single_thread():
                U, sv, Vt = scipy.linalg.svd(As, full_matrices=False, lapack_driver="gesdd", check_finite=True)
            self._svd = (sv, Vt, U.T @ bw, 0.0)
        sv, Vt, beta, lam = self._svd
        lam = max(lam, 1e-15 * (sv[0] ** 2 if len(sv) else 1.0))
        with _single_thread():
            return ridge_with_inequalities(sv, Vt, beta, lam, G, h)

    @staticmethod
    def _null_space(Cs, d):
        """x0 with Cs x0 = d (minimum norm) and Z spanning the null space of Cs."""
        with _single_thread():
            Uc, sc, Vct = scipy.linalg.svd(Cs, full_matrices=True)
        rank = int((sc > 1e-12 * max(sc.max(initial=0.0), 1e-300)).sum())
        x0 = Vct[:rank].T @ ((Uc[:, :rank].T @ d) / sc[:rank])
        return x0, Vct[rank:].T

    def constraints(self, p, g):
        """(C, d, G, h): the isolated-atom equalities and the physics inequalities of group g."""
        C, d = self.isolated_constraints(p, g)
        G = h = None
        if self.physics is not None:
            G, h = self.physics.rows(p, g)
            # rows that overflow (exponentials of compressed probes) cannot be imposed: dropped
            keep = (np.isfinite(G).all(axis=1) & np.isfinite(h) & (np.abs(G).max(axis=1, initial=0.0) > 0)
                    if len(G) else np.zeros(0, bool))
            G, h = (G[keep], h[keep]) if keep.any() else (None, None)
        return C, d, G, h

    def isolated_constraints(self, p, g):
        """Rows C and right-hand sides d of E_X(isolated atom) = E0_X, linear in the group g at
        the point p, for every element with a reference E0 (rows independent of g are dropped)."""
        if not self.e0_atoms:
            return None, None
        rows, rhs = [], []
        for atoms, e0 in self.e0_atoms:
            J, e, _ = self.model.kernel_jacobian(self.model.neighbor_list(atoms), p)
            c = J[0, g]
            if np.abs(c).max(initial=0.0) == 0.0:
                continue
            rows.append(c)
            rhs.append(e0 - (float(e.sum()) - c @ p[g]))
        return (np.array(rows), np.array(rhs)) if rows else (None, None)

    def solve_linear(self, p, refine: bool = False):
        """Optimal linear parameters for the nonlinear ones in ``p``: returns (p, loss).

        Without products the predictions are linear in them: one weighted least-squares solve.
        Products are bilinear: a few alternating least-squares sweeps (left factor first, from
        left * 1); with ``refine``, then variable projection (left factors eliminated, LM on the
        rest), because the "swamps" of bilinear problems make ALS alone very slow."""
        p = np.array(p, dtype=float)
        if self.is_bilinear:
            p = product_start(self.ir, p)
        prev = math.inf
        loss = math.inf
        for sweep in range(self.opt.als_max_sweeps if self.is_bilinear else 1):
            for g in self.groups:
                J, pred = self.jacobian(p)
                A = J[:, g]
                b = self.y - (pred - A @ p[g])
                x = self._lstsq(A, b, *self.constraints(p, g))
                p[g] = x
                r = self.w * (A @ x - b)
                loss = float(r @ r)
            if not self.is_bilinear or (math.isfinite(prev) and prev - loss <= self.opt.als_tol * prev):
                break
            prev = loss
        if refine and self.is_bilinear and math.isfinite(loss):
            p, loss = self._refine(p, loss)
        if not math.isfinite(loss):
            raise FloatingPointError("non-finite loss")
        return p, loss

    def _refine(self, p, loss):
        """Variable projection for the bilinear linear problem: the first ALS group (left factors)
        is eliminated by exact least squares, Levenberg-Marquardt runs over the other groups with
        Kaufman's projected Jacobian.  Far better conditioned than ALS or a joint solve."""
        from scipy.optimize import least_squares

        g0 = self.groups[0]
        rest = [k for g in self.groups[1:] for k in g]
        base = p.copy()
        cache = {}

        def fun(x):
            q = base.copy()
            q[rest] = x
            J, pred = self.jacobian(q)
            A = J[:, g0]
            q[g0] = self._lstsq(A, self.y - (pred - A @ q[g0]), *self.constraints(q, g0))
            J, pred = self.jacobian(q)
            cache[x.tobytes()] = (q, J)
            return self.w * (pred - self.y)

        def jac(x):
            if x.tobytes() not in cache:
                fun(x)
            q, J = cache[x.tobytes()]
            A = J[:, g0] * self.w[:, None]
            B = J[:, rest] * self.w[:, None]
            with _single_thread():
                Q = scipy.linalg.orth(A)
                return B - Q @ (Q.T @ B)

        with np.errstate(all="ignore"), _single_thread():
            res = least_squares(fun, p[rest], jac=jac, method="lm", x_scale="jac",
                                max_nfev=self.opt.refine_max_nfev, ftol=1e-15, xtol=1e-15, gtol=1e-15)
        new = float(res.fun @ res.fun)
        q = cache.get(res.x.tobytes(), (None,))[0]
        if q is not None and math.isfinite(new) and new < loss:
            return q, new
        return p, loss


# ----------------------------------------------------------------------------- searches
def _stage_plan(ir, options: FitOptions) -> list[list[int]]:
    """The nonlinear parameters searched together: the paper's dual-bipartite order generalised
    to sums of any length, one stage per top-level operand (shared bases with the first), or
    one joint stage."""
    nonlin = [k for k, q in enumerate(ir.params) if not q.linear]
    if not nonlin:
        return []
    if options.stages == "joint":
        return [nonlin]
    last = max([ir.params[k].group for k in nonlin] + [1])
    stages = [[k for k in nonlin if ir.params[k].group in (0, 1)]]
    stages += [[k for k in nonlin if ir.params[k].group == g] for g in range(2, last + 1)]
    return [s for s in stages if s]


def lambda_domains(problem: Problem, p: np.ndarray, lambda_range: float) -> dict[int, tuple[float, float]]:
    """Data-adaptive lambda domains [choice]: |lambda| * max|descriptor| <= lambda_range, using the
    descriptors of the training data at the starting basis parameters."""
    ir = problem.ir
    psi_max = np.zeros(len(ir.psi))
    chi_max = np.zeros(len(ir.chi))
    for nl in problem.nls:
        psi, chi = problem.model.kernel_descriptors(nl, p)
        if psi.size:
            psi_max = np.maximum(psi_max, np.abs(psi).max(axis=0))
        if chi.size:
            chi_max = np.maximum(chi_max, np.abs(chi).max(axis=0))
    index = {q.name: i for i, q in enumerate(ir.params)}
    out = {}

    def walk(node):
        if isinstance(node, TermNode):
            if node.kind in ("E", "N"):
                b = node.basis
                if node.kind == "E":
                    scale = psi_max[b.psi_offset:b.psi_offset + b.size].max()
                else:
                    scale = chi_max[b.chi_offset:b.chi_offset + b.size].max()
                bound = lambda_range / max(scale, 1e-12)
                for q in node.params:
                    if q.role == "lambda":
                        out[index[q.name]] = (-bound, bound)
        elif isinstance(node, SumNode):
            for c in node.children:
                walk(c)
        else:
            walk(node.left)
            walk(node.right)

    walk(ir.tree)
    return out


class _Tracker:
    """Runs the linear solves of a fit, remembering every evaluation by its exact nonlinear
    parameters: the best point, the history, and a cache that makes fits resumable.

    With a ``checkpoint`` path the cache is written there (atomically, at most once a second and on
    interruption).  A resumed fit replays cached evaluations instead of recomputing them; since
    the searches are deterministic for a seed, it ends exactly where an uninterrupted fit would."""

    def __init__(self, problem, progress=None, checkpoint=None, identity=None, cache=None):
        self.problem = problem
        self.best_loss = math.inf
        self.best_p = None
        self.history = []
        self.progress = progress
        self.checkpoint = checkpoint
        self.identity = identity
        self.cache = dict(cache or {})
        self.n_replayed = 0
        self._last_write = time.monotonic()

    def _key(self, p, refine):
        nl = np.asarray(p, dtype=float)[self.problem.nonlinear_idx]
        return nl.tobytes().hex() + ("r" if refine else "")

    def evaluate(self, p, stage: str, refine: bool = False):
        key = self._key(p, refine)
        if key in self.cache:
            self.n_replayed += 1
            hit = self.cache[key]
            p2 = np.array(hit["p"]) if hit["p"] is not None else None
            loss = hit["loss"] if hit["loss"] is not None else math.inf
        else:
            try:
                with np.errstate(all="ignore"):
                    p2, loss = self.problem.solve_linear(p, refine=refine)
            except (FloatingPointError, ValueError, np.linalg.LinAlgError, scipy.linalg.LinAlgError):
                p2, loss = None, math.inf
            self.cache[key] = {"p": p2.tolist() if p2 is not None else None,
                               "loss": loss if math.isfinite(loss) else None}
            if self.checkpoint and time.monotonic() - self._last_write > 1.0:
                self.write_checkpoint()
        if p2 is None:
            self.history.append(None)
        else:
            if loss < self.best_loss:
                self.best_loss, self.best_p = loss, p2
            self.history.append(self.problem.rms(loss))
        if self.progress:
            self.progress.step(self.history[-1], self.best_rms)
        return p2, loss

    def write_checkpoint(self):
        if not self.checkpoint:
            return
        from ..modelfile import write_json_atomic

        write_json_atomic({"format": "compot-checkpoint", "identity": self.identity,
                           "evaluations": self.cache}, self.checkpoint)
        self._last_write = time.monotonic()

    @property
    def best_rms(self):
        return self.problem.rms(self.best_loss) if math.isfinite(self.best_loss) else None


def read_checkpoint(path, identity) -> dict:
    """Evaluations cached by an interrupted fit with the same identity (else an error)."""
    import json

    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except OSError as exc:
        raise CompotError(f"cannot read checkpoint {path}: {exc.strerror}") from None
    except ValueError:
        raise CompotError(f"checkpoint {path} is damaged (not JSON); delete it to start afresh") from None
    if not isinstance(doc, dict) or doc.get("format") != "compot-checkpoint":
        raise CompotError(f"{path} is not a compot checkpoint")
    if doc.get("identity") != json.loads(json.dumps(identity)):
        raise CompotError(f"checkpoint {path} belongs to a different fit (model, options, data or "
                          "seed differ); delete it or run without --resume")
    return doc.get("evaluations") or {}


def _space(ir, idx, domains):
    """Search-space coordinates: log for log-scale parameters."""
    out = []
    for k in idx:
        q = ir.params[k]
        lo, hi = domains[k]
        if q.log_scale:
            out.append((f"x{k}", math.log(lo), math.log(hi), True))
        else:
            out.append((f"x{k}", lo, hi, False))
    return out


def bayes_stage(tracker, p0, idx, domains, options, seed, label):
    from bayes_opt import BayesianOptimization, SequentialDomainReductionTransformer

    ir = tracker.problem.ir
    space = _space(ir, idx, domains)
    d = len(idx)
    init = options.bo_init_points if options.bo_init_points is not None else 2 * d + 2
    iters = options.bo_iterations if options.bo_iterations is not None else 6 * d + 6
    base = p0.copy()

    def to_p(**kw):
        p = base.copy()
        for (key, lo, hi, log), k in zip(space, idx):
            v = min(max(kw[key], lo), hi)
            p[k] = math.exp(v) if log else v
        return p

    def target(**kw):
        _, loss = tracker.evaluate(to_p(**kw), label)
        if not math.isfinite(loss) or loss <= 0:
            return -PENALTY_LOG_RMS if not math.isfinite(loss) else 20.0
        return -math.log10(tracker.problem.rms(loss))

    pbounds = {key: (lo, hi) for key, lo, hi, _ in space}
    transformer = None
    if options.sdr:
        windows = {key: options.sdr_min_window * (hi - lo) for key, lo, hi, _ in space}
        transformer = SequentialDomainReductionTransformer(minimum_window=windows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        opt = BayesianOptimization(f=target, pbounds=pbounds, random_state=seed, verbose=0,
                                   bounds_transformer=transformer, allow_duplicate_points=True)
        start = {}
        for (key, lo, hi, log), k in zip(space, idx):
            v = math.log(p0[k]) if log else p0[k]
            start[key] = min(max(v, lo), hi)
        opt.probe(start, lazy=True)
        opt.maximize(init_points=init, n_iter=iters)
    return tracker.best_p.copy() if tracker.best_p is not None else p0


def varpro_stage(tracker, p0, idx, domains, options):
    """Variable projection: least squares in the nonlinear parameters only, the linear ones
    eliminated; Jacobian by Kaufman's approximation from the analytic kernel Jacobian."""
    from scipy.optimize import least_squares

    problem = tracker.problem
    ir = problem.ir
    space = _space(ir, idx, domains)
    lo = np.array([s[1] for s in space])
    hi = np.array([s[2] for s in space])
    logm = np.array([s[3] for s in space])
    x0 = np.array([math.log(p0[k]) if l else p0[k] for k, l in zip(idx, logm)])
    x0 = np.clip(x0, lo + 1e-12 * (hi - lo), hi - 1e-12 * (hi - lo))
    state = {"p": tracker.best_p.copy() if tracker.best_p is not None else p0.copy()}
    cache = {}

    def to_p(x):
        p = state["p"].copy()
        p[idx] = np.where(logm, np.exp(x), x)
        return p

    def fun(x):
        p, loss = tracker.evaluate(to_p(x), "varpro", refine=True)
        if p is None:
            return np.full(problem.nrows, 1e10)
        J, pred = problem.jacobian(p)
        state["p"] = p
        cache[x.tobytes()] = (p, J)
        return problem.w * (pred - problem.y)

    def jac(x):
        key = x.tobytes()
        if key not in cache:
            fun(x)
        p, J = cache[key]
        A = J[:, problem.linear_idx] * problem.w[:, None]
        B = J[:, idx] * problem.w[:, None] * np.where(logm, p[idx], 1.0)[None, :]
        with _single_thread():
            Q = scipy.linalg.orth(A)
            return B - Q @ (Q.T @ B)

    with np.errstate(all="ignore"), _single_thread():
        least_squares(fun, x0, jac=jac, bounds=(lo, hi), method="trf", x_scale="jac",
                      max_nfev=options.varpro_max_nfev, ftol=1e-10, xtol=1e-10, gtol=1e-10)
    return tracker.best_p.copy()


# ----------------------------------------------------------------------------- progress
class Progress:
    """A rich progress bar on stderr (or nothing when quiet)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._p = None
        self._task = None

    def __enter__(self):
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress as RP, TextColumn, TimeElapsedColumn

            self._p = RP(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                         TimeElapsedColumn(), TextColumn("{task.fields[best]}"),
                         console=Console(stderr=True), transient=False)
            self._p.__enter__()
        return self

    def __exit__(self, *exc):
        if self._p is not None:
            self._p.__exit__(*exc)

    def stage(self, label: str, total: int | None):
        if self._p is not None:
            self._task = self._p.add_task(label, total=total, best="")

    def step(self, rms, best):
        if self._p is not None and self._task is not None:
            self._p.update(self._task, advance=1,
                           best=f"best rms {best:.4g}" if best is not None else "")


# ----------------------------------------------------------------------------- fit
_BARE_CORE = re.compile(r"\bZBL\b(?!\s*\[)")


def core_radii_from_data(model, train):
    """A model written with a bare ``ZBL`` gets its switching radii from the training data
    (docs/theory.md §3.3): r_in = 0.6 d_min and r_out = 0.95 d_min, with d_min the shortest
    interatomic distance in ``train``, so that the fitted terms are fully on wherever there are
    data and the repulsion alone acts well below them.  The model is recompiled with the radii
    written into its text (``ZBL[r_in, r_out]``), so the model file records them.  Other models
    are returned unchanged."""
    if not _BARE_CORE.search(model.text):
        return model
    from ...compiler.zbl import radii_from_distance
    from ..compile import compile_model

    d_min = shortest_distance(train)
    if d_min is None:
        return model
    r_in, r_out = radii_from_distance(d_min)
    text = _BARE_CORE.sub(f"ZBL[{r_in:g}, {r_out:g}]", model.text)
    return compile_model(text, cutoff=model.cutoff, elements=model.elements)


def fit(model, train, seed: int = 0, test=None, options: FitOptions | None = None,
        progress: bool | None = None, initial=None, checkpoint=None, resume: bool = False,
        uncertainty: bool = True, threads: int = 0, **kw):
    """Train ``model`` on ``train`` (path, Dataset or list of ase.Atoms with energies and forces).

    Returns a new :class:`~compot.runtime.model.Model` with ``parameters`` and ``metadata``
    (options, seed, data hash, metrics, history); ``wall_time`` is an attribute, not metadata, so
    that the same fit always gives the same model file.  Keyword options are those of
    :class:`FitOptions`.  ``checkpoint``: a file where the evaluations are saved as the fit goes;
    with ``resume=True`` an interrupted fit continues from it.  ``uncertainty``: store the FIM
    parameter covariance (see :mod:`compot.runtime.training.covariance`) with the model.  ``threads``:
    structures evaluated in parallel (0: all cores); results do not depend on it."""
    import sys

    if options is None:
        options = FitOptions(**kw)
    elif kw:
        options = FitOptions(**{**asdict(options), **kw})
    train = as_dataset(train)
    test = as_dataset(test) if test is not None else None
    model = core_radii_from_data(model, train)
    if progress is None:
        progress = sys.stderr.isatty()
    t_start = time.perf_counter()
    problem = Problem(model, train, options, threads=threads)
    ir = problem.ir
    # starting point: defaults, overridden by any ``initial`` values given (a partial dict is a
    # warm start, e.g. from trained submodels); lambda domains adapt to the data in either case
    start = model.initial_parameters(seed)
    given = {}
    if initial is not None:
        given = dict(initial) if hasattr(initial, "keys") else \
            dict(zip(model.parameter_names, model.parameter_vector(initial)))
        unknown = [k for k in given if k not in start]
        if unknown:
            raise CompotError(f"initial values for unknown parameters: {', '.join(unknown[:5])}")
    p0 = model.parameter_vector({**start, **{k: float(v) for k, v in given.items()}})
    domains = {k: (q.lower, q.upper) for k, q in enumerate(ir.params) if not q.linear}
    lam = lambda_domains(problem, p0, options.lambda_range)
    domains.update(lam)
    rng = np.random.default_rng(seed)
    for k, (lo, hi) in lam.items():
        draw = rng.uniform(0.6 * lo, 0.6 * hi)
        if ir.params[k].name in given:
            lo2, hi2 = min(lo, p0[k] * 1.5), max(hi, p0[k] * 1.5)
            domains[k] = (lo2, hi2)              # keep a warm-started lambda inside its domain
        else:
            p0[k] = draw
    for k, (lo, hi) in domains.items():
        p0[k] = min(max(p0[k], lo), hi)
    stages = _stage_plan(ir, options)
    identity = {"model": model.text, "cutoff": model.cutoff, "seed": seed, "options": asdict(options),
                "data": train.sha256(), "initial": {k: float(v) for k, v in sorted(given.items())} or None}
    cache = read_checkpoint(checkpoint, identity) if (resume and checkpoint and os.path.exists(checkpoint)) \
        else None
    tracker = _Tracker(problem, None, checkpoint, identity, cache)
    try:
        p = _run_search(tracker, problem, p0, stages, domains, options, seed, progress)
        tracker.write_checkpoint()
        trained = _finish(model, problem, tracker, p, domains, options, seed, train, test, t_start)
    except KeyboardInterrupt:
        tracker.write_checkpoint()
        raise
    finally:
        problem.close()
    if uncertainty:
        from .covariance import attach_uncertainty

        attach_uncertainty(trained, train)
    return trained


def _run_search(tracker, problem, p0, stages, domains, options, seed, progress):
    with Progress(progress) as bar:
        tracker.progress = bar
        bar.stage("linear start", 1)
        p_best, _ = tracker.evaluate(p0, "start")
        if p_best is None:
            raise CompotError("the starting point of the fit gives non-finite predictions; "
                              "check the data and the model's cutoff")
        if options.optimizer in ("bo", "bo+varpro"):
            for s, idx in enumerate(stages):
                d = len(idx)
                total = 1 + (options.bo_init_points if options.bo_init_points is not None else 2 * d + 2) \
                    + (options.bo_iterations if options.bo_iterations is not None else 6 * d + 6)
                label = f"BO stage {s + 1}/{len(stages)} ({d} parameters)"
                bar.stage(label, total)
                bayes_stage(tracker, tracker.best_p, idx, domains, options, seed + s, f"bo{s + 1}")
        if options.optimizer in ("varpro", "bo+varpro") and stages:
            idx = [k for st in stages for k in st]
            bar.stage("variable projection (LM)", options.varpro_max_nfev)
            varpro_stage(tracker, tracker.best_p, idx, domains, options)
        # late training: linear-only refit at the best nonlinear point
        bar.stage("final linear refit", 1)
        tracker.evaluate(tracker.best_p, "final", refine=True)
        return tracker.best_p


def _finish(model, problem, tracker, p, domains, options, seed, train, test, t_start):
    from ...version import __version__

    ir = problem.ir
    at_bounds = []
    for k, (lo, hi) in domains.items():
        q = ir.params[k]
        a, b, v = (math.log(lo), math.log(hi), math.log(p[k])) if q.log_scale else (lo, hi, p[k])
        if min(v - a, b - v) <= 1e-3 * (b - a):
            at_bounds.append(q.name)
    if at_bounds:
        warnings.warn("the fit ended at the edge of the search domain of " + ", ".join(at_bounds)
                      + "; consider wider bounds", stacklevel=2)
    trained = model.with_parameters(p)
    e, f, stresses = problem.predict(p)
    physics = None
    if problem.physics is not None:
        violated = problem.physics.violations(p)
        physics = {"inequalities": problem.physics.n,
                   "paths": [label for label, _ in problem.physics.paths]
                   + [f"{label} >= {-D:.3f} eV" for label, _, D, _ in problem.physics.floors],
                   "violated": violated, "infeasible_solves": problem.n_infeasible}
        if violated:
            warnings.warn("the fitted energy still falls under compression along: " + "; ".join(violated)
                          + " (the physics constraints were infeasible at the chosen nonlinear parameters)",
                          stacklevel=2)
    metrics = {"train": compute_metrics(e, f, train, stresses)}
    if test is not None:
        metrics["test"] = trained.metrics(test)
    opts = asdict(options)
    trained.metadata = {
        "seed": seed,
        "options": opts,
        "train_data": {"path": train.path, "sha256": train.sha256(), "n_structures": len(train),
                       "n_atoms": train.natoms},
        "test_data": ({"path": test.path, "sha256": test.sha256(), "n_structures": len(test)}
                      if test is not None else None),
        "loss": problem.residual_loss(e, f, stresses),
        "n_evaluations": len(tracker.history),
        "n_failed_evaluations": sum(h is None for h in tracker.history),
        "search_domains": {ir.params[k].name: list(v) for k, v in domains.items()},
        "isolated_atom_energies": problem.e0,
        "regularization": ({"kind": "gcv", "ridge": getattr(problem, "last_ridge", 0.0)}
                           if options.regularization == "gcv" and not options.ridge and options.linear_rcond is None
                           else {"kind": options.regularization, "ridge": options.ridge,
                                 "linear_rcond": options.linear_rcond}),
        "physics_constraints": physics,
        "at_bounds": at_bounds,
        "compot_version": __version__,
        "metrics": metrics,
        "history": tracker.history,
    }
    trained.wall_time = round(time.perf_counter() - t_start, 3)
    trained.n_replayed = tracker.n_replayed
    return trained
