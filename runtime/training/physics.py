"""Physics constraints on the linear solve (docs/theory.md §6.2.2).

Fitted descriptors know nothing about the geometries the data do not contain.  Far from the data a
linear combination of exponentials, Gaussians and moment products can turn over: a dimer falls
into a well below the data's shortest distance, a compressed crystal "collapses" to an energy below
its equilibrium.  The data cannot forbid that, but physics can: **compressing matter costs energy**.

compot imposes it on every linear solve as linear inequalities.  For fixed nonlinear parameters
the energy of any structure is linear in the linear parameters θ, E(X) = c(X)·θ + k(X), so
"E rises along a path of compression X_0 (least compressed), X_1, …, X_m" is

    (c(X_{t+1}) − c(X_t))·θ ≥ k(X_t) − k(X_{t+1}),   t = 0..m−1,

a set of linear inequalities in θ.  The paths ("probes") are built from the training data alone,
nothing per element:

* **dimers** of every pair of elements X–Y found within the cutoff in the data, at 100 distances
  from 0.55 d_XY to d_XY, with d_XY the shortest X–Y distance in the data: the dimer has no
  minimum below the data's shortest distance, so no well can hide there.  Besides the energy
  differences, the force at each of these distances must be repulsive (dE/dr <= 0 is linear in
  θ too), so a bump between two neighbouring points would need a turn-over within 0.005 d_XY;
* **compressed crystals** of every element found pure in the data: its lowest-energy structure
  ("ground state", nearest-neighbour distance d_X), scaled isotropically so that its shortest
  distance runs from 0.98 d_X down to 0.75 d_X (30 cells; 0.92³ ≈ 0.78 V0, 0.89³ ≈ 0.70 V0,
  0.75³ ≈ 0.42 V0), and the bcc, fcc, simple cubic and diamond crystals with nearest-neighbour
  distances from 0.92 down to 0.75 of their nearest-neighbour distance estimated by Pauling's
  rule; every crystal path then goes on sparsely to 0.70, 0.65, 0.60 and 0.55 (0.17 V0);
* **an atom pushed onto a neighbour** in the ground state (the others fixed), from d_X down to
  0.3 d_X at 40 distances, with a repulsive force on it at each: the close approach of a cascade,
  or of an under-coordinated surface atom falling onto the crystal;
* **under-coordinated atoms meeting** (``fragments``): two atoms of the ground state, each with
  the first-shell neighbours behind it (all of them, or only the one straight behind: singly
  bonded atoms), approaching head on from the data's shortest X–X distance down to 0.3 d_X, with a
  repulsive force at each distance.

These hold on their paths only: a disordered Si slab with bonds of 1.25–1.4 Å between atoms of
mixed coordination still falls without bound (docs/validation.md).

The constrained problem is a strictly convex quadratic programme (the ridge of §6.2.1 keeps it
so), solved exactly as a least-distance programme by non-negative least squares (Lawson & Hanson,
*Solving Least Squares Problems*, 1974, ch. 23), only when the unconstrained solution violates a
constraint.
"""

from __future__ import annotations

import numpy as np

#: the shortest distance of the probe paths, as a fraction of the data's: dimers reach well into
#: the core; crystals stop at 0.75 (0.42 V0), where exponential descriptors already reach 1e3 eV
LOW_DIMER, LOW_CRYSTAL = 0.55, 0.75
#: beyond 0.75 every crystal path goes on, sparsely, to the dimers' 0.55 (0.17 V0): coordination-like
#: descriptors grow several-fold there and an embedding exp(lambda psi) with lambda > 0 would
#: otherwise collapse the crystal (-1e35 eV/atom at 0.6 d_X was seen on Mo)
TAIL = (0.70, 0.65, 0.60, 0.55)
#: the longest: dimers up to the data's shortest X–Y distance; the ground state to 0.98 d_X,
#: other crystals to 0.92 of their nearest-neighbour distance estimated by Pauling's rule
HIGH_DIMER, HIGH_GROUND, HIGH_OTHER = 1.0, 0.98, 0.92
STEPS, STEPS_GROUND, STEPS_DIMER = 30, 30, 100
FLOOR_REACH = 1.5
#: an atom pushed onto its neighbour in the ground state, down to 0.3 of their distance (where the
#: ZBL core must win: the many-body terms stay bounded there, unlike under uniform compression)
LOW_PUSH, STEPS_PUSH = 0.3, 40
PAULING = 0.6    # Å per decade of coordination
LATTICES = ("bcc", "fcc", "sc", "diamond")
_Z = {"bcc": 8, "fcc": 12, "sc": 6, "diamond": 4}
#: nearest-neighbour distance of each lattice with a = 1
_NN = {"bcc": np.sqrt(3) / 2, "fcc": np.sqrt(2) / 2, "sc": 1.0, "diamond": np.sqrt(3) / 4}


