"""Intermediate representation of a model: parameters, bases, descriptors and the SymPy energy.

The per-atom energy is written as E_i = F(psi(i), chi(i); theta) with (docs/theory.md §1-§4)
  psi_a(i) = sum_j phi_a(r_ij)                  (pair descriptors, one per basis function)
  psi_k(i) = polynomial in the moments M(i)     (many-body descriptors, §3)
  chi_c(i) = sum_j fc(r_ij) psi_src(c)(j)       (neighbour descriptors of the N operator)
and phi_a(r) the pair functions (including the cutoff fc).  The pair functions form one array
("phi order"): first those of bases used as pair descriptors (psi index = phi index), then those
used only as radial functions of many-body bases.  Many-body descriptors follow the pair ones in
psi; they are sums of products of per-atom moments,
  M[n, lm](i) = sum_j phi_n(r_ij) Yhat_lm(u_ij)     and     S[a, b](i) = sum_j phi_a(r_ij) phi_b(r_ij),
listed as a table of terms (:class:`ManyBody`).  The compiler derives everything (forces, stress,
Jacobian) from F, phi_a and that table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

#: the pair distance
R = sp.Symbol("r", positive=True)
#: the two distances and the bond angle of a three-body term
R_IJ, R_IK = sp.Symbol("r_ij", positive=True), sp.Symbol("r_ik", positive=True)
THETA = sp.Symbol("theta_jik")


def S_ab(phi_a: sp.Expr, phi_b: sp.Expr) -> sp.Expr:
    """The symmetrised product (phi_a(r_ij) phi_b(r_ik) + phi_b(r_ij) phi_a(r_ik)) / 2."""
    return (phi_a.subs(R, R_IJ) * phi_b.subs(R, R_IK) + phi_b.subs(R, R_IJ) * phi_a.subs(R, R_IK)) / 2


class fc(sp.Function):
    """The cutoff function f_c(r) (docs/theory.md §2.1); its derivative is :class:`dfc`."""

    nargs = 1

    def fdiff(self, argindex=1):
        return dfc(self.args[0])


class dfc(sp.Function):
    """Derivative of the cutoff function."""

    nargs = 1


def fc_polynomial(r, cutoff: float):
    """Explicit f_c(r) = 1 - 35x^4 + 84x^5 - 70x^6 + 20x^7, x = r/r_c (valid for r < r_c)."""
    x = r / sp.Float(cutoff)
    return 1 - 35 * x**4 + 84 * x**5 - 70 * x**6 + 20 * x**7


@dataclass
class Param:
    name: str                 # e.g. "b1.alpha", "t1.c[1,2]"
    linear: bool
    role: str                 # alpha | beta | basis | c | lambda | s
    owner: str                # label of the basis, term or product that owns it
    symbol: sp.Symbol
    lower: float | None = None    # search bounds (nonlinear parameters)
    upper: float | None = None
    value: float | None = None    # value given in the model text (custom bases)
    group: int = 0            # top-level operand (1-based) the parameter belongs to; 0: shared/outer
    log_scale: bool = False   # search in log space


@dataclass
class Basis:
    label: str
    kind: str                 # "G", "C", "custom", "T" (three-body) or "A" (angular moments)
    size: int                 # number of descriptors
    params: list[Param]
    by_type: list[list[sp.Expr]]  # [pair type][nu]: phi_nu(r) in R, fc(R), dfc(R), parameters
    psi_offset: int = 0
    chi_offset: int | None = None   # set when an N term uses the basis
    text: str = ""            # canonical spec text (for display)
    group: int = 0
    descriptor: bool = False  # a term uses it (pair bases: its phi are summed into psi)
    phi_offset: int | None = None   # pair bases: offset of its functions in the phi array
    radial: "Basis | None" = None   # many-body: the pair basis of its radial functions
    triplets: list = field(default_factory=list)  # three-body: (a, b, l), 0-based, a <= b
    lmax: int = 0             # many-body: largest angular degree
    body: int = 2             # body order of its descriptors
    invariants: list = field(default_factory=list)  # angular: ((n, l), ...) factors per descriptor

    @property
    def many_body(self) -> bool:
        return self.kind in ("T", "A")

    @property
    def functions(self) -> list[sp.Expr]:
        """The functions of the first pair type (the only one of a single-element model)."""
        return self.by_type[0]


@dataclass
class MomentBlock:
    """Moments M[n, lm] = sum_j phi_{phi[n]}(r_ij) Yhat_lm(u_ij), l <= lmax, of one radial basis;
    moment (n, l, m) is number offset + n (lmax+1)^2 + l^2 + l + m of the atom's moment vector."""
    label: str                # the radial basis
    phi: list[int]            # phi indices of its functions
    lmax: int
    offset: int = 0

    @property
    def size(self) -> int:
        return len(self.phi) * (self.lmax + 1) ** 2

    def index(self, n: int, l: int, m: int) -> int:
        return self.offset + n * (self.lmax + 1) ** 2 + l * l + l + m


@dataclass
class SelfBlock:
    """S[a, b] = sum_j phi_a(r_ij) phi_b(r_ij) for phi-index pairs (the j = k terms that a
    three-body basis removes from its moment contraction); S of pair p is number offset + p."""
    pairs: list[tuple[int, int]]
    offset: int = 0

    @property
    def size(self) -> int:
        return len(self.pairs)


@dataclass
class ManyBody:
    """All many-body descriptors of a model as sums of products of moments:
    psi[NPSI2 + k] = sum over the terms (k, coef, a, b, c, n) of
    coef * sum_{i < n} M[a + i] (* M[b + i]) (* M[c + i]), b, c = -1 when absent (a term with
    n > 1 is a dot product of two runs of moments, as in sum_m A_nlm A_n'lm).  ``info[k]`` describes descriptor k (basis label, kind, body order,
    indices) for display."""
    blocks: list[MomentBlock]
    selfs: list[SelfBlock]
    terms: list[tuple[int, float, int, int, int, int]]
    info: list[dict]

    @property
    def n_moments(self) -> int:
        return sum(b.size for b in self.blocks) + sum(s.size for s in self.selfs)

    @property
    def lmax(self) -> int:
        return max((b.lmax for b in self.blocks), default=0)

    @property
    def radial(self) -> list[int]:
        """The phi indices the moments need (their radial functions), in a fixed order."""
        out = []
        for f in [f for b in self.blocks for f in b.phi] + [f for s in self.selfs for pq in s.pairs for f in pq]:
            if f not in out:
                out.append(f)
        return out


@dataclass
class TermNode:
    label: str
    kind: str                 # "linear", "E", "N" or "core"
    basis: Basis
    layers: int
    params: list[Param]
    shift: list[Param]        # one per species (one for a single-element model), or empty


@dataclass
class SumNode:
    children: list


@dataclass
class ProductNode:
    label: str
    left: object
    right: object
    shift: list[Param]


@dataclass
class LoweredModel:
    text: str                         # canonical model text
    cutoff: float
    elements: tuple[str, ...] | None
    params: list[Param]
    bases: list[Basis]
    psi: list[sp.Symbol]              # pair descriptor symbols, basis order
    chi: list[sp.Symbol]              # neighbour descriptor symbols
    chi_src: list[int]                # psi index each chi descriptor sums
    energy: sp.Expr                   # F(psi, chi; theta); shifts as s[X_i] for several species
    tree: object                      # TermNode | SumNode | ProductNode
    warnings: list[str] = field(default_factory=list)
    energies: list = field(default_factory=list)     # F for each species (its own shifts)
    pair_types: list = field(default_factory=lambda: [""])   # labels "Nb-Mo" (one "" if 1 species)
    pair_type_table: list = field(default_factory=lambda: [0])   # [si * K + sj] -> pair type
    n_pair_psi: int | None = None    # pair descriptors come first in psi (None: all of them)
    many_body: ManyBody | None = None  # the many-body descriptors psi[n_pair_psi:]
    core: object = None               # the core repulsion (a TermNode of kind "core"), if any

    def __post_init__(self):
        if self.n_pair_psi is None:
            self.n_pair_psi = len(self.psi)

    @property
    def n_species(self) -> int:
        return len(self.elements) if self.elements else 1

    @property
    def parameter_names(self) -> list[str]:
        return [p.name for p in self.params]

    @property
    def basis_params(self) -> list[Param]:
        return [p for b in self.bases for p in b.params]

    @property
    def phi_bases(self) -> list[Basis]:
        """Pair bases in phi order."""
        return sorted((b for b in self.bases if b.phi_offset is not None), key=lambda b: b.phi_offset)

    def pair_functions(self, t: int = 0) -> list[sp.Expr]:
        """The phi array for pair type ``t``: pair-descriptor functions (psi index = phi index),
        then radial functions used only by three-body bases."""
        return [f for b in self.phi_bases for f in b.by_type[t]]

    @property
    def body_order(self) -> int:
        """Largest body order of the descriptors: 2 for pair models, 3 with three-body or
        two-moment angular invariants, 4 with three-moment ones."""
        return max([2] + [b.body for b in self.bases if b.descriptor or b.many_body])

    def descriptor_expression(self, a: int) -> sp.Expr:
        """psi[a] for display: the summand phi_a(r) (summed over neighbours j, r = r_ij) of a pair
        descriptor; S_ab(r_ij, r_ik) P_l(cos theta_jik) (summed over j != k) of a three-body one;
        the moment polynomial of an angular one, in moments A[b,n,l,m] = sum_j R_n(r_ij) Yhat_lm."""
        phi = self.pair_functions()
        if a < self.n_pair_psi:
            return phi[a]
        info = self.many_body.info[a - self.n_pair_psi]
        if info["kind"] == "T":
            fa, fb, l = info["phi"]
            return S_ab(phi[fa], phi[fb]) * sp.legendre(l, sp.cos(THETA))
        k = a - self.n_pair_psi
        names = {}
        for blk in self.many_body.blocks:
            for n_, _ in enumerate(blk.phi):
                for l in range(blk.lmax + 1):
                    for m in range(-l, l + 1):
                        names[blk.index(n_, l, m)] = sp.Symbol(f"A[{blk.label},{n_ + 1},{l},{m}]")
        out = sp.Integer(0)
        for kk, coef, x, y, z, run in self.many_body.terms:
            if kk == k:
                out += sp.Float(coef, 15) * sp.Add(*[sp.Mul(*[names[i + o] for i in (x, y, z) if i >= 0])
                                                     for o in range(run)])
        return out

    def latex_names(self) -> dict:
        """LaTeX spellings of every symbol, for ``sympy.latex(..., symbol_names=...)``."""
        greek = {"alpha": r"\alpha", "beta": r"\beta", "lambda": r"\lambda"}
        out = {}
        for p in self.params:
            owner, sym = p.name.split(".", 1)
            base, _, idx = sym.partition("[")
            base = greek.get(base, base if len(base) == 1 else rf"\mathrm{{{base}}}")
            idx = idx.rstrip("]")
            out[p.symbol] = f"{base}^{{({owner})}}" + (f"_{{{idx}}}" if idx else "")
        for s in self.psi + self.chi:
            kind, _, idx = s.name.partition("[")
            out[s] = rf"\{kind}_{{{idx.rstrip(']')}}}"
        out[R] = "r"
        return out
