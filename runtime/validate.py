"""``compot validate``: physical properties of a potential's elemental crystals (docs/validation.md).

Everything here takes an ASE calculator factory, so the same machinery runs on a compot model
(:class:`compot.runtime.calculator.Calculator`) and on any ASE calculator (the tests check it
against EMT and Lennard-Jones).  Units: eV, Å, GPa, J/m², THz, K, fs.

Ground state.  For each lattice L in (bcc, fcc, hcp, diamond) the energy per atom e_L(a) of the
primitive cell is scanned over 0.8-1.25 of an expected nearest-neighbour distance (the reference
data's bulk cell with --reference, else ASE's reference state of the element or twice its
covalent radius), and the local minimum nearest to it is refined (Brent; hcp also over c/a,
Nelder-Mead from the ideal sqrt(8/3)).  A machine-learned potential can have a deeper minimum far
outside its data (a collapse under compression): a second scan over 1.6 Å..r_c reports one as
``collapse``, but the equilibrium is the local minimum, as a relaxation from the expected
structure in MD would find.  The ground state is the lattice of lowest e_L(a_L).  Cohesive
energy E_coh = E(isolated atom) - e_L(a_L), with the isolated atom evaluated by the potential on
one atom without periodic images.

Equation of state.  E(V) on 0.70-1.40 V0 (primitive cell scaled isotropically), fitted by the
third-order Birch-Murnaghan form (``ase.eos``, 'birchmurnaghan'):
E(V) = E0 + 9 V0 B0/16 {[(V0/V)^(2/3) - 1]^3 B0' + [(V0/V)^(2/3) - 1]^2 [6 - 4 (V0/V)^(2/3)]}.

Elastic constants.  Stress-strain: the conventional cell at a0 is deformed by the symmetric
F = I + eps for strains e in {±0.5, ±1, ±1.5, ±2} % of each Voigt component in turn, the stress
is evaluated and sigma = sigma0 + C e is fitted by least squares with cubic symmetry
(:func:`compot.runtime.crystal.fit_cubic_elastic`).  "Clamped ions": atoms move affinely with
the cell.  "Relaxed ions": positions relaxed (BFGS, fixed cell) at each strain; this changes C44
of diamond (internal strain, Kleinman), not of bcc/fcc whose atoms are all centres of inversion
(relaxed = clamped; reported so).  Bulk modulus also as B = (C11 + 2 C12)/3 for comparison.

Vacancy.  E_f = E(N-1) - (N-1)/N E(N) in a supercell of the conventional cell (>= 54 atoms),
positions of the defective cell relaxed at fixed cell (BFGS, fmax 0.01 eV/Å).

Surfaces.  gamma = (E_slab - N e_bulk) / (2 A) for (100), (110), (111) slabs of the cubic lattice
(``ase.build.surface``, thickness >= max(10 Å, 2 r_c), 12 Å of vacuum on each side, periodic
cell), positions relaxed (BFGS, fmax 0.02 eV/Å, fixed cell); the unrelaxed value is reported
too.

Phonons.  phonopy finite displacements (0.01 Å) in an n x n x n conventional supercell with
n a >= 2 r_c (capped at 4 cubes), forces from the potential; band structure along ASE's
standard path of the primitive cell, DOS on a 16^3 mesh.  Imaginary modes are reported as
negative frequencies (phonopy's convention); "imaginary" means below -0.1 THz away from Gamma.

Dimer.  E(r) - 2 E(atom) for r from 0.5 Å to the cutoff.  "No hole" = E strictly decreasing
from 0.5 Å up to the minimum.

MD.  NVT (Bussi stochastic velocity rescaling, tau 100 fs, 1 fs step) at 300 K and 1000 K in a
small supercell.  The conserved quantity is E_kin + E_pot minus the energy the thermostat
exchanged; its drift is the slope of a linear fit, in meV/atom/ps.  Fails if two atoms come
closer than ``min_distance_fraction`` (0.6) of the equilibrium nearest-neighbour distance or if
|drift| exceeds ``max_drift`` (1 meV/atom/ps).
"""

from __future__ import annotations

