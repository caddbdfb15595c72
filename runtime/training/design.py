"""``compot design``: FIM-guided search over the model language (the paper's Fig. 1 loop).

Start from a seed set of single-term models, then repeatedly take the best configurations so far
and propose recombinations -- growth of a basis (n + 2) or of the layers (m + 1), sums with a
shared-basis N term, sums of two good models with distinct bases, products with a small linear
factor -- train them (warm-started from the parent's nonlinear parameters) and judge them by

    score = log10(force RMSE) + 0.5 log10(energy RMSE) + 0.002 P + 0.1 (1 - n_SC / n_linear)

on a validation split held out from the training data (RMSEs in eV/A and eV/atom, P the number
of parameters, n_SC the number of FIM eigenvalues in the sloppy-cutoff region).  Lower is better;
the weights are options.  Every configuration is logged as one JSON line; the search is
deterministic for a seed and resumes from its log.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from ...errors import CompotError
from ...grammar import nodes as n, parse
from ..data import Dataset, as_dataset

SEED_SET = ("G4", "G8", "C8", "E[G4L2]", "E[G6L4]", "N[E[G4L2]]")


@dataclass
class DesignOptions:
    budget: int = 16                    # configurations to train (seed set included)
    time_limit: float | None = None     # seconds; no new training starts after it
    max_params: int = 100
    validation_fraction: float = 0.2
    seed: int = 0
    top_k: int = 3                      # parents per round (widened when exhausted)
    seeds: tuple = SEED_SET
    w_energy: float = 0.5
    w_params: float = 0.002
    w_sloppy: float = 0.1
    max_size: int = 16                  # largest basis proposed
    max_layers: int = 8
    effort: float = 0.5                 # fraction of the default BO budget per stage
    batch: int = 4                      # configurations proposed per generation (trained concurrently)


def score(rec: dict, opt: DesignOptions) -> float:
    if rec.get("failed"):
        return math.inf
    v = rec["validation"]
    if not (v["force_rmse"] > 0 and v["energy_rmse"] > 0):
        return math.inf
    sloppy = 1.0 - rec["n_sc"] / max(rec["n_linear"], 1)
    return (math.log10(v["force_rmse"]) + opt.w_energy * math.log10(v["energy_rmse"])
            + opt.w_params * rec["n_params"] + opt.w_sloppy * sloppy)


def split(dataset: Dataset, fraction: float, seed: int) -> tuple[Dataset, Dataset]:
    """Deterministic validation split, stratified by config_type."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    for ct in dataset.config_types:
        idx = [k for k, s in enumerate(dataset) if s.config_type == ct]
        rng.shuffle(idx)
        nv = int(round(fraction * len(idx))) if len(idx) > 1 else 0
        val += idx[:nv]
        train += idx[nv:]
    return (Dataset([dataset[k] for k in sorted(train)], dataset.path),
            Dataset([dataset[k] for k in sorted(val)], dataset.path))


# ----------------------------------------------------------------------------- proposals
def _terms(e):
    if isinstance(e, (n.Linear, n.Exp, n.NExp, n.Core)):
        return [e]
    if isinstance(e, n.Sum):
        return [t for c in e.terms for t in _terms(c)]
    return _terms(e.left) + _terms(e.right)


def _map(e, f):
    if isinstance(e, n.Sum):
        return n.Sum(tuple(_map(c, f) for c in e.terms))
    if isinstance(e, n.Product):
        return n.Product(_map(e.left, f), _map(e.right, f))
    return f(e)


def _expr_text(e) -> str:
    from ...grammar import expr_text

    return expr_text(e)


def _with_spec(expr, old, new):
    """``expr`` with every use of the basis spec ``old`` replaced by ``new`` (shared stays shared)."""
    return _expr_text(_map(expr, lambda t: dataclasses.replace(t, basis=n.BasisRef(spec=new))
                           if not isinstance(t, n.Core) and t.basis.spec == old else t))


#: the many-body term a model without one is offered (30 invariants of body order 3)
ANGULAR_START = "A[C4 P2]"
ANGULAR_LMAX = 6


