"""The compiler's entry point: model text -> lowered model.

Every caller (the runtime's compile, the standalone and LAMMPS exports, ``compot show``, the
design loop, the reference kernels) goes through :func:`lower_text`; the stages behind it are

    text --grammar.parse--> typed AST --lower--> LoweredModel (IR: parameters, bases, SymPy E_i)
         --derive--> Derived (forces, stress and Jacobian forms) --backends--> {filename: text}

Preset names (``paper``, ``accurate``; :mod:`.presets`) stand for their model texts.
"""

from __future__ import annotations

import warnings

from .ir import LoweredModel


def lower_text(text: str, cutoff: float | None = None, elements=None, quiet: bool = False) -> LoweredModel:
    """Parse and lower ``text`` (or a preset name).  ``cutoff``/``elements`` given here must
    agree with the text.  ``quiet``: suppress the lowering's warnings (given before)."""
    from ..grammar import parse
    from .lower import lower
    from .presets import resolve

    ast = parse(resolve(text))
    if not quiet:
        return lower(ast, cutoff=cutoff, elements=elements)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lower(ast, cutoff=cutoff, elements=elements)
