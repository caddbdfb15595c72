"""Trained models as small JSON documents, written atomically and checked when read."""

from __future__ import annotations

import json
import math
import os

from ..version import __version__
from ..errors import CompotError, ModelFileError
from .files import atomic_write_text

FORMAT = "compot-model"
FORMAT_VERSION = 1


def model_document(model) -> dict:
    if model.parameters is None:
        raise CompotError("the model has no parameters to save (train it first)")
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "compot_version": __version__,
        "model": model.text,
        "cutoff": model.cutoff,
        "elements": model.elements,
        "parameters": dict(model.parameters),
        "training": model.metadata,
    }


def write_json_atomic(doc: dict, path) -> None:
    atomic_write_text(path, json.dumps(doc, indent=1, allow_nan=True, default=_default) + "\n")


def _default(o):
    import numpy as np

    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.floating, np.integer, np.bool_)):
        return o.item()
    raise TypeError(f"cannot store {type(o).__name__} in a model file")


def save_model(model, path) -> None:
    write_json_atomic(model_document(model), path)


def read_model_document(path) -> dict:
    """The checked JSON document of a model file (its model is compiled by
    :func:`compot.runtime.compile.load_model`)."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such model file") from None
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read ({exc.strerror})") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{path}: not a valid model file (truncated or not JSON: {exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a compot model file")
    version = doc.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(f"{path}: model file format {version!r} is newer than this compot "
                             f"understands ({FORMAT_VERSION}); upgrade compot")
    for key in ("model", "cutoff", "parameters"):
        if key not in doc:
            raise ModelFileError(f"{path}: model file lacks {key!r}")
    if not isinstance(doc["parameters"], dict):
        raise ModelFileError(f"{path}: 'parameters' must be an object of name: value")
    return doc


def check_parameters(path, params: dict, names) -> None:
    """The parameters of a model file match the model's names and are finite numbers."""
    names = set(names)
    if set(params) != names:
        missing = sorted(names - set(params))
        extra = sorted(set(params) - names)
        raise ModelFileError(f"{path}: parameters do not match the model ({len(params)} given, "
                             f"{len(names)} expected; missing {missing[:3]}, unknown {extra[:3]})")
    for k, v in params.items():
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
            raise ModelFileError(f"{path}: parameter {k} = {v!r} is not a finite number")
