"""A `FitMemory` snapshot as JSON and numpy arrays, and back, without pickle.

`encode` turns a tree of numpy arrays, strings, numbers, tuples, lists, dicts and the readings' fit
records (`FIT_TYPES`, nothing else) into a JSON-able tree whose arrays are replaced by references to
`arrays`; `decode` rebuilds it. Arrays keep their dtype, so a restored fit answers bit for bit as the
one it was saved from. An unknown record type in a file is an error, never an import.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any

import numpy as np

# The records a fit file may hold: name -> "module:Class" (looked up only when named here).
FIT_TYPES = {
    "Anchors": "smolgepa.lm.readings.knn:Anchors",
    "TopLogprobs": "smolgepa.lm.readings.knn:TopLogprobs",
    "StateRows": "smolgepa.lm.readings.hidden:StateRows",
    "StandardizedFit": "smolgepa.lm.readings.linear:StandardizedFit",
    "Probe": "smolgepa.lm.readings.probe:Probe",
    "FiguresReadout": "smolgepa.lm.readings.hidden_figures:FiguresReadout",
    "FoldedFit": "smolgepa.lm.readings.linear:FoldedFit",
    # names fits saved before 2026-12-06 use for what is now StandardizedFit (read, never written)
    "StateProbe": "smolgepa.lm.readings.linear:StandardizedFit",
    "StackedReadout": "smolgepa.lm.readings.linear:StandardizedFit",
}


class FitFormatError(ValueError):
    """A fit file's contents are not what `encode` writes."""


def encode(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    """`value` as a JSON-able tree; its arrays go into `arrays` (named `a0`, `a1`, ...)."""
    if isinstance(value, np.ndarray):
        name = f"a{len(arrays)}"
        arrays[name] = value
        return {"$array": name}
    if isinstance(value, (bool, str, int, float)) or value is None:
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return {"$tuple": [encode(item, arrays) for item in value]}
    if isinstance(value, list):
        return [encode(item, arrays) for item in value]
    if isinstance(value, dict):
        return {"$items": [[encode(k, arrays), encode(v, arrays)] for k, v in value.items()]}
    name = type(value).__name__
    if FIT_TYPES.get(name) != f"{type(value).__module__}:{type(value).__qualname__}":
        raise TypeError(f"{type(value).__qualname__} is not a fit record (fit_codec.FIT_TYPES)")
    return {"$type": name, "fields": {k: encode(v, arrays) for k, v in _fields(value).items()}}


def decode(tree: Any, arrays: Any) -> Any:
    """The value `encode` made `tree` from; `arrays` maps the array names to arrays."""
    if isinstance(tree, list):
        return [decode(item, arrays) for item in tree]
    if not isinstance(tree, dict):
        return tree
    if "$array" in tree:
        return np.asarray(arrays[tree["$array"]])
    if "$tuple" in tree:
        return tuple(decode(item, arrays) for item in tree["$tuple"])
    if "$items" in tree:
        return {_hashable(decode(k, arrays)): decode(v, arrays) for k, v in tree["$items"]}
    if "$type" in tree:
        cls = _fit_type(tree["$type"])
        record = object.__new__(cls)
        record.__dict__.update({k: decode(v, arrays) for k, v in tree["fields"].items()})
        return record
    raise FitFormatError(f"unexpected object in a fit file: keys {sorted(tree)[:4]}")


def _fields(value: Any) -> dict[str, Any]:
    """A record's state: a dataclass's fields (not its cached properties), else its attributes."""
    if dataclasses.is_dataclass(value):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    return dict(vars(value))


def _fit_type(name: str) -> type:
    where = FIT_TYPES.get(name)
    if where is None:
        raise FitFormatError(f"unknown record type {name!r} in a fit file")
    module, _, qualname = where.partition(":")
    return getattr(importlib.import_module(module), qualname)


def _hashable(key: Any) -> Any:
    return tuple(_hashable(k) for k in key) if isinstance(key, (list, tuple)) else key