import os
import warnings

import numpy as np

from ..errors import CompotError
from . import crystal as X

STRAINS = (-0.02, -0.015, -0.01, -0.005, 0.005, 0.01, 0.015, 0.02)


class Options:
    """Knobs of :func:`validate_element`; ``quick=True`` shrinks everything for tests."""

    def __init__(self, quick: bool = False, md_steps: int | None = None, md_temperatures=(300.0, 1000.0),
                 md_timestep: float = 1.0, min_distance_fraction: float = 0.6, max_drift: float = 1.0,
                 phonons: bool = True, md: bool = True, surfaces: bool = True, vacancy: bool = True,
                 seed: int = 0):
        self.quick = quick
        self.md_steps = md_steps if md_steps is not None else (20 if quick else 5000)
        self.md_temperatures = tuple(md_temperatures)
        self.md_timestep = md_timestep
        self.min_distance_fraction = min_distance_fraction
        self.max_drift = max_drift
        self.phonons = phonons
        self.md = md
        self.surfaces = surfaces
        self.vacancy = vacancy
        self.seed = seed


# ----------------------------------------------------------------------------------- basics
def _energy(calc, atoms) -> float:
    atoms = atoms.copy()
    atoms.calc = calc
    return float(atoms.get_potential_energy())


def _stress(calc, atoms) -> np.ndarray:
    atoms = atoms.copy()
    atoms.calc = calc
    return np.asarray(atoms.get_stress(voigt=True), float)


def _relax(calc, atoms, fmax=0.01, steps=300):
    from ase.optimize import BFGS

    atoms = atoms.copy()
    atoms.calc = calc
    opt = BFGS(atoms, logfile=None)
    converged = bool(opt.run(fmax=fmax, steps=steps))
    return atoms, float(atoms.get_potential_energy()), converged


def isolated_energy(calc, symbol: str) -> float:
    from ase import Atoms

    return _energy(calc, Atoms(symbol, positions=[[0.0, 0.0, 0.0]], pbc=False))


def nn_guess(symbol: str, lattice: str) -> float:
    """A starting nearest-neighbour distance: ASE's reference state of the element when it is
    this lattice, else twice the covalent radius (Cordero et al. 2008)."""
    from ase.data import atomic_numbers, covalent_radii, reference_states

    ref = reference_states[atomic_numbers[symbol]] or {}
    if ref.get("symmetry") == lattice and "a" in ref:
        return float(ref["a"]) * X.NN_OVER_A[lattice]
    return 2.0 * float(covalent_radii[atomic_numbers[symbol]])


def relax_lattice(calc, symbol: str, lattice: str, cutoff: float, relax_coa: bool = True,
                  near: float | None = None) -> dict:
    """The lattice constant of the local energy minimum nearest to the nearest-neighbour
    distance ``near`` (a scan over 0.8-1.25 near, then Brent; hcp then also c/a), and, separately,
    the lowest energy per atom anywhere on 1.6 Å..cutoff: a lower energy there than at the local
    minimum is a *collapse* (a hole under compression), reported, not taken as the ground state."""
    from scipy.optimize import minimize, minimize_scalar

    def e_of(a, coa=None):
        at = X.primitive(symbol, lattice, a, coa)
        return _energy(calc, at) / len(at)

    near = near or nn_guess(symbol, lattice)
    d = np.linspace(0.8 * near, 1.25 * near, 37)
    a_grid = [X.a_from_nn(lattice, x) for x in d]
    e = np.array([e_of(a) for a in a_grid])
    interior = [k for k in range(1, len(d) - 1) if e[k] <= e[k - 1] and e[k] <= e[k + 1]]
    if interior:
        k = min(interior, key=lambda k: abs(d[k] - near))
        res = minimize_scalar(e_of, bracket=(a_grid[k - 1], a_grid[k], a_grid[k + 1]), tol=1e-7)
        a, e_min, bracket_ok = float(res.x), float(res.fun), True
    else:                          # no local minimum near the guess: the end of the scan
        k = int(np.argmin(e))
        a, e_min, bracket_ok = a_grid[k], float(e[k]), False
    coa = None
    if lattice == "hcp":
        coa = X.IDEAL_COA
        if relax_coa and bracket_ok:
            res = minimize(lambda v: e_of(v[0], v[1]), [a, coa], method="Nelder-Mead",
                           options={"xatol": 1e-5, "fatol": 1e-8})
            if res.fun < e_min and 0.8 * a < res.x[0] < 1.25 * a:
                a, coa, e_min = float(res.x[0]), float(res.x[1]), float(res.fun)
    wide = np.linspace(1.6, max(2.0, cutoff), 41)
    ew = np.array([e_of(X.a_from_nn(lattice, x)) for x in wide])
    j = int(np.argmin(ew))
    collapse = None
    if ew[j] < e_min - 1e-3:
        collapse = {"nearest_neighbour_A": float(wide[j]), "energy_per_atom_eV": float(ew[j]),
                    "below_minimum_eV": float(e_min - ew[j])}
    return {"lattice": lattice, "a": a, "c_over_a": coa, "energy_per_atom": e_min,
            "interior_minimum": bracket_ok, "collapse": collapse}