def proposals(parent: str, others: list[str], opt: DesignOptions, kinds: bool = False) -> list:
    """Recombinations of ``parent`` (canonical expression text), in a fixed order; with ``kinds``
    as (text, kind) pairs, kind one of grow-basis, grow-layers, grow-angular, body-order, partner,
    angular, core, sum, product."""
    expr = parse(parent).expr
    terms = _terms(expr)
    out = []
    specs = []
    for t in terms:
        if not isinstance(t, n.Core) and t.basis.spec is not None and t.basis.spec not in specs:
            specs.append(t.basis.spec)
    # growth of a pair basis (every use of that spec together, so shared bases stay shared)
    for s in specs:
        if isinstance(s, n.ShortBasis) and s.size + 2 <= opt.max_size:
            out.append(("grow-basis", _with_spec(expr, s, n.ShortBasis(s.kind, s.size + 2))))
    # growth of an angular-moment basis: its radial size, its l_max, its body order
    for s in specs:
        if not isinstance(s, n.Angular):
            continue
        r = s.radial.spec
        if isinstance(r, n.ShortBasis) and r.size + 2 <= opt.max_size:
            out.append(("grow-angular", _with_spec(expr, s, dataclasses.replace(
                s, radial=n.BasisRef(spec=n.ShortBasis(r.kind, r.size + 2))))))
        if s.lmax + 2 <= ANGULAR_LMAX:
            out.append(("grow-angular", _with_spec(expr, s, dataclasses.replace(s, lmax=s.lmax + 2))))
        if s.body == 3:
            out.append(("body-order", _with_spec(expr, s, dataclasses.replace(s, body=4))))
    # growth of the layers of every E/N term
    if any(isinstance(t, (n.Exp, n.NExp)) for t in terms):
        out.append(("grow-layers", _expr_text(_map(expr, lambda t: dataclasses.replace(
            t, layers=min(t.layers + 1, opt.max_layers)) if isinstance(t, (n.Exp, n.NExp)) else t))))
    # a single E (or N) term gains its shared-basis partner
    if isinstance(expr, n.Exp):
        out.append(("partner", _expr_text(n.Sum((expr, n.NExp(expr.basis, expr.layers))))))
    if isinstance(expr, n.NExp):
        out.append(("partner", _expr_text(n.Sum((n.Exp(expr.basis, expr.layers), expr)))))
    # a many-body term and the ZBL core, for models without them
    product = "*" in parent
    if not product and not any(isinstance(sp, n.MANY_BODY) for sp in specs):
        out.append(("angular", f"{parent} + {ANGULAR_START}"))
    if not product and not any(isinstance(t, n.Core) for t in terms):
        out.append(("core", f"ZBL + {parent}"))
    # sums with other good models, and products with a small linear factor
    for other in others:
        if other != parent and "*" not in other and not product \
                and not ("ZBL" in other and "ZBL" in parent):
            out.append(("sum", f"{parent} + {other}"))
    if not isinstance(expr, n.Product) and not isinstance(expr, n.Sum) and not isinstance(expr, n.Core):
        for a in (4, 8):
            out.append(("product", f"G{a} * {parent}"))
    seen, result = set(), []
    for kind, text in out:
        canon = _expr_text(parse(text).expr)
        if canon not in seen and canon != parent:
            seen.add(canon)
            result.append((canon, kind) if kinds else canon)
    return result


def n_params(text: str, elements=None) -> tuple[int, int, bool]:
    """(linear, nonlinear, degenerate) parameter counts of a model text (with a ZBL term, for
    ``elements``; the counts do not depend on which).  Cached: the loop asks again for the same
    proposals at every pick."""
    if elements is None and "ZBL" in text:
        elements = ["Si"]
    return _counts(text, tuple(elements) if elements else None)


@functools.lru_cache(maxsize=4096)
def _counts(text: str, elements: tuple | None) -> tuple[int, int, bool]:
    from ...compiler.pipeline import lower_text

    low = lower_text(text, elements=list(elements) if elements else None, quiet=True)
    return (sum(p.linear for p in low.params), sum(not p.linear for p in low.params),
            bool(low.warnings))