def shortest_distance(dataset, within: float = 4.0) -> float | None:
    """The shortest interatomic distance in ``dataset`` (periodic images included), or None when
    no two atoms are closer than ``within``."""
    from ase.neighborlist import neighbor_list

    best = None
    for s in dataset:
        d = neighbor_list("d", s.atoms, within)
        if len(d):
            best = float(d.min()) if best is None else min(best, float(d.min()))
    return best


def _pair_distances(dataset, within: float) -> dict:
    """{(X, Y): shortest X–Y distance} over the data (X <= Y)."""
    from ase.neighborlist import neighbor_list

    out = {}
    for s in dataset:
        i, j, d = neighbor_list("ijd", s.atoms, within)
        if not len(d):
            continue
        sym = np.array(s.atoms.get_chemical_symbols())
        a, b = sym[i], sym[j]
        for X, Y, r in zip(a, b, d):
            key = tuple(sorted((str(X), str(Y))))
            if r < out.get(key, np.inf):
                out[key] = float(r)
    return out


def _scaled(atoms, factor: float):
    c = atoms.copy()
    c.set_cell(np.asarray(atoms.cell[:]) * factor, scale_atoms=True)
    return c


def _coordination(atoms, d: float) -> int:
    """Mean number of neighbours within 1.1 d (the first shell), rounded."""
    from ase.neighborlist import neighbor_list

    i = neighbor_list("i", atoms, 1.1 * d)
    return max(int(round(len(i) / len(atoms))), 1)


def pauling_distance(d: float, z_from: int, z_to: int) -> float:
    """Nearest-neighbour distance of a crystal of coordination ``z_to`` estimated from one of
    coordination ``z_from`` by Pauling's bond-order rule, d(z) = d1 + 0.6 Å log10 z."""
    return d + PAULING * np.log10(z_to / z_from)


def ground_states(dataset, elements, cutoff: float) -> dict:
    """{X: (atoms, energy per atom, shortest distance, coordination)} for every element found
    pure in a periodic structure of the data: its lowest-energy structure."""
    from ase import Atoms

    out = {}
    for X in elements or sorted({x for s in dataset for x in s.atoms.get_chemical_symbols()}):
        pure = [s for s in dataset if set(s.atoms.get_chemical_symbols()) == {X} and s.atoms.pbc.all()]
        if not pure:
            continue
        best = min(pure, key=lambda s: (s.energy / s.natoms, s.natoms))
        d = shortest_distance([best], cutoff)
        if d is None:
            continue
        atoms = Atoms(best.atoms.get_chemical_symbols(), positions=best.atoms.get_positions(),
                      cell=best.atoms.cell, pbc=True)
        out[X] = (atoms, best.energy / best.natoms, d, _coordination(atoms, d))
    return out