def ground_state(calc, symbol, cutoff, lattice=None, near: dict | None = None) -> dict:
    cands = [lattice] if lattice else list(X.LATTICES)
    near = near or {}
    res = {L: relax_lattice(calc, symbol, L, cutoff, near=near.get(L)) for L in cands}
    best = min(res.values(), key=lambda r: r["energy_per_atom"])
    return {"best": best, "results": res, "all": {L: {"a": r["a"], "c_over_a": r["c_over_a"],
                                                      "energy_per_atom_eV": r["energy_per_atom"],
                                                      "collapse": r["collapse"]}
                                                  for L, r in res.items()}}


def eos(calc, symbol, gs) -> dict:
    from ase.eos import EquationOfState

    at0 = X.primitive(symbol, gs["lattice"], gs["a"], gs["c_over_a"])
    n = len(at0)
    V0 = at0.get_volume()
    vs, es = [], []
    for f in np.linspace(0.70, 1.40, 29):
        at = at0.copy()
        at.set_cell(at0.cell * f ** (1 / 3), scale_atoms=True)
        vs.append(at.get_volume() / n)
        es.append(_energy(calc, at) / n)
    out = {"volumes_A3_per_atom": vs, "energies_eV_per_atom": es, "V0_fraction_range": [0.7, 1.4]}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # fit near the minimum (0.85-1.2 V0) where BM3 holds; the curve itself spans 0.7-1.4
            sel = [i for i, v in enumerate(vs) if 0.85 * V0 / n <= v <= 1.2 * V0 / n]
            fit = EquationOfState([vs[i] for i in sel], [es[i] for i in sel], eos="birchmurnaghan")
            v0, e0, B = fit.fit()
            bp = float(fit.eos_parameters[2]) if hasattr(fit, "eos_parameters") else None
        out.update({"V0_A3_per_atom": float(v0), "E0_eV_per_atom": float(e0),
                    "bulk_modulus_GPa": float(B) * X.EV_A3_TO_GPA, "bulk_modulus_derivative": bp})
    except Exception as exc:    # a curve without a minimum: no fit
        out.update({"V0_A3_per_atom": None, "bulk_modulus_GPa": None, "fit_error": str(exc)})
    return out


