"""``compot.compile``: model text -> compiled :class:`~compot.runtime.model.Model`."""

from __future__ import annotations

import warnings

from .cache import kernel_key, load_cached_kernel, load_kernel, read_index, request_id, write_index
from .model import Model, model_meta


def compile_model(text: str, cutoff: float | None = None, elements=None) -> Model:
    """Parse, lower, derive and compile ``text`` (cached by content); return a :class:`Model`.

    A request seen before (same text, cutoff and elements, same compot sources) is answered from
    the cache's index without parsing: the model is lowered (SymPy) only when something needs
    its symbolic form."""
    rid = request_id(text, cutoff, elements)
    entry = read_index(rid) if rid else None
    if entry is not None:
        module = load_cached_kernel(entry["key"])
        if module is not None:
            for w in entry["warnings"]:
                warnings.warn(w, stacklevel=3)
            return Model(lambda: _lower(text, cutoff, elements, quiet=True), module, entry["key"],
                         cache_hit=True, meta=entry["meta"])
    from ..compiler.codegen import pyx_source

    lowered = _lower(text, cutoff, elements)
    key = kernel_key(lowered.text, lowered.cutoff, lowered.elements)
    module, built = load_kernel(key, lambda: pyx_source(lowered))
    if rid:
        write_index(rid, key, model_meta(lowered), lowered.warnings)
    return Model(lowered, module, key, cache_hit=not built)


def _lower(text, cutoff, elements, quiet: bool = False):
    """Parse and lower; ``quiet`` when the warnings were already given (index hit)."""
    from ..compiler.lower import lower
    from ..grammar import parse

    if not quiet:
        return lower(parse(text), cutoff=cutoff, elements=elements)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lower(parse(text), cutoff=cutoff, elements=elements)