def probe_paths(dataset, elements, cutoff: float, pairs=None, grounds=None) -> list[tuple[str, list]]:
    """The compression paths of the module docstring: [(label, [atoms from least to most
    compressed])].  ``pairs`` and ``grounds``: _pair_distances and ground_states of the data, when
    already computed."""
    from ase.build import bulk

    pairs = _pair_distances(dataset, cutoff) if pairs is None else pairs
    grounds = ground_states(dataset, elements, cutoff) if grounds is None else grounds
    paths = []
    for (X, Y), d in sorted(pairs.items()):
        if elements is not None and (X not in elements or Y not in elements):
            continue
        rs = np.linspace(HIGH_DIMER * d, LOW_DIMER * d, STEPS_DIMER)
        paths.append((f"dimer {X}-{Y}", [_dimer(X, Y, r) for r in rs]))
    for X, (base, _, d, z) in grounds.items():
        fs = np.concatenate([np.linspace(HIGH_GROUND, LOW_CRYSTAL, STEPS_GROUND), TAIL])
        paths.append((f"{X} ground state compressed", [_scaled(base, f) for f in fs]))
        push = pushed(base, d)
        if push:
            paths.append((f"{X} atom pushed onto a neighbour", push))
        d_close = pairs.get((X, X), d)
        for variant, frames in fragments(base, d, min(d_close, d)):
            paths.append((f"{X} under-coordinated atoms meeting ({variant})", frames))
        for lat in LATTICES:
            cell = bulk(X, lat, a=1.0)
            d_lat = pauling_distance(d, z, _Z[lat])
            ds = np.concatenate([np.linspace(HIGH_OTHER, LOW_CRYSTAL, STEPS), TAIL]) * d_lat
            paths.append((f"{X} {lat} compressed", [_scaled(cell, r / _NN[lat]) for r in ds]))
    return paths


def _dimer(X: str, Y: str, r: float):
    """An X-Y dimer along x; the force on Y along +x must be repulsive (``info["push"]``)."""
    from ase import Atoms

    a = Atoms([X, Y], positions=[[0, 0, 0], [r, 0, 0]])
    a.info["push"] = (1, np.array([1.0, 0.0, 0.0]))
    return a


def pushed(base, d: float) -> list:
    """The ground state with one atom moved straight onto its nearest neighbour (the closest pair
    of the cell), the others fixed, from its distance d down to LOW_PUSH d: the close approach of a cascade or of
    an under-coordinated surface atom falling onto the crystal.  ``info["push"]`` = (index of the
    moved atom, unit vector from its partner to it); ``info["partner"]`` the partner."""
    from ase.neighborlist import neighbor_list

    # a cell wide enough that the moved atom meets none of its own images
    lengths = np.linalg.norm(np.asarray(base.cell[:]), axis=1)
    base = base.repeat(tuple(int(max(1, np.ceil(2.5 * d / L))) for L in lengths))
    i, j, D = neighbor_list("ijD", base, 1.05 * d)
    if not len(i):
        return []
    k = int(np.argmin(np.linalg.norm(D, axis=1)))      # the closest pair (i0, j) of the cell
    i0, j, v = int(i[k]), int(j[k]), D[k]
    if i0 == j:
        return []
    r0 = float(np.linalg.norm(v))
    u = v / r0
    out = []
    for r in np.linspace(r0, LOW_PUSH * d, STEPS_PUSH):
        a = base.copy()
        pos = a.get_positions()
        pos[j] = pos[i0] + r * u
        a.set_positions(pos)
        a.info["push"] = (j, u)
        a.info["partner"] = i0
        out.append(a)
    return out


