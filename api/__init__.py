"""compot: a compiler for composable machine-learned interatomic potentials."""

__version__ = "0.1.0"

from .errors import BuildError, CompotError, DataError, ModelError, ModelFileError, ModelSyntaxError

__all__ = ["__version__", "CompotError", "ModelSyntaxError", "ModelError", "DataError",
           "BuildError", "ModelFileError"]