def warm_start(parent_rec: dict | None, model) -> dict:
    """Nonlinear parameters of the parent whose names and basis specs match the child's."""
    if not parent_rec:
        return {}
    child_bases = {b.label: b.text for b in model.ir.bases}
    parent_bases = parent_rec.get("bases", {})
    out = {}
    for q in model.ir.params:
        if q.linear or q.name not in parent_rec["parameters"]:
            continue
        owner = q.name.split(".")[0]
        if owner in child_bases and parent_bases.get(owner) != child_bases[owner]:
            if not (q.role in ("alpha", "beta") and parent_bases.get(owner, "")[:1] == child_bases[owner][:1]):
                continue
        out[q.name] = parent_rec["parameters"][q.name]
    return out


# ----------------------------------------------------------------------------- the loop
@dataclass
class DesignResult:
    records: list = field(default_factory=list)

    @property
    def trained(self) -> list:
        """The records whose training succeeded."""
        return [r for r in self.records if not r.get("failed")]

    def best(self, opt):
        return min(self.trained, key=lambda r: score(r, opt))

    def pareto(self, key="force_rmse", by="n_params"):
        """The records that lower the best validation ``key`` so far, in order of ``by`` (the
        parameter count, or ``us_per_atom`` for cost)."""
        front, best = [], math.inf
        for r in sorted(self.trained, key=lambda r: (r[by], r["validation"][key])):
            if r["validation"][key] < best:
                front.append(r)
                best = r["validation"][key]
        return front


def read_log(path) -> list[dict]:
    recs = []
    if path and os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for k, line in enumerate(f):
                line = line.strip()
                if not line:
                    continue
                try:
                    recs.append(json.loads(line))
                except ValueError:
                    raise CompotError(f"{path}, line {k + 1}: not a JSON record (damaged log?)") from None
    return recs


def _train(text: str, parent_rec: dict | None, fit_set: Dataset, val_set: Dataset, test,
           cutoff: float, elements, opt: DesignOptions, progress: bool = False, threads: int = 0) -> dict:
    """Train one configuration and return its log record (without the bookkeeping keys).  Runs in
    this process or on a Dask worker; the result depends only on its arguments."""
    from ..compile import compile_model
    from .fim import fim
    from .fit import fit

    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = compile_model(text, cutoff=cutoff, elements=elements)
        init = warm_start(parent_rec, model)
        nl = len(model.nonlinear_names)
        bo = dict(bo_init_points=max(2, int(round(opt.effort * (2 * nl + 2)))),
                  bo_iterations=max(2, int(round(opt.effort * (6 * nl + 6))))) if nl else {}
        trained = fit(model, fit_set, seed=opt.seed, test=val_set, initial=init or None,
                      progress=progress, uncertainty=False, threads=threads, **bo)
        f = fim(trained, fit_set)
    m = trained.metadata["metrics"]
    rec = {"n_linear": len(model.linear_names), "n_nonlinear": nl,
           "n_params": len(model.parameter_names), "log10_kappa": f.log10_kappa, "n_sc": f.n_sc,
           "validation": {k: m["test"][k] for k in ("energy_rmse", "force_rmse",
                                                    "force_amplitude_rmse", "force_angle_rmse")},
           "train": {k: m["train"][k] for k in ("energy_rmse", "force_rmse")},
           "parameters": trained.parameters,
           "bases": {b.label: b.text for b in model.ir.bases}}
    if test is not None:
        tm = trained.metrics(test)
        rec["test"] = {k: tm[k] for k in ("energy_rmse", "force_rmse", "force_amplitude_rmse",
                                          "force_angle_rmse")}
    rec["time"] = round(time.perf_counter() - t0, 2)
    rec["us_per_atom"] = _cost(trained, fit_set)
    return rec


def _cost(model, data) -> float:
    """E+F time of ``model`` in µs per atom on one thread: best of 5 on the largest structure of
    ``data`` (neighbour list excluded).  A timing: not part of what a repeated run reproduces."""
    s = max(data, key=lambda s: s.natoms)
    return round(model.kernel_seconds(s.atoms, 5) / s.natoms * 1e6, 3)


