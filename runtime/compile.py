"""``compot.compile`` and ``compot.load``: model text (or a model file) -> compiled
:class:`~compot.runtime.model.Model`.

The compiler (``compot.compiler.pipeline.lower_text`` and the Cython backend) gives the kernel
source; the cache (:mod:`.cache`) builds and loads it."""

from __future__ import annotations

import os
import warnings

from .cache import kernel_key, load_cached_kernel, load_kernel, read_index, request_id, write_index
from ..errors import CompotError, ModelFileError
from .model import Model, model_meta
from .modelfile import check_parameters, read_model_document


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
    from ..compiler.backends.cython import pyx_source

    lowered = _lower(text, cutoff, elements)
    key = kernel_key(lowered.text, lowered.cutoff, lowered.elements)
    module, built = load_kernel(key, lambda: pyx_source(lowered))
    if rid:
        write_index(rid, key, model_meta(lowered), lowered.warnings)
    return Model(lowered, module, key, cache_hit=not built)


def _lower(text, cutoff, elements, quiet: bool = False):
    from ..compiler.pipeline import lower_text

    return lower_text(text, cutoff, elements, quiet=quiet)


def load_model(path) -> Model:
    """Read a model file, compile its model (cached) and return the trained Model."""
    path = os.fspath(path)
    return model_from_document(read_model_document(path), path)


def model_from_document(doc: dict, where: str = "model") -> Model:
    """The trained Model of a model document already read and checked (read_model_document),
    e.g. one sent to a Dask worker; errors name ``where``."""
    try:
        model = compile_model(doc["model"], cutoff=doc["cutoff"], elements=doc.get("elements"))
    except CompotError as exc:
        raise ModelFileError(f"{where}: {exc}") from None
    check_parameters(where, doc["parameters"], model.parameter_names)
    return model.with_parameters(doc["parameters"], doc.get("training") or {})
