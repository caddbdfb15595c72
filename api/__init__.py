"""compot: a compiler for composable machine-learned interatomic potentials.

    import compot
    model = compot.compile("E[G8L4] + N[E[G8L4]]", cutoff=5.0, elements=["Nb"])
    p = model.initial_parameters(seed=0)
    r = model.evaluate(atoms, p)          # energy, energies, forces, stress
    J = model.jacobian(atoms, p)          # (1+3N, P)
    fit = compot.fit(model, "train.xyz", seed=0)
    fit.save("model.json"); calc = compot.Calculator("model.json")
"""

from .errors import BuildError, CompotError, DataError, ModelError, ModelFileError, ModelSyntaxError
from .version import __version__


def compile(text, cutoff=None, elements=None):  # noqa: A001 - the documented name
    """Compile model text into a :class:`compot.runtime.model.Model` (cached by content)."""
    from .runtime.compile import compile_model

    return compile_model(text, cutoff=cutoff, elements=elements)


def parse(text):
    """Parse model text into its typed AST (:mod:`compot.grammar.nodes`)."""
    from .grammar import parse as _parse

    return _parse(text)


def fit(model, train, seed=0, test=None, **options):
    """Train a compiled model on DFT data; see :func:`compot.runtime.training.fit.fit`."""
    from .runtime.training.fit import fit as _fit

    return _fit(model, train, seed=seed, test=test, **options)


def load(path):
    """Load a trained model file written by ``Model.save`` or ``compot fit``."""
    from .runtime.compile import load_model

    return load_model(path)


def fim(model, data, params=None, bits=256, **kw):
    """Fisher-information eigen-analysis; see :func:`compot.runtime.training.fim.fim`."""
    from .runtime.training.fim import fim as _fim

    return _fim(model, data, params=params, bits=bits, **kw)


def design(train, test=None, log=None, **options):
    """FIM-guided search over model compositions; see :mod:`compot.runtime.training.design`."""
    from .runtime.training.design import DesignOptions, design as _design

    return _design(train, test, DesignOptions(**options), log=log)


def validate(model, reference=None, lattice=None, plot=None, quick=False, md_steps=None, **kw):
    """Crystal properties of a trained model (lattice constant, cohesive energy, E-V curve and
    bulk modulus, C11/C12/C44, vacancy, surfaces, phonons, dimer, MD stability), with DFT values
    derived from ``reference`` side by side; returns the JSON of ``compot validate``.  See
    :mod:`compot.runtime.validate` and docs/validation.md."""
    from .runtime.validate import validate as _validate

    return _validate(model, reference=reference, lattice=lattice, plot=plot, quick=quick,
                     md_steps=md_steps, **kw)


def select(model, candidates, n, **kw):
    """Active learning: the ``n`` candidates (path or list of ase.Atoms) with the largest greedy
    D-optimal information gain for a fitted model; see :mod:`compot.runtime.training.select`."""
    from .runtime.training.select import select as _select

    if isinstance(candidates, (str, bytes)) or hasattr(candidates, "__fspath__"):
        from .runtime.data import read_structures

        candidates = read_structures(candidates)
    if not hasattr(model, "evaluate"):
        model = load(model)
    return _select(model, list(candidates), n, **kw)


def read_data(path):
    """Read a DFT data file (extxyz or anything ASE reads) into a checked Dataset."""
    from .runtime.data import read_dataset

    return read_dataset(path)


def __getattr__(name):
    if name == "Calculator":
        from .runtime.calculator import Calculator

        return Calculator
    raise AttributeError(f"module 'compot' has no attribute {name!r}")


__all__ = ["__version__", "compile", "parse", "fit", "load", "fim", "design", "read_data", "validate", "Calculator",
           "CompotError", "ModelSyntaxError", "ModelError", "DataError", "BuildError", "ModelFileError"]