def elastic(calc, symbol, gs, strains=STRAINS) -> dict:
    """Clamped- and relaxed-ion C11, C12, C44 (GPa) by stress-strain (see the module docstring)."""
    L = gs["lattice"]
    cell0 = X.conventional(symbol, L, gs["a"], gs["c_over_a"])
    needs_relax = L in ("diamond", "hcp")
    rows = {"clamped": ([], []), "relaxed": ([], [])}
    for comp in range(6):
        for s in strains:
            e = np.zeros(6)
            e[comp] = s
            F = X.F_from_voigt(e)
            at = X.strain_atoms(cell0, F)
            E_gl = X.small_strain_from_F(F)
            sig = _stress(calc, at) * X.EV_A3_TO_GPA
            rows["clamped"][0].append(E_gl)
            rows["clamped"][1].append(sig)
            if needs_relax:
                rel, _, _ = _relax(calc, at, fmax=1e-4, steps=200)
                sig = np.asarray(rel.get_stress(voigt=True)) * X.EV_A3_TO_GPA
            rows["relaxed"][0].append(E_gl)
            rows["relaxed"][1].append(sig)
    out = {"strains": list(strains), "strain_measure": "small strain sym(F) - I", "cell_atoms": len(cell0)}
    for kind, (e, s) in rows.items():
        if L == "hcp":
            C = X.fit_general_elastic(e, s)
            vals = {"C11": C[0, 0], "C12": C[0, 1], "C44": C[3, 3], "C13": C[0, 2], "C33": C[2, 2]}
        else:
            fit = X.fit_cubic_elastic(e, s)
            vals = {k: fit[k] for k in ("C11", "C12", "C44")}
        out[kind] = {f"{k}_GPa": float(v) for k, v in vals.items()}
    out["relaxed_ions_note"] = ("relaxed = clamped: every atom is a centre of inversion" if not needs_relax
                                else "positions relaxed at each strain (BFGS, fmax 1e-4 eV/Å)")
    c = out["clamped"]
    out["C11_GPa"], out["C12_GPa"] = c["C11_GPa"], c["C12_GPa"]
    out["C44_GPa"] = c["C44_GPa"]
    out["C44_relaxed_GPa"] = out["relaxed"]["C44_GPa"]
    out["bulk_modulus_from_C_GPa"] = (c["C11_GPa"] + 2 * c["C12_GPa"]) / 3
    out["_curves"] = rows
    return out


def _supercell_reps(L, n_min=54):
    at = {"bcc": 2, "fcc": 4, "diamond": 8, "hcp": 4}[L]
    n = 1
    while at * n ** 3 < n_min:
        n += 1
    return n


def vacancy(calc, symbol, gs, quick=False) -> dict:
    L = gs["lattice"]
    n = 2 if quick else _supercell_reps(L)
    bulk = X.conventional(symbol, L, gs["a"], gs["c_over_a"]) * (n, n, n)
    N = len(bulk)
    E_N = _energy(calc, bulk)
    vac = bulk.copy()
    del vac[0]
    E_unrel = _energy(calc, vac)
    rel, E_rel, conv = _relax(calc, vac, fmax=0.01, steps=50 if quick else 500)
    return {"vacancy_formation_energy_eV": E_rel - (N - 1) / N * E_N,
            "unrelaxed_vacancy_formation_energy_eV": E_unrel - (N - 1) / N * E_N,
            "supercell_atoms": N, "relaxed": True, "relaxation_converged": conv}


def _slab(symbol, gs, miller, cutoff, quick=False):
    from ase.build import surface
    from ase.neighborlist import neighbor_list

    cube = X.conventional(symbol, gs["lattice"], gs["a"])
    thick = 8.0 if quick else max(10.0, 2 * cutoff)
    layers = 2
    while layers < 200:
        t = surface(cube, miller, layers, vacuum=None)
        n = np.cross(t.cell[0], t.cell[1])
        if np.ptp(t.positions @ (n / np.linalg.norm(n))) >= thick:
            break
        layers += 1
    # periodic=False: with periodic=True ase.build.surface can wrap an atom through the vacuum
    # (a diamond (111) slab of 4 or 7 layers at a = 5.454870522 A had two atoms 0.79 A apart)
    slab = surface(cube, miller, layers, vacuum=12.0 if not quick else 8.0, periodic=False)
    slab.pbc = True
    nn = gs["a"] * X.NN_OVER_A[gs["lattice"]]
    d = neighbor_list("d", slab, nn)
    if len(d) and d.min() < 0.9 * nn:
        raise CompotError(f"the ({''.join(map(str, miller))}) slab has two atoms {d.min():.3f} A apart "
                          f"(nearest-neighbour distance {nn:.3f} A)")
    return slab


