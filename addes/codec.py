"""Objects as JSON metadata plus arrays: a file format whose loading runs no code.

Used for the library's `ADDESEstimator.save` / `load` and for every artifact the harness caches
(bench.io adds atomic writes and the "rebuild what does not load" policy).

A pickle file names functions that loading calls, so anyone who can write into
a shared cache folder could run code under the account of the next run that reads it. Here an
object becomes a JSON tree whose arrays are stored beside it (`write` stores the pair as an
.npz file, or a .pt file for torch tensors) and comes back through plain constructors:

- None, bool, int, float, str                    as themselves
- tuple, list, dict (str keys)                   tagged JSON nodes
- numpy arrays, numpy scalars, torch tensors     references to the stored arrays
- dataclass instances                            their fields, by type name
- other objects (the scikit-learn random forest  what pickle would record (class, constructor
  of the MJSynth word graph, its trees)          arguments, state), as a tree like the above

Objects of the last two kinds are encoded and decoded only when their class is in the `types`
the caller names (the same tuple for saving and loading a cache): like torch's weights_only
loader, decoding calls no function but the constructors and __setstate__ of those classes.

Decoding a malformed tree raises (KeyError, TypeError, ValueError); the harness treats that as
an unreadable cache file and rebuilds it.
"""

from __future__ import annotations

import copyreg
import dataclasses
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch

FORMAT_VERSION = 1
Array = np.ndarray | torch.Tensor


def type_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def encode(obj: Any, types: Iterable[type] = ()) -> tuple[dict[str, Any], dict[str, Array]]:
    """(JSON-serialisable tree, {name: array}) of `obj`; a TypeError for what the list above
    does not hold, or a dataclass or other object whose class is not in `types`."""
    arrays: dict[str, Array] = {}
    allowed = set(types)

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
        if type(x) in (tuple, list):
            return {type(x).__name__: [walk(v) for v in x]}
        if type(x) is dict:
            if not all(isinstance(k, str) for k in x):
                raise TypeError("only dicts with str keys can be cached")
            return {"dict": {k: walk(v) for k, v in x.items()}}
        if type(x) not in allowed:
            raise TypeError(f"cannot cache an object of type {type_name(type(x))}")
        if dataclasses.is_dataclass(x):
            fields = {f.name: walk(getattr(x, f.name)) for f in dataclasses.fields(x) if f.init}
            return {"dataclass": type_name(type(x)), "fields": fields}
        func, args, state = x.__reduce_ex__(4)[:3]
        new = func is copyreg.__newobj__  # cls.__new__(cls, *args), else func is cls(*args)
        cls, args = (args[0], args[1:]) if new else (func, args)
        if cls is not type(x):
            raise TypeError(f"{type_name(type(x))} does not pickle as a plain object")
        return {"object": type_name(cls), "new": new, "args": walk(tuple(args)),
                "state": walk(state)}

    return {"version": FORMAT_VERSION, "tree": walk(obj)}, arrays


def decode(meta: dict[str, Any], arrays: dict[str, Array], types: Iterable[type] = ()) -> Any:
    """The object `encode` gave (meta, arrays) for. Only the classes in `types` are built."""
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
        if "object" in x:
            cls = allowed[x["object"]]
            args = walk(x["args"])
            obj = cls.__new__(cls, *args) if x["new"] is True else cls(*args)
            state = walk(x["state"])
            if state is not None and hasattr(obj, "__setstate__"):  # as pickle restores it
                obj.__setstate__(state)
            elif state is not None:
                obj.__dict__.update(state)
            return obj
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


def write(obj: Any, file: IO[bytes], types: Iterable[type] = (), torch_format: bool = False
          ) -> None:
    """`obj` (what `encode` holds, with the classes in `types`) into an open binary file: an
    .npz archive of its arrays and JSON tree, or with `torch_format` a torch.save file of its
    tensors and those .npz bytes (what a .pt path holds)."""
    meta, arrays = encode(obj, types)
    tree = np.frombuffer(json.dumps(meta).encode("utf-8"), np.uint8)
    tensors = {k: v for k, v in arrays.items() if isinstance(v, torch.Tensor)}
    numpy_arrays = {k: v for k, v in arrays.items() if k not in tensors}
    if not torch_format:
        if tensors:
            raise TypeError("torch tensors are stored in a .pt file")
        np.savez(file, meta=tree, **numpy_arrays)
        return
    buffer = io.BytesIO()
    np.savez(buffer, meta=tree, **numpy_arrays)
    npz = torch.frombuffer(bytearray(buffer.getvalue()), dtype=torch.uint8)
    torch.save({"npz": npz, "tensors": tensors}, file)


def atomic_write(path: Path, write: Callable[[IO[bytes]], Any]) -> None:
    """`write(f)` into a temporary file in `path`'s folder, flushed and renamed over `path`
    (atomic on POSIX): a reader never sees a half-written file; a failure leaves none."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save(obj: Any, path: Path, types: Iterable[type] = ()) -> None:
    """`obj` written atomically at `path` (.pt: the torch format, else .npz); see `write`."""
    atomic_write(path, lambda f: write(obj, f, types, torch_format=Path(path).suffix == ".pt"))


def read_parts(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(JSON tree, arrays) of a file `write` wrote (.pt or not by its suffix); raises for
    anything else. Nothing is unpickled but tensors and plain containers (torch's
    weights_only loader; numpy with allow_pickle=False)."""
    path = Path(path)
    if path.suffix == ".pt":
        payload = torch.load(path, map_location="cpu", weights_only=True)
        meta, arrays = _read_npz(io.BytesIO(payload["npz"].numpy().tobytes()))
        return meta, {**arrays, **payload["tensors"]}
    return _read_npz(path)


def read(path: Path, types: Iterable[type] = ()) -> Any:
    """The object `write` stored at `path`; only the classes in `types` are built."""
    return decode(*read_parts(path), types)


def _read_npz(file: Path | io.BytesIO) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    with np.load(file, allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}  # reads (and CRC-checks) every member
    return json.loads(arrays.pop("meta").tobytes().decode("utf-8")), arrays