def _run_generation(cluster, tasks: list[tuple], shared: tuple) -> list:
    """Train the configurations ``tasks`` [(text, parent_rec)] (``shared``: the remaining
    arguments of _train) in this process or on the cluster's workers.  The records come back in
    the order of the tasks, whatever the order they finish in; a task that raised twice (Dask
    retries once; a worker that died is replaced by the scheduler and its task rescheduled) comes
    back as the message of its error."""
    if cluster.client is None:
        out = []
        for text, prec in tasks:
            try:
                out.append(_train(text, prec, *shared))
            except (CompotError, ArithmeticError, ValueError, np.linalg.LinAlgError) as e:
                out.append(f"{type(e).__name__}: {e}")
        return out
    if cluster.shared is None:
        cluster.shared = cluster.client.scatter(list(shared[:3]), broadcast=True)
    args = tuple(cluster.shared) + tuple(shared[3:-1]) + (1,)      # one kernel thread per worker
    futures = [cluster.client.submit(_train, text, prec, *args, pure=False, retries=1)
               for text, prec in tasks]
    out = []
    for fut in futures:
        try:
            out.append(fut.result())
        except Exception as e:                     # noqa: BLE001 -- any failure of one proposal
            msg = str(e).splitlines()[0] if str(e) else ""
            out.append(f"{type(e).__name__}: {msg}")
    return out


def _generation(k: int, rec: dict) -> int:
    """The generation of the k-th record (logs written before generations existed: one each)."""
    return rec.get("generation", k)


def design(train, test=None, options: DesignOptions | None = None, log=None, progress: bool = False,
           cutoff: float = 5.0, elements=None, say=print, workers: int = 0,
           scheduler: str | None = None) -> DesignResult:
    """Run the design loop (module docstring).  Configurations are proposed in generations of up
    to ``options.batch``: every member of generation k is chosen from the records of the
    generations before it (a generation closes early when those records offer nothing more, as
    after the seeds), so the log does not depend on where they are trained -- in this process
    (``workers`` 0), on a local Dask cluster of ``workers`` processes, or on the cluster at
    ``scheduler`` -- nor on the order they finish in (docs/theory.md §10)."""
    opt = options or DesignOptions()
    if opt.batch < 1:
        raise CompotError("the design batch must be at least 1")
    data = as_dataset(train)
    test = as_dataset(test) if test is not None else None
    fit_set, val_set = split(data, opt.validation_fraction, opt.seed)
    if len(val_set) == 0:
        raise CompotError("the validation split is empty: give more structures or a larger fraction")
    records = read_log(log)
    identity = {"data": data.sha256(), "seed": opt.seed, "cutoff": cutoff}
    for r in records:
        if r.get("identity") != identity:
            raise CompotError(f"{log} was written by a different design run (data, seed or cutoff "
                              "differ); use another --log file")
    t_start = time.perf_counter()
    seeds = [_expr_text(parse(s).expr) for s in opt.seeds]
    if records:
        say(f"resuming from {log}: {len(records)} configurations already evaluated")

    def candidate(base: list, chosen: list):
        """The next (text, parent, kind) after the records ``base`` of earlier generations and
        the configurations ``chosen`` (text, parent, kind) already in this generation."""
        done = {r["text"] for r in records} | {c[0] for c in chosen}
        for s in seeds:
            if s not in done:
                return s, None, "seed"
        ranked = sorted(base, key=lambda r: score(r, opt))
        used = {}
        for kind in [r.get("kind") for r in base] + [c[2] for c in chosen]:
            if kind:
                used[kind] = used.get(kind, 0) + 1
        # the top_k parents first; when all their recombinations are done, widen the pool
        for k in range(opt.top_k, len(ranked) + opt.top_k, opt.top_k):
            top = [r["text"] for r in ranked[:k] if not r.get("failed")]
            cands = []
            for rank, parent in enumerate(top):
                for order, (cand, kind) in enumerate(proposals(parent, top, opt, kinds=True)):
                    if cand in done or any(c[2] == cand for c in cands):
                        continue
                    lin, nl, degenerate = n_params(cand, elements)
                    if lin + nl <= opt.max_params and not degenerate:
                        cands.append(((used.get(kind, 0), rank, order), parent, cand, kind))
            if cands:
                _, parent, cand, kind = min(cands)
                return cand, parent, kind
        return None

    from ..parallel import Cluster

    executor = Cluster(workers, scheduler)
    shared = (fit_set, val_set, test, cutoff, elements, opt, progress and executor.client is None, 0)
    try:
        while len(records) < opt.budget:
            if opt.time_limit is not None and time.perf_counter() - t_start > opt.time_limit:
                say("time limit reached")
                break
            # the generation to fill: the last one, unless it is full or has nothing more to take
            if records:
                g = _generation(len(records) - 1, records[-1])
                base = [r for k, r in enumerate(records) if _generation(k, r) < g]
                chosen = [(r["text"], r["parent"], r.get("kind")) for k, r in enumerate(records)
                          if _generation(k, r) == g]
                nxt = candidate(base, chosen) if len(chosen) < opt.batch else None
                if nxt is None:
                    g, base, chosen = g + 1, list(records), []
            else:
                g, base, chosen, nxt = 0, [], [], None
            new = []
            while len(chosen) < opt.batch and len(records) + len(new) < opt.budget:
                c, nxt = (nxt if nxt is not None else candidate(base, chosen)), None
                if c is None:
                    break
                chosen.append(c)
                new.append(c)
            if not new:
                say("no new proposals")
                break
            tasks = [(text, next((r for r in records if r["text"] == parent), None))
                     for text, parent, _ in new]
            results = _run_generation(executor, tasks, shared)
            for (text, parent, kind), res in zip(new, results):
                rec = {"text": text, "parent": parent, "kind": kind, "generation": g, "identity": identity}
                if isinstance(res, str):
                    rec["failed"] = res
                else:
                    rec.update(res)
                rec["score"] = score(rec, opt)
                records.append(rec)
                if log:
                    with open(log, "a", encoding="utf-8") as fh:
                        fh.write(json.dumps(rec, allow_nan=True) + "\n")
                        fh.flush()
                        os.fsync(fh.fileno())
                if "failed" in rec:
                    say(f"[{len(records):2d}/{opt.budget}] {text:32s} failed: {res}")
                    continue
                say(f"[{len(records):2d}/{opt.budget}] {text:32s} P={rec['n_params']:3d} "
                    f"val F {rec['validation']['force_rmse']:.4f} E {rec['validation']['energy_rmse'] * 1000:6.2f} "
                    f"log10k {rec['log10_kappa']:5.1f} nSC {rec['n_sc']:2d}/{rec['n_linear']:2d} "
                    f"score {rec['score']:.3f} ({rec['time']:.0f} s){' <- ' + parent if parent else ''} [{kind}]")
    finally:
        executor.close()
    return DesignResult(records)


def pareto_plot(result: DesignResult, path, title="") -> None:
    """Validation force RMSE against parameter count and, when the records have it, against the
    E+F cost per atom, with the Pareto front of each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    recs = result.trained
    costs = all("us_per_atom" in r for r in recs) and recs
    fig, axes = plt.subplots(1, 2 if costs else 1, figsize=(11 if costs else 6, 4.2), squeeze=False)
    panels = [("n_params", "parameters")] + ([("us_per_atom", "E+F cost (µs/atom, one thread)")] if costs else [])
    for ax, (key, label) in zip(axes[0], panels):
        ax.scatter([r[key] for r in recs], [r["validation"]["force_rmse"] for r in recs], s=14,
                   color="tab:gray", label="evaluated")
        front = result.pareto(by=key)
        ax.plot([r[key] for r in front], [r["validation"]["force_rmse"] for r in front], "o-",
                color="tab:red", label="Pareto front")
        for r in front:
            ax.annotate(r["text"].replace(" + ", "⊕").replace(" * ", "⊗"), (r[key], r["validation"]["force_rmse"]),
                        fontsize=6, xytext=(3, 3), textcoords="offset points")
        ax.set_xlabel(label)
        ax.set_ylabel("validation force RMSE (eV/Å)")
        if key == "us_per_atom":
            ax.set_xscale("log")
        ax.legend(fontsize=7)
    fig.suptitle(title or "compot design", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)
