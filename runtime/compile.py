"""``compot.compile``: model text -> compiled :class:`~compot.runtime.model.Model`."""

from __future__ import annotations

from ..compiler.codegen import pyx_source
from ..compiler.lower import lower
from ..grammar import parse
from .cache import kernel_key, load_kernel
from .model import Model


def compile_model(text: str, cutoff: float | None = None, elements=None) -> Model:
    """Parse, lower, derive and compile ``text`` (cached by content); return a :class:`Model`."""
    lowered = lower(parse(text), cutoff=cutoff, elements=elements)
    key = kernel_key(lowered.text, lowered.cutoff, lowered.elements)
    module, built = load_kernel(key, lambda: pyx_source(lowered))
    return Model(lowered, module, key, cache_hit=not built)
