"""Cached objects as JSON metadata plus arrays: a file format whose loading runs no code.

A pickle (what joblib writes) names functions that loading calls, so anyone who can write into
a shared cache folder could run code under the account of the next run that reads it. Here an
object becomes a JSON tree whose arrays are stored beside it (bench.io writes the pair as an
.npz file, or a .pt file for torch tensors) and comes back through plain constructors:

- None, bool, int, float, str                    as themselves
- tuple, list, dict (str keys)                   tagged JSON nodes
- numpy arrays, numpy scalars, torch tensors     references to the stored arrays
- dataclass instances                            their fields, by type name; decoding builds
                                                 only the dataclass types its caller allows

Decoding a malformed tree raises (KeyError, TypeError, ValueError); callers treat that as an
unreadable cache file and rebuild it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch

FORMAT_VERSION = 1
Array = np.ndarray | torch.Tensor


def type_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def encode(obj: Any) -> tuple[dict[str, Any], dict[str, Array]]:
    """(JSON-serialisable tree, {name: array}) of `obj`; TypeError for anything else."""
    arrays: dict[str, Array] = {}

    def array_ref(tag: str, value: Array) -> dict[str, str]:
        name = f"a{len(arrays)}"
        arrays[name] = value
        return {tag: name}

    def walk(x: Any) -> Any:
        if isinstance(x, np.generic):  # before float: np.float64 is one, but promotes unlike it
            return array_ref("npscalar", np.asarray(x))
        if x is None or isinstance(x, bool | int | float | str):
            return x
        if isinstance(x, np.ndarray):
            if x.dtype.hasobject:
                raise TypeError("arrays of Python objects cannot be cached without pickle")
            return array_ref("ndarray", x)
        if isinstance(x, torch.Tensor):
            return array_ref("tensor", x.detach().cpu())
        if isinstance(x, tuple | list):
            return {type(x).__name__: [walk(v) for v in x]}
        if isinstance(x, dict):
            if not all(isinstance(k, str) for k in x):
                raise TypeError("only dicts with str keys can be cached")
            return {"dict": {k: walk(v) for k, v in x.items()}}
        if dataclasses.is_dataclass(x) and not isinstance(x, type):
            fields = {f.name: walk(getattr(x, f.name)) for f in dataclasses.fields(x) if f.init}
            return {"dataclass": type_name(type(x)), "fields": fields}
        raise TypeError(f"cannot cache an object of type {type(x).__name__}")

    return {"version": FORMAT_VERSION, "tree": walk(obj)}, arrays


def decode(meta: dict[str, Any], arrays: dict[str, Array], types: Iterable[type] = ()) -> Any:
    """The object `encode` gave (meta, arrays) for. Only the dataclasses in `types` are built."""
    if meta.get("version") != FORMAT_VERSION:
        raise ValueError(f"cache format version {meta.get('version')!r}, not {FORMAT_VERSION}")
    allowed = {type_name(cls): cls for cls in types}

    def array(name: str) -> Array:
        value = arrays[name]
        if not isinstance(value, np.ndarray | torch.Tensor):
            raise TypeError(f"stored array {name} is a {type(value).__name__}")
        return value

    def as_numpy(name: str) -> np.ndarray:
        value = array(name)
        return value.numpy() if isinstance(value, torch.Tensor) else value

    def walk(x: Any) -> Any:
        if x is None or isinstance(x, bool | int | float | str):
            return x
        if not isinstance(x, dict):
            raise TypeError(f"malformed cache tree node {type(x).__name__}")
        if "dataclass" in x:
            cls = allowed[x["dataclass"]]  # KeyError: a type this cache does not hold
            names = {f.name for f in dataclasses.fields(cls) if f.init}
            if set(x["fields"]) != names:
                raise ValueError(f"fields of {x['dataclass']} do not match")
            return cls(**{k: walk(v) for k, v in x["fields"].items()})
        ((tag, value),) = x.items()
        if tag == "ndarray":
            return as_numpy(value)
        if tag == "npscalar":
            return as_numpy(value)[()]
        if tag == "tensor":
            stored = array(value)
            return stored if isinstance(stored, torch.Tensor) else torch.from_numpy(stored)
        if tag in ("tuple", "list"):
            items = [walk(v) for v in value]
            return tuple(items) if tag == "tuple" else items
        if tag == "dict":
            return {k: walk(v) for k, v in value.items()}
        raise ValueError(f"unknown cache tree tag {tag!r}")

    return walk(meta["tree"])
