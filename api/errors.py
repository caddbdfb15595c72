"""Exception types raised by compot.

Every error a user can cause derives from :class:`CompotError`; its ``str`` is one line that names
what is wrong and where.  The command-line interface prints that line and exits non-zero, never a
traceback.
"""

from __future__ import annotations


class CompotError(Exception):
    """Base class of all errors caused by user input (model text, data, files, options)."""


class ModelSyntaxError(CompotError):
    """The model text does not follow the grammar.

    Attributes ``line`` and ``column`` (1-based), ``token`` (the offending text, or ``None`` at end
    of input) and ``expected`` (human-readable descriptions of what could come there).
    """

    def __init__(self, message: str, line: int, column: int, token: str | None,
                 expected: tuple[str, ...] = (), context: str = ""):
        super().__init__(message)
        self.line = line
        self.column = column
        self.token = token
        self.expected = expected
        self.context = context


class ModelError(CompotError):
    """The model text parses but is not a valid model (unknown name, bad size, bad bounds...)."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        if line is not None:
            message = f"line {line}, column {column}: {message}"
        super().__init__(message)
        self.line = line
        self.column = column


class DataError(CompotError):
    """A structure or data file cannot be used (missing energies, non-finite numbers, bad cell...)."""


class BuildError(CompotError):
    """Generating or compiling a kernel failed."""


class ModelFileError(CompotError):
    """A saved model file is unreadable, truncated, from a newer version or inconsistent."""
