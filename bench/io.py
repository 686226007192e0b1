"""Atomic file writes: a reader never sees a half-written record, table or cached artifact.

Everything is written to a temporary file in the destination folder, flushed, and renamed
over the target (rename is atomic on POSIX within one file system). A process killed mid-write
leaves at most a `.<name>.*.tmp` file behind, never a torn target.

Cached artifacts are read back with `load_cached`: a file that does not load (truncated,
garbage) or fails the caller's schema check is deleted and reported as absent, so the caller
rebuilds it instead of crashing or trusting it.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import joblib

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


def atomic_dump(obj: Any, path: Path) -> None:
    """joblib.dump through a temporary file (for cached splits, generators, synthetic sets)."""
    _atomic(path, lambda f: joblib.dump(obj, f))


def load_cached(path: Path, valid: Callable[[Any], bool] | None = None) -> Any | None:
    """The object joblib-dumped at `path`, or None when it is absent, unreadable or fails
    `valid` (then the file is removed so that it is rebuilt, never trusted)."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        obj = joblib.load(path)
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