def surfaces(calc, symbol, gs, cutoff, e_bulk, quick=False) -> dict:
    if gs["lattice"] not in X.CUBIC:
        return {f"surface_energy_{m}_J_m2": None for m in ("100", "110", "111")} | {
            "reason": "surface energies are computed for the cubic lattices only"}
    out = {"relaxed": True}
    for m in ((1, 0, 0), (1, 1, 0), (1, 1, 1)):
        name = "".join(map(str, m))
        slab = _slab(symbol, gs, m, cutoff, quick)
        A = np.linalg.norm(np.cross(slab.cell[0], slab.cell[1]))
        N = len(slab)
        E_un = _energy(calc, slab)
        _, E_rel, conv = _relax(calc, slab, fmax=0.02, steps=30 if quick else 400)
        out[f"surface_energy_{name}_J_m2"] = (E_rel - N * e_bulk) / (2 * A) * X.EV_A2_TO_J_M2
        out[f"unrelaxed_surface_energy_{name}_J_m2"] = (E_un - N * e_bulk) / (2 * A) * X.EV_A2_TO_J_M2
        out[f"slab_{name}"] = {"atoms": N, "area_A2": A, "relaxation_converged": conv}
    return out


def dimer(calc, symbol, cutoff, e_atom) -> dict:
    from ase import Atoms

    r = np.linspace(0.5, cutoff, 200)
    E = np.array([_energy(calc, Atoms([symbol, symbol], positions=[[0, 0, 0], [x, 0, 0]], pbc=False))
                  for x in r]) - 2 * e_atom
    k = int(np.argmin(E))
    below = E[:k + 1]
    monotonic = bool(np.all(np.diff(below) < 0)) if k > 0 else True
    e1 = float(np.interp(1.0, r, E))
    return {"r_A": r.tolist(), "energy_eV": E.tolist(), "r_min_A": float(r[k]),
            "E_min_eV": float(E[k]), "no_hole": monotonic, "E_at_1A_eV": e1}


def phonons(calc, symbol, gs, cutoff, quick=False) -> dict:
    try:
        from phonopy import Phonopy
        from phonopy.structure.atoms import PhonopyAtoms
    except ImportError:
        raise CompotError("phonons need phonopy (pip install 'phonopy>=2.20')") from None
    from ase import Atoms

    L = gs["lattice"]
    conv = X.conventional(symbol, L, gs["a"], gs["c_over_a"])
    prim = X.primitive(symbol, L, gs["a"], gs["c_over_a"])
    lengths = np.linalg.norm(conv.cell, axis=1)
    reps = [1 if quick else int(min(4, max(2, np.ceil(2 * cutoff / x)))) for x in lengths]
    if quick:
        reps = [max(1, int(np.ceil(6.0 / x))) for x in lengths]
    P = np.linalg.solve(np.asarray(conv.cell).T, np.asarray(prim.cell).T)   # prim.T = conv.T @ P
    unit = PhonopyAtoms(symbols=conv.get_chemical_symbols(), cell=np.asarray(conv.cell),
                        scaled_positions=conv.get_scaled_positions())
    kw = {}
    try:
        ph = Phonopy(unit, supercell_matrix=np.diag(reps), primitive_matrix=P, lang="C")
    except TypeError:
        ph = Phonopy(unit, supercell_matrix=np.diag(reps), primitive_matrix=P, **kw)
    ph.generate_displacements(distance=0.01)
    forces = []
    for sc in ph.supercells_with_displacements:
        at = Atoms(sc.symbols, cell=sc.cell, scaled_positions=sc.scaled_positions, pbc=True)
        at.calc = calc
        forces.append(np.asarray(at.get_forces()).copy())
    ph.forces = forces
    ph.produce_force_constants()
    path = prim.cell.bandpath(npoints=0)
    special = path.special_points
    labels = [c for c in path.path.replace(",", "|,|").split("|")]
    segments, seg_labels = [], []
    for part in path.path.split(","):
        names = []
        i = 0
        while i < len(part):
            nm = part[i]
            if i + 1 < len(part) and part[i + 1].isdigit():
                nm += part[i + 1]
                i += 1
            names.append(nm)
            i += 1
        for a, b in zip(names[:-1], names[1:]):
            qa, qb = special[a], special[b]
            segments.append([qa + (qb - qa) * t for t in np.linspace(0, 1, 21 if not quick else 5)])
            seg_labels.append((a, b))
    del labels
    ph.run_band_structure(segments)
    bs = ph.get_band_structure_dict()
    freqs = np.concatenate([np.asarray(f) for f in bs["frequencies"]])
    dist = [np.asarray(d) for d in bs["distances"]]
    qs = np.concatenate([np.asarray(q) for q in bs["qpoints"]])
    mesh = 8 if quick else 16
    ph.run_mesh([mesh] * 3)
    ph.run_total_dos()
    dos = ph.get_total_dos_dict()
    at_points = {}
    for name, q in special.items():
        at_points["Gamma" if name == "G" else name] = np.sort(ph.get_frequencies(q)).tolist()
    away = np.linalg.norm(qs, axis=1) > 1e-3
    fmin_away = float(freqs[away].min()) if away.any() else float(freqs.min())
    return {"supercell": reps, "supercell_atoms": len(conv) * int(np.prod(reps)),
            "path": path.path, "max_frequency_THz": float(freqs.max()),
            "min_frequency_THz": float(freqs.min()), "imaginary_modes": bool(fmin_away < -0.1),
            "frequencies_at_special_points_THz": at_points,
            "_bands": {"distances": dist, "frequencies": [np.asarray(f) for f in bs["frequencies"]],
                       "labels": seg_labels},
            "_dos": {"frequency": np.asarray(dos["frequency_points"]), "dos": np.asarray(dos["total_dos"])}}