def fragments(base, d: float, d_close: float) -> list[tuple[str, list]]:
    """Two under-coordinated atoms meeting head on: an atom of the ground state with the first-shell
    neighbours behind it (cos(bond, u) < -0.1 for the approach direction u, the direction of a
    nearest-neighbour bond), and its mirror image, approaching from the data's shortest distance
    ``d_close`` down to LOW_PUSH d with a repulsive force at each distance.  Two variants: all the
    neighbours behind ("back"), and only the one straight behind ("chain": atoms with a single bond,
    like those of an unreconstructed diamond (111) surface, which fell into each other before this
    path existed).  Returns [(variant, [clusters])]; ``info["push"]`` as in ``pushed``."""
    from ase import Atoms
    from ase.neighborlist import neighbor_list

    i, j, D = neighbor_list("ijD", base, 1.1 * d)
    if not len(i):
        return []
    k = int(np.argmin(np.linalg.norm(D, axis=1)))
    i0 = int(i[k])
    u = D[k] / np.linalg.norm(D[k])
    bonds = D[i == i0]
    back = bonds[bonds @ u < -0.1 * np.linalg.norm(bonds, axis=1)]    # behind, not beside
    if not len(back):
        return []
    X = base.get_chemical_symbols()[i0]
    out = []
    for variant, behind in (("back", back), ("chain", back[[int(np.argmin(back @ u))]])):
        frames = []
        for r in np.linspace(d_close, LOW_PUSH * d, STEPS_PUSH):
            pos = np.vstack([[0.0, 0.0, 0.0], behind, r * u, r * u - behind])
            a = Atoms([X] * len(pos), positions=pos)
            a.info["push"] = (1 + len(behind), u)
            frames.append(a)
        out.append((variant, frames))
    return out


def dimer_floors(dataset, elements, cutoff: float, e0: dict | None, pairs=None,
                 grounds=None) -> list[tuple[str, list, float, str]]:
    """[(label, [X-X dimers], D_X, X)]: the binding energy of an X-X dimer, E(r) - 2 E(X atom), may not
    fall below -D_X = -2 E_coh,X / sqrt(z_X) anywhere from the data's shortest X-X distance to 1.5
    times it (the second-moment, tight-binding scaling of the bond energy with coordination; it
    gives 4.8, 5.4 and 4.6 eV for Mo, Nb and Si against measured 4.5, 5.2 and 3.2 eV).  E_coh,X is
    E0_X minus the ground state's energy per atom (docs/theory.md §4.6), else the tabulated value."""
    from ase import Atoms

    from ..reference import COHESIVE_ENERGY

    pairs = _pair_distances(dataset, cutoff) if pairs is None else pairs
    grounds = ground_states(dataset, elements, cutoff) if grounds is None else grounds
    out = []
    for X, (_, e_x, _, z) in grounds.items():
        d = pairs.get((X, X))
        if e0 and X in e0:
            e_coh = e0[X]["e0"] - e_x
        else:
            e_coh = COHESIVE_ENERGY.get(X)
        if d is None or e_coh is None or e_coh <= 0:
            continue
        rs = np.linspace(d, FLOOR_REACH * d, STEPS)
        out.append((f"dimer {X}-{X} binding", [Atoms([X, X], positions=[[0, 0, 0], [r, 0, 0]]) for r in rs],
                    2.0 * e_coh / np.sqrt(z), X))
    return out


class PhysicsProbes:
    """The probe paths of a model on a data set, with their neighbour lists (built once)."""

    def __init__(self, model, dataset, e0: dict | None = None):
        from ..reference import isolated_atom

        self.model = model
        pairs = _pair_distances(dataset, model.cutoff)
        grounds = ground_states(dataset, model.elements, model.cutoff)
        self.paths = probe_paths(dataset, model.elements, model.cutoff, pairs, grounds)
        self.nls = [[model.neighbor_list(a) for a in atoms] for _, atoms in self.paths]
        self.floors = dimer_floors(dataset, model.elements, model.cutoff, e0, pairs, grounds)
        self.floor_nls = [([model.neighbor_list(a) for a in atoms], model.neighbor_list(isolated_atom(X)))
                          for _, atoms, _, X in self.floors]
        self.n = (sum(len(a) - 1 + (len(a) if "push" in a[0].info else 0) for _, a in self.paths)
                  + sum(len(a) for _, a, _, _ in self.floors))

    def _energy(self, nl, p) -> float:
        return float(self.model.kernel_energy_forces(nl, p)[0].sum())

    def energies(self, p):
        """Energies along every path at the parameters p."""
        return [np.array([self._energy(nl, p) for nl in nls]) for nls in self.nls]

    def bindings(self, p):
        """Dimer binding energies E(r) - 2 E(atom) along every floor."""
        return [np.array([self._energy(nl, p) for nl in nls]) - 2.0 * self._energy(atom, p)
                for nls, atom in self.floor_nls]

    def _linear(self, nl, p, g, push=None):
        """((c, k), force): the energy at p as c . p[g] + k, linear in the parameters of group g;
        with ``push`` = (atom j, unit vector u), ``force`` is the force on atom j along u in the
        same form (else None).  One Jacobian serves both."""
        J, e, f = self.model.kernel_jacobian(nl, p)
        c = J[0, g]
        energy = (c, float(e.sum()) - c @ p[g])
        if push is None:
            return energy, None
        j, u = push
        cf = u @ J[1 + 3 * j:4 + 3 * j][:, g]
        return energy, (cf, float(f[j] @ u) - cf @ p[g])

    def rows(self, p, g):
        """Inequalities G x >= h on the linear parameters ``p[g]`` (others fixed at p)."""
        G, h = [], []
        for (_, atoms), nls in zip(self.paths, self.nls):
            lin = [self._linear(nl, p, g, a.info.get("push")) for nl, a in zip(nls, atoms)]
            energies = [e for e, _ in lin]
            for (c0, k0), (c1, k1) in zip(energies, energies[1:]):
                G.append(c1 - c0)
                h.append(k0 - k1)
            # and repulsive at every point (dimers, pushed atoms): the force along the path >= 0
            for _, force in lin:
                if force is not None:
                    G.append(force[0])
                    h.append(-force[1])
        for (nls, atom), (_, _, D, _) in zip(self.floor_nls, self.floors):
            (ca, ka), _ = self._linear(atom, p, g)
            for nl in nls:
                (c, k), _ = self._linear(nl, p, g)
                G.append(c - 2.0 * ca)
                h.append(-D - (k - 2.0 * ka))
        return np.array(G), np.array(h)

    def violations(self, p, tol: float = 1e-6) -> list[str]:
        """Paths along which the energy falls somewhere under compression by more than ``tol`` eV
        (or a dimer attracts), and dimers bound more strongly than their floor."""
        out = []
        for (label, atoms), nls, e in zip(self.paths, self.nls, self.energies(p)):
            falls = (np.diff(e) < -tol).any()
            if "push" in atoms[0].info:
                falls = falls or any(self.model.kernel_energy_forces(nl, p)[1][a.info["push"][0]] @ a.info["push"][1]
                                     < -tol for nl, a in zip(nls, atoms))
            if falls:
                out.append(label)
        out += [label for (label, _, D, _), b in zip(self.floors, self.bindings(p)) if (b < -D - tol).any()]
        return out


def least_distance(E: np.ndarray, f: np.ndarray) -> np.ndarray | None:
    """min ||z|| subject to E z >= f, by non-negative least squares (Lawson & Hanson's LDP);
    None when the constraints are infeasible."""
    from scipy.optimize import nnls

    n = E.shape[1]
    scale = np.linalg.norm(np.hstack([E, f[:, None]]), axis=1)
    scale[scale == 0] = 1.0
    En, fn = E / scale[:, None], f / scale
    M = np.vstack([En.T, fn[None, :]])
    rhs = np.zeros(n + 1)
    rhs[-1] = 1.0
    u, _ = nnls(M, rhs, maxiter=50 * max(M.shape))
    r = M @ u - rhs
    if abs(r[-1]) < 1e-12:
        return None
    return -r[:n] / r[-1]


def ridge_with_inequalities(sv, Vt, beta, lam, G, h):
    """argmin ||A y − b||² + lam ||y||² subject to G y >= h, from the thin SVD A = U diag(sv) Vt
    (beta = U^T b).  With D = sqrt(sv² + lam) and t = sv beta / D the objective is
    ||D Vt y − t||² + const; z = D Vt y − t turns it into a least-distance programme."""
    D = np.sqrt(sv * sv + lam)
    t = sv * beta / D
    E = (G @ Vt.T) / D
    z = least_distance(E, h - E @ t)
    if z is None:
        return None
    return Vt.T @ ((z + t) / D)
