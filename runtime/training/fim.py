"""Fisher-information analysis (docs/theory.md §8): I = J^T J over the linear parameters.

J (energies and force components of every structure, by the linear parameters) comes from the
float64 kernels; J^T J is then formed *exactly*: every double is an integer times a power of two,
so each column is scaled to integers and the product is taken in exact integer arithmetic
(python-flint ``fmpz_mat``).  Eigenvalues are computed at ``bits`` of precision (default 256)
with python-flint's ``arb_mat.eig``, falling back to mpmath.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ...compiler.structure import linear_groups
from ...errors import CompotError
from ..data import as_dataset

SC_THRESHOLD = 1e-15


@dataclass
class FIMResult:
    parameter_names: list[str]
    eigenvalues: list              # high-precision numbers (mpmath mpf), descending
    bits: int
    log10_kappa: float             # inf when singular at this precision
    n_sc: int                      # eigenvalues >= SC_THRESHOLD * lambda_max
    blocks: dict = field(default_factory=dict)   # name -> {"parameters", "log10_kappa", "n_sc"}
    singular: bool = False
    notes: list[str] = field(default_factory=list)
    backend: str = ""

    def eigenvalues_float(self) -> np.ndarray:
        return np.array([float(x) for x in self.eigenvalues])

    def eigenvalue_strings(self, digits: int = 30) -> list[str]:
        import mpmath

        return [mpmath.nstr(x, digits) for x in self.eigenvalues]

    def as_dict(self) -> dict:
        return {"log10_kappa": self.log10_kappa, "n_sc": self.n_sc, "n_parameters": len(self.parameter_names),
                "eigenvalues": self.eigenvalue_strings(), "bits": self.bits, "blocks": self.blocks,
                "singular": self.singular, "notes": self.notes, "backend": self.backend,
                "parameters": self.parameter_names, "sc_threshold": SC_THRESHOLD}


# ----------------------------------------------------------------------------- Gram matrices
class IntGram:
    """Exact J^T J: entry (k, l) = G[k, l] * 2**(e[k] + e[l]) with G an integer matrix."""

    def __init__(self, G, emin):
        self.G, self.emin = G, emin

    def man_exp(self, i, j):
        return int(self.G[i, j]), self.emin[i] + self.emin[j]


class MpGram:
    """J^T J accumulated from an extended-precision J (mpmath mpf entries)."""

    def __init__(self, G):
        self.G = G

    def man_exp(self, i, j):
        x = self.G[i][j]
        if x == 0:
            return 0, 0
        man, exp = x.man_exp
        return int(man), int(exp)


#: rows per block of the exact Gram product (2**15: digits of 19 bits keep every partial sum exact)
_GRAM_BLOCK = 1 << 15
#: bytes of float64 digits held at once (rows of a block x digits x columns)
_DIGIT_BYTES = 64 << 20
#: block products summed in int64 before they enter the exact result: each adds entries below
#: 2**53 in magnitude, so 2**9 of them stay below 2**62
_FLUSH_BLOCKS = 1 << 9


def exact_gram(J: np.ndarray) -> IntGram:
    """Exact J^T J of a float64 matrix, without one arbitrary-precision object per entry.

    Every double is an integer times a power of two.  Column k is written on its own grid,
    J[:, k] = N[:, k] * 2**emin[k] with integers N, and N is cut into base-2**b digits
    D_0, D_1, ... (small integers held in float64).  For a block of at most 2**15 rows and b = 19,
    every product of two digits is below 2**38 and every sum over the block below 2**53, so the
    float64 matrix product of the stacked digits [D_0 | D_1 | ...] is exact whatever the order of
    summation (BLAS is free to block, vectorise or use FMA).  The digit products are then combined
    into exact integers: (J^T J)[k, l] = G[k, l] * 2**(emin[k] + emin[l]).

    Memory: a block holds at most _DIGIT_BYTES of digits (fewer rows when a column spans a wide
    exponent range, i.e. many digits L), and the block products are summed in int64 (exact for
    _FLUSH_BLOCKS blocks) before they enter the p x p exact result.  So the memory is
    O(n p) for J's integer form plus O((L p)^2), whatever the number of blocks."""
    J = np.asarray(J, dtype=float)
    if not np.all(np.isfinite(J)):
        raise CompotError("the Jacobian has non-finite entries; the FIM is undefined")
    n, p = J.shape
    mant, ex = np.frexp(J)
    M = np.ldexp(np.abs(mant), 53).astype(np.int64)   # |J| = M * 2**(ex - 53), M < 2**53, exact
    sign = np.sign(mant)
    E = ex.astype(np.int64) - 53
    nz = M != 0
    big = np.iinfo(np.int64).max
    emin = np.where(nz.any(axis=0), np.where(nz, E, big).min(axis=0, initial=big), 0)
    shift = np.where(nz, E - emin[None, :], 0)        # N = M << shift
    b = (53 - int(np.ceil(np.log2(min(max(n, 2), _GRAM_BLOCK))))) // 2
    width = int((shift + 53).max()) if n and p else 0
    L = max(1, -(-width // b))                        # digits per entry
    mask = (1 << b) - 1
    rows = int(min(_GRAM_BLOCK, max(64, _DIGIT_BYTES // (8 * L * max(p, 1)))))
    out = np.zeros((p, p), dtype=object)
    acc = np.zeros((L * p, L * p), dtype=np.int64)

    def flush():
        for l in range(L):
            for m in range(L):
                out[...] += acc[l * p:(l + 1) * p, m * p:(m + 1) * p].astype(object) * (1 << (b * (l + m)))
        acc[...] = 0

    pending = 0
    for r0 in range(0, n, rows):
        Mb, sb, sh = M[r0:r0 + rows], sign[r0:r0 + rows], shift[r0:r0 + rows]
        digits = np.empty((len(Mb), L * p))
        for l in range(L):
            t = sh - b * l                            # bit of N where digit l starts, seen from M
            left = np.clip(t, 0, b)
            d = np.where(t >= 0, (Mb & (mask >> left)) << left,     # (M << t) & mask
                         (Mb >> np.clip(-t, 0, 63)) & mask)          # (M >> -t) & mask
            d = np.where((t >= b) | (t <= -53), 0, d)
            digits[:, l * p:(l + 1) * p] = sb * d
        acc += (digits.T @ digits).astype(np.int64)   # exact: integers below 2**53
        pending += 1
        if pending == _FLUSH_BLOCKS:
            flush()
            pending = 0
    flush()
    return IntGram(out, [int(x) for x in emin])


def arb_matrix(gram, idx):
    """The sub-matrix ``idx`` of a Gram matrix as a python-flint ``arb_mat`` (exact entries; set
    ``flint.ctx.prec`` first)."""
    import flint

    two = flint.arb(2)
    entries = []
    for i in idx:
        for j in idx:
            m, e = gram.man_exp(i, j)
            entries.append(flint.arb(m) * two ** e)
    return flint.arb_mat(len(idx), len(idx), entries)


def mp_matrix(gram, idx):
    """The sub-matrix ``idx`` of a Gram matrix as an mpmath matrix (at the current precision)."""
    import mpmath

    A = mpmath.matrix(len(idx), len(idx))
    for a, i in enumerate(idx):
        for b, j in enumerate(idx):
            m, e = gram.man_exp(i, j)
            A[a, b] = mpmath.ldexp(mpmath.mpf(m), e)
    return A


def eigenvalues(gram, idx, bits: int, backend: str = "auto"):
    """Eigenvalues (descending, mpmath mpf at ``bits``) of the sub-matrix ``idx`` of a Gram
    matrix, and the backend used: python-flint, or mpmath as fallback (``backend="mpmath"``
    forces it, e.g. to compare the two)."""
    import mpmath

    mpmath.mp.prec = bits
    if len(idx) == 0:
        return [], "none"
    try:
        if backend == "mpmath":
            raise ImportError("mpmath requested")
        import flint

        old = flint.ctx.prec
        try:
            flint.ctx.prec = bits
            ev = arb_matrix(gram, idx).eig(nonstop=True)
            vals = []
            for z in ev:
                re = z.real
                if not re.is_finite():
                    raise ValueError("eigenvalue not resolved")
                vals.append(mpmath.mpf(re.mid().str(int(bits * 0.30103) + 5, radius=False)))
            backend = "python-flint"
        finally:
            flint.ctx.prec = old
    except Exception:
        vals = list(mpmath.eigsy(mp_matrix(gram, idx), eigvals_only=True))
        backend = "mpmath"
    vals.sort(reverse=True)
    return vals, backend


def _summary(vals, bits):
    import mpmath

    if not vals:
        return math.nan, 0, False
    lmax = vals[0]
    lmin = vals[-1]
    floor = lmax * mpmath.mpf(2) ** (-(bits - 8))
    singular = lmax <= 0 or lmin <= floor
    kappa = math.inf if singular else float(mpmath.log10(lmax / lmin))
    n_sc = sum(1 for v in vals if lmax > 0 and v >= SC_THRESHOLD * lmax)
    return kappa, n_sc, singular


def linear_jacobian(model, dataset, params=None, extended: bool = False, dps: int = 40):
    """Stacked Jacobian (all energies and force components) by the linear parameters."""
    p = model.parameter_vector(params)
    lin = [k for k, n in enumerate(model.parameter_names) if n in set(model.linear_names)]
    blocks = []
    for s in dataset:
        if extended:
            from .extended import mp_linear_jacobian

            blocks.append(mp_linear_jacobian(model, s.atoms, p, dps))
        else:
            blocks.append(model.jacobian(s.atoms, p)[:, lin])
    return np.vstack(blocks) if not extended else blocks


def check_bits(bits) -> None:
    """The precision of the eigenvalues: an integer from 53 to 4096 bits."""
    if not isinstance(bits, int) or bits < 53 or bits > 4096:
        raise CompotError(f"bits must be an integer between 53 and 4096, got {bits!r}")


def fim(model, data, params=None, bits: int = 256, blocks: bool = True, extended: bool = False,
        dps: int = 40) -> FIMResult:
    """FIM eigen-analysis of ``model`` (trained, or with ``params``) on ``data``.

    ``extended=True`` evaluates J itself in extended precision (``dps`` digits) from the symbolic
    forms; that is slow and meant for small data."""

    check_bits(bits)
    ds = as_dataset(data)
    if extended:
        rows = linear_jacobian(model, ds, params, extended=True, dps=dps)
        gram = _mp_gram(rows, len(model.linear_names), dps)
    else:
        gram = exact_gram(linear_jacobian(model, ds, params))
    return fim_of_gram(model, gram, bits, blocks)


def fim_of_gram(model, gram, bits: int = 256, blocks: bool = True) -> FIMResult:
    """The FIM eigen-analysis of a Gram matrix J^T J already formed (exact_gram, or the blockwise
    sum of training/blockwise.py) over ``model``'s linear parameters."""
    check_bits(bits)
    names = list(model.linear_names)
    notes = []
    vals, backend = eigenvalues(gram, list(range(len(names))), bits)
    kappa, n_sc, singular = _summary(vals, bits)
    res = FIMResult(names, vals, bits, kappa, n_sc, singular=singular, backend=backend)
    ir = model.ir
    if len(linear_groups(ir)) > 1:
        notes.append("the model contains a product: its linear parameters have an exact scale "
                     "symmetry (left factor times a, right factor divided by a), so J^T J is singular "
                     "and kappa reflects the float64 floor of J, not the model")
    if singular:
        notes.append(f"the smallest eigenvalue is zero at {bits} bits: kappa is infinite")
    if blocks:
        index = {n: k for k, n in enumerate(names)}
        groups = {"left": [index[q.name] for q in ir.params if q.linear and q.group == 1],
                  "right": [index[q.name] for q in ir.params if q.linear and q.group == 2]}
        if groups["left"] and groups["right"]:
            for key, idx in groups.items():
                v, _ = eigenvalues(gram, idx, bits)
                k, nsc, sing = _summary(v, bits)
                res.blocks[key] = {"parameters": [names[i] for i in idx], "log10_kappa": k,
                                   "n_sc": nsc, "singular": sing}
    res.notes = notes
    return res


def _mp_gram(rows, p, dps) -> MpGram:
    """J^T J from extended-precision Jacobian blocks (lists of rows of mpf), in mpmath."""
    import mpmath

    mpmath.mp.dps = max(dps, 2 * dps)
    G = [[mpmath.mpf(0)] * p for _ in range(p)]
    for block in rows:
        for row in block:
            for a in range(p):
                ra = row[a]
                if ra == 0:
                    continue
                Ga = G[a]
                for b in range(a, p):
                    Ga[b] += ra * row[b]
    for a in range(p):
        for b in range(a):
            G[a][b] = G[b][a]
    return MpGram(G)


def plot_spectrum(result: FIMResult, path, title: str = "") -> None:
    """Eigenspectrum like the paper's Figs. 4(b)/7: log10 of normalised eigenvalues, SC shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mpmath

    vals = result.eigenvalues
    lmax = vals[0]
    logs = [float(mpmath.log10(v / lmax)) if v > 0 else None for v in vals]
    fig, ax = plt.subplots(figsize=(3.2, 4.5))
    ax.axhspan(math.log10(SC_THRESHOLD), 0.5, color="tab:green", alpha=0.12, label="SC region")
    for y in logs:
        if y is not None:
            ax.hlines(y, 0.1, 0.9, color="tab:blue", lw=1)
    finite = [y for y in logs if y is not None]
    ax.set_xlim(0, 1)
    ax.set_xticks([])
    ax.set_ylim(min(finite + [-16]) - 1, 1)
    ax.set_ylabel(r"$\log_{10}(\lambda/\lambda_{max})$")
    k = result.log10_kappa
    ax.set_title(title or f"log10 κ = {k:.1f}, {result.n_sc}/{len(vals)} in SC", fontsize=9)
    ax.legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)