def md(calc, symbol, gs, opts: Options) -> dict:
    from ase import units
    from ase.md.bussi import Bussi
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary
    from ase.neighborlist import neighbor_list

    L = gs["lattice"]
    n = 2 if opts.quick else _supercell_reps(L)
    base = X.conventional(symbol, L, gs["a"], gs["c_over_a"]) * (n, n, n)
    d_nn = X.NN_OVER_A[L] * gs["a"]
    dmin_allowed = opts.min_distance_fraction * d_nn
    runs = []
    for T in opts.md_temperatures:
        at = base.copy()
        at.calc = calc
        rng = np.random.default_rng(opts.seed)
        MaxwellBoltzmannDistribution(at, temperature_K=T, rng=rng)
        Stationary(at)
        dyn = Bussi(at, opts.md_timestep * units.fs, temperature_K=T, taut=100 * units.fs, rng=rng)
        t, cons, temps, dmins = [], [], [], []
        every = max(1, opts.md_steps // 200)
        failed = None
        for step in range(0, opts.md_steps + 1, every):
            if step:
                dyn.run(every)
            epot = at.get_potential_energy()
            ekin = at.get_kinetic_energy()
            t.append(step * opts.md_timestep / 1000.0)
            cons.append(epot + ekin - float(getattr(dyn, "transferred_energy", 0.0)))
            temps.append(at.get_temperature())
            dd = neighbor_list("d", at, 1.2 * d_nn)
            dm = float(dd.min()) if len(dd) else float("inf")
            dmins.append(dm)
            if dm < dmin_allowed:
                failed = f"atoms closer than {dmin_allowed:.3f} Å at t = {t[-1]:.3f} ps"
                break
            if not np.isfinite(epot):
                failed = f"non-finite energy at t = {t[-1]:.3f} ps"
                break
        cons_a = np.array(cons) / len(at)
        drift = float(np.polyfit(t, cons_a, 1)[0] * 1000.0) if len(t) > 2 else 0.0
        if failed is None and abs(drift) > opts.max_drift:
            failed = f"conserved energy drifts by {drift:.3g} meV/atom/ps (limit {opts.max_drift})"
        runs.append({"temperature_K": T, "atoms": len(at), "steps": opts.md_steps,
                     "timestep_fs": opts.md_timestep, "duration_ps": opts.md_steps * opts.md_timestep / 1000,
                     "drift_meV_per_atom_per_ps": drift, "mean_temperature_K": float(np.mean(temps)),
                     "min_distance_A": float(min(dmins)), "stable": failed is None, "failure": failed,
                     "_trace": {"t_ps": t, "conserved_eV_per_atom": cons_a.tolist(), "T": temps,
                                "dmin": dmins}})
    return {"thermostat": "Bussi (tau 100 fs)", "min_distance_fraction": opts.min_distance_fraction,
            "nearest_neighbour_A": d_nn, "max_drift_meV_per_atom_per_ps": opts.max_drift,
            "stable": all(r["stable"] for r in runs), "runs": runs}


# ----------------------------------------------------------------------------------- drivers
def validate_element(calc, symbol: str, cutoff: float, lattice: str | None = None,
                     opts: Options | None = None, log=None, nn_ref: float | None = None) -> dict:
    """All properties of ``symbol``'s crystal with an ASE calculator (see the module docstring).
    Keys with a leading underscore hold curves for the plots (dropped from the JSON)."""
    opts = opts or Options()
    say = log or (lambda s: None)
    if lattice is not None and lattice not in X.LATTICES:
        raise CompotError(f"unknown lattice {lattice!r}; supported: {', '.join(X.LATTICES)}")
    say(f"{symbol}: ground state")
    near = {lattice: nn_ref} if (lattice is not None and nn_ref) else None
    g = ground_state(calc, symbol, cutoff, None, near)  # every lattice: is the model's lowest right?
    own = g["best"]
    gs = g["results"][lattice] if lattice is not None else own
    if lattice is not None and own["lattice"] != lattice and own["energy_per_atom"] < gs["energy_per_atom"] - 1e-6:
        warnings.warn(f"{symbol}: the model's lowest-energy lattice is {own['lattice']} "
                      f"({own['energy_per_atom'] - gs['energy_per_atom']:+.3f} eV/atom against {lattice}); "
                      f"the properties are of {lattice}", stacklevel=2)
    e_atom = isolated_energy(calc, symbol)
    out = {"element": symbol, "lattice": gs["lattice"], "lattice_given": lattice is not None,
           "model_ground_state_lattice": own["lattice"],
           "lattice_constant_A": gs["a"], "c_over_a": gs["c_over_a"],
           "nearest_neighbour_A": X.NN_OVER_A[gs["lattice"]] * gs["a"],
           "energy_per_atom_eV": gs["energy_per_atom"], "isolated_atom_energy_eV": e_atom,
           "cohesive_energy_eV": e_atom - gs["energy_per_atom"], "lattice_candidates": g["all"]}
    if not gs["interior_minimum"]:
        warnings.warn(f"{symbol} {gs['lattice']}: the energy has no local minimum within -20/+25 % of "
                      "the expected nearest-neighbour distance; the properties are of the scan's end",
                      stacklevel=2)
    out["collapse"] = gs["collapse"]
    if gs["collapse"]:
        c = gs["collapse"]
        warnings.warn(f"{symbol} {gs['lattice']}: collapse under compression: at a nearest-neighbour "
                      f"distance of {c['nearest_neighbour_A']:.2f} Å the energy is {c['below_minimum_eV']:.3g} "
                      "eV/atom below the equilibrium minimum (a hole outside the data)", stacklevel=2)
    say(f"{symbol}: equation of state")
    out["eos"] = eos(calc, symbol, gs)
    out["bulk_modulus_GPa"] = out["eos"].get("bulk_modulus_GPa")
    say(f"{symbol}: elastic constants")
    el = elastic(calc, symbol, gs)
    out["elastic"] = el
    for k in ("C11_GPa", "C12_GPa", "C44_GPa", "C44_relaxed_GPa"):
        out[k] = el[k]
    if opts.vacancy:
        say(f"{symbol}: vacancy")
        out["vacancy"] = _guard(lambda: vacancy(calc, symbol, gs, opts.quick))
        out["vacancy_formation_energy_eV"] = out["vacancy"].get("vacancy_formation_energy_eV")
    if opts.surfaces:
        say(f"{symbol}: surfaces")
        out["surface"] = _guard(lambda: surfaces(calc, symbol, gs, cutoff, gs["energy_per_atom"], opts.quick))
        for m in ("100", "110", "111"):
            out[f"surface_energy_{m}_J_m2"] = out["surface"].get(f"surface_energy_{m}_J_m2")
    say(f"{symbol}: dimer")
    out["dimer"] = dimer(calc, symbol, cutoff, e_atom)
    if opts.phonons:
        say(f"{symbol}: phonons")
        out["phonon"] = _guard(lambda: phonons(calc, symbol, gs, cutoff, opts.quick))
    if opts.md:
        say(f"{symbol}: molecular dynamics")
        out["md"] = _guard(lambda: md(calc, symbol, gs, opts))
    return out


def _guard(f) -> dict:
    """Run one property; a potential that collapses the structure (atoms on top of each other,
    a DataError of the neighbour list) gives {"failed": reason} instead of stopping the run.
    Library deprecation chatter (phonopy, ASE) is silenced."""
    from ..errors import DataError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", FutureWarning)
            warnings.filterwarnings("ignore", message=".*deprecated.*")
            warnings.filterwarnings("ignore", message=".*thermalize_momenta.*")
            warnings.filterwarnings("ignore", module="phonopy")
            return f()
    except DataError as exc:
        return {"failed": f"the structure collapsed: {exc}"}


def validate(model, reference=None, lattice=None, plot=None, quick: bool = False,
             md_steps: int | None = None, options: Options | None = None, log=None) -> dict:
    """``compot.validate``: properties of every element's crystal for a model (object or model
    file), with DFT values derived from ``reference`` (a data file or Dataset) side by side."""
    from .calculator import Calculator

    if lattice is not None and lattice not in X.LATTICES:
        raise CompotError(f"unknown lattice {lattice!r}; supported: {', '.join(X.LATTICES)}")
    if not hasattr(model, "evaluate"):
        from .compile import load_model

        model = load_model(model)
    if model.elements is None or not model.elements:
        raise CompotError("the model has no elements; validate needs a model trained on (or "
                          "compiled for) named elements")
    if getattr(model, "parameters", None) is None:
        raise CompotError("the model has no trained parameters; validate a fitted model file")
    if options is None:
        options = Options(quick=quick, md_steps=md_steps)
    if plot is not None:
        _check_plot_dir(plot)
    ref_data = None
    if reference is not None:
        from .data import Dataset, read_dataset
        from .validate_reference import check_reference

        ref_data = reference if isinstance(reference, Dataset) else read_dataset(reference)
        check_reference(ref_data, model.elements)
    calc = Calculator(model)
    out = {"model": model.text, "cutoff_A": model.cutoff, "elements": list(model.elements), "results": {}}
    for el in model.elements:
        use = lattice
        if use is None and ref_data is not None:      # compare like with like: the data's lattice
            from .validate_reference import reference_lattice

            use = reference_lattice(ref_data, el)
        nn_ref = None
        if ref_data is not None and use is not None:
            from .validate_reference import reference_nearest_neighbour

            nn_ref = reference_nearest_neighbour(ref_data, el, use)
        res = validate_element(calc, el, model.cutoff, use, options, log=log, nn_ref=nn_ref)
        res["lattice_source"] = "given" if lattice else ("reference data" if use else "model ground state")
        if ref_data is not None:
            from .validate_reference import compare, derive_reference

            ref = derive_reference(ref_data, el, res["lattice"], cutoff=model.cutoff)
            res["reference"] = ref
            res["comparison"] = compare(res, ref)
        out["results"][el] = res
    if plot is not None:
        from .validate_plots import write_plots

        out["plots"] = write_plots(out, plot)
    return strip_private(out)


def _check_plot_dir(path):
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise CompotError(f"cannot create plot directory {path}: {exc.strerror}") from None
    if not os.access(path, os.W_OK):
        raise CompotError(f"cannot write plots into {path}: not writable")


def strip_private(obj):
    """Drop keys starting with '_' (curves for plots) and make numpy values JSON-friendly."""
    if isinstance(obj, dict):
        return {k: strip_private(v) for k, v in obj.items() if not str(k).startswith("_")}
    if isinstance(obj, (list, tuple)):
        return [strip_private(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj
