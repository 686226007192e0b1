"""Atomic file writes: a reader never sees a half-written record, table or cached artifact.

Everything is written to a temporary file in the destination folder, flushed, and renamed
over the target (rename is atomic on POSIX within one file system). A process killed mid-write
leaves at most a `.<name>.*.tmp` file behind, never a torn target.

Cached artifacts (splits, corpora, images, generators, synthetic sets) are written with
`atomic_save` in formats whose loading runs no code (bench.cache_codec): an .npz file read with
allow_pickle=False, or for torch tensors a .pt file read with torch.load(weights_only=True).
They are read back with `load_cached`: a file that does not load (truncated, garbage, a pickle
someone planted) or fails the caller's schema check is deleted and reported as absent, so the
caller rebuilds it instead of crashing or trusting it.
"""

from __future__ import annotations

import io
import json
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench import cache_codec
from bench.errors import UserError

log = logging.getLogger("bench")


def _atomic(path: Path, write) -> None:
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


def atomic_write_bytes(path: Path, data: bytes) -> None:
    _atomic(path, lambda f: f.write(data))


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=1, sort_keys=True, default=str) + "\n")


def atomic_save(obj: Any, path: Path, types: tuple[type, ...] = ()) -> None:
    """`obj` (what bench.cache_codec encodes, with the classes in `types`) through a temporary
    file: an .npz file of its numpy arrays and JSON tree; for a path ending in .pt, a
    torch.save file of its tensors and those .npz bytes."""
    meta, arrays = cache_codec.encode(obj, types)
    tree = np.frombuffer(json.dumps(meta).encode("utf-8"), np.uint8)
    tensors = {k: v for k, v in arrays.items() if isinstance(v, torch.Tensor)}
    numpy_arrays = {k: v for k, v in arrays.items() if k not in tensors}
    if Path(path).suffix != ".pt":
        if tensors:
            raise TypeError(f"{path}: torch tensors are cached in a .pt file")
        _atomic(path, lambda f: np.savez(f, meta=tree, **numpy_arrays))
        return
    buffer = io.BytesIO()
    np.savez(buffer, meta=tree, **numpy_arrays)
    npz = torch.frombuffer(bytearray(buffer.getvalue()), dtype=torch.uint8)
    _atomic(path, lambda f: torch.save({"npz": npz, "tensors": tensors}, f))


def _load_safely(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(JSON tree, arrays) of a file `atomic_save` wrote; raises for anything else. Nothing is
    unpickled but tensors and plain containers (torch's weights_only loader)."""
    if path.suffix == ".pt":
        payload = torch.load(path, map_location="cpu", weights_only=True)
        meta, arrays = _read_npz(io.BytesIO(payload["npz"].numpy().tobytes()))
        return meta, {**arrays, **payload["tensors"]}
    return _read_npz(path)


def _read_npz(file: Path | io.BytesIO) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    with np.load(file, allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}  # reads (and CRC-checks) every member
    return json.loads(arrays.pop("meta").tobytes().decode("utf-8")), arrays


def load_cached(path: Path, valid: Callable[[Any], bool] | None = None,
                types: tuple[type, ...] = ()) -> Any | None:
    """The object `atomic_save` wrote at `path`, or None when it is absent, unreadable or fails
    `valid` (then the file is removed so that it is rebuilt, never trusted). `types`: the
    classes the object may contain, as given to atomic_save (no others are built)."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        obj = cache_codec.decode(*_load_safely(path), types)
        ok = valid is None or bool(valid(obj))
    except Exception as err:  # noqa: BLE001 - any failure to load means "rebuild"
        ok, obj = False, f"{type(err).__name__}: {err}"[:200]
    if ok:
        return obj
    log.warning("cached %s is unreadable or malformed (%s); rebuilding it", path,
                obj if isinstance(obj, str) else "schema check failed")
    path.unlink(missing_ok=True)
    return None


def check_writable(folder: Path) -> None:
    """A UserError now, rather than an OSError after minutes of training."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise UserError(f"--out {folder}: not writable ({err.strerror})") from None
