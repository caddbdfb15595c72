"""J^T J of data sets larger than one machine's memory: block by block, on Dask workers
(docs/theory.md §8.4).

The FIM needs only I = J^T J = sum over structures of J_s^T J_s.  The data file is streamed
(``ase.io.iread``: any format ASE reads, compressed or not) and cut into blocks of about
``block_atoms`` atoms; each block is sent to a worker, which evaluates the linear Jacobian of its
structures and forms its exact Gram matrix (fim.exact_gram: integers times powers of two).  The
client adds the blocks' Gram matrices exactly (add_grams) as they arrive.  Exact sums do not depend
on the order, the blocking or the number of workers, so the result is *identical* to the in-memory
``fim.exact_gram`` of the whole stacked Jacobian, entry by entry.  The client holds ``2 x workers``
blocks in flight; a worker holds one block and its digit matrices (their width grows with the
exponent range of J's columns), not the data set.
"""

from __future__ import annotations

import hashlib
import json
import time

import numpy as np

from ...errors import CompotError
from .fim import IntGram, exact_gram

#: blocks in flight per worker (read ahead while the workers compute)
IN_FLIGHT = 2


def add_grams(a: IntGram | None, b: IntGram) -> IntGram:
    """The exact sum of two Gram matrices of the same columns (entries G[k,l] 2**(e_k + e_l))."""
    if a is None:
        return b
    p = len(a.emin)
    e = [min(x, y) for x, y in zip(a.emin, b.emin)]
    out = np.zeros((p, p), dtype=object)
    for k in range(p):
        for l in range(p):
            out[k, l] = ((int(a.G[k, l]) << (a.emin[k] - e[k] + a.emin[l] - e[l]))
                         + (int(b.G[k, l]) << (b.emin[k] - e[k] + b.emin[l] - e[l])))
    return IntGram(out, e)


def gram_values_equal(a: IntGram, b: IntGram) -> bool:
    """Whether two Gram matrices hold the same exact numbers (their grids may differ)."""
    x = add_grams(IntGram(np.zeros_like(a.G), list(b.emin)), a)     # both on the grid min(a, b)
    y = add_grams(IntGram(np.zeros_like(b.G), list(a.emin)), b)
    return x.emin == y.emin and all(int(u) == int(v) for u, v in zip(x.G.ravel(), y.G.ravel()))


_MODELS: dict = {}


def _model(doc: dict):
    """The compiled model of a document, once per worker process."""
    key = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()
    if key not in _MODELS:
        from ..compile import model_from_document

        _MODELS.clear()
        _MODELS[key] = model_from_document(doc)
    return _MODELS[key]


def block_gram(doc: dict, frames: list) -> tuple[IntGram, int, int, float]:
    """(exact J^T J, rows, atoms, peak resident memory of this process in MiB) of one block of
    structures (ase.Atoms), J the Jacobian by the model's linear parameters."""
    import resource

    model = _model(doc)
    p = model.parameter_vector()
    lin = [k for k, n in enumerate(model.parameter_names) if n in set(model.linear_names)]
    J = np.vstack([model.jacobian(a, p)[:, lin] for a in frames])
    g = exact_gram(J)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return g, J.shape[0], sum(len(a) for a in frames), peak


def _blocks(path, block_atoms: int, max_structures: int | None = None):
    """Lists of structures of about ``block_atoms`` atoms, streamed from ``path``."""
    import ase.io

    from ..data import read_structures

    read_structures(path, "0")                        # one-line errors for a missing/empty/bad file
    block, n, count = [], 0, 0
    try:
        for atoms in ase.io.iread(path, ":"):
            if max_structures is not None and count >= max_structures:
                break
            atoms.calc = None
            block.append(atoms)
            n += len(atoms)
            count += 1
            if n >= block_atoms:
                yield block
                block, n = [], 0
    except (ValueError, KeyError, IndexError, OSError) as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CompotError(f"{path}: cannot read structure {count} ({msg})") from None
    if block:
        yield block


def blockwise_gram(model, path, block_atoms: int = 20000, workers: int = 0, scheduler: str | None = None,
                   max_structures: int | None = None, progress: bool = False) -> tuple[IntGram, dict]:
    """Exact J^T J of ``model`` (a trained Model) over the structures of the file ``path``,
    accumulated block by block (module docstring): in this process (``workers`` 0), on a local
    Dask cluster of ``workers`` processes, or on the cluster at ``scheduler``.  Returns the Gram
    matrix and a summary {structures, atoms, rows, blocks, seconds, peak_worker_mib}."""
    from ..modelfile import model_document
    from ..parallel import Cluster

    if block_atoms < 1:
        raise CompotError("the block size must be at least one atom")
    doc = model_document(model)
    t0 = time.perf_counter()
    total, info = None, {"structures": 0, "atoms": 0, "rows": 0, "blocks": 0, "peak_worker_mib": 0.0}

    def add(res, nframes):
        nonlocal total
        g, rows, atoms, peak = res
        total = add_grams(total, g)
        info["structures"] += nframes
        info["atoms"] += atoms
        info["rows"] += rows
        info["blocks"] += 1
        info["peak_worker_mib"] = max(info["peak_worker_mib"], peak)
        if progress:
            print(f"\rblock {info['blocks']}: {info['atoms']} atoms, {time.perf_counter() - t0:.1f} s",
                  end="", flush=True)

    ex = Cluster(workers, scheduler)
    try:
        if ex.client is None:
            for block in _blocks(path, block_atoms, max_structures):
                add(block_gram(doc, block), len(block))
        else:
            from distributed import as_completed

            [doc_f] = ex.client.scatter([doc], broadcast=True)
            limit = IN_FLIGHT * ex.n_workers
            pending = as_completed()
            sizes = {}
            for block in _blocks(path, block_atoms, max_structures):
                fut = ex.client.submit(block_gram, doc_f, block, pure=False, retries=1)
                sizes[fut.key] = len(block)
                pending.add(fut)
                while pending.count() >= limit:
                    done = next(pending)
                    add(done.result(), sizes.pop(done.key))
            for done in pending:
                add(done.result(), sizes.pop(done.key))
    finally:
        ex.close()
    if progress:
        print()
    if total is None:
        raise CompotError(f"{path}: contains no structures")
    info["seconds"] = time.perf_counter() - t0
    return total, info
