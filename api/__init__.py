"""compot: a compiler for composable machine-learned interatomic potentials.

    import compot
    model = compot.compile("E[G8L4] + N[E[G8L4]]", cutoff=5.0, elements=["Nb"])
    p = model.initial_parameters(seed=0)
    r = model.evaluate(atoms, p)        # energy, energies, forces, stress
    J = model.jacobian(atoms, p)        # (1+3N, P)
"""

__version__ = "0.1.0"

from .errors import BuildError, CompotError, DataError, ModelError, ModelFileError, ModelSyntaxError


def compile(text, cutoff=None, elements=None):  # noqa: A001 - the SPEC's name
    """Compile model text into a :class:`compot.runtime.model.Model` (cached by content)."""
    from .runtime.compile import compile_model

    return compile_model(text, cutoff=cutoff, elements=elements)


def parse(text):
    """Parse model text into its typed AST (:mod:`compot.grammar.nodes`)."""
    from .grammar import parse as _parse

    return _parse(text)


__all__ = ["__version__", "compile", "parse", "CompotError", "ModelSyntaxError", "ModelError",
           "DataError", "BuildError", "ModelFileError"]
