"""Atomic file writes: a reader never sees a half-written record, table or cached artifact.

Everything is written to a temporary file in the destination folder, flushed, and renamed
over the target (rename is atomic on POSIX within one file system; `addes.codec.atomic_write`,
which the library's save uses too). A process killed mid-write leaves at most a
`.<name>.*.tmp` file behind, never a torn target.

Cached artifacts (splits, corpora, images, generators, synthetic sets) are written with
`atomic_save` in formats whose loading runs no code (addes.codec): an .npz file read with
allow_pickle=False, or for torch tensors a .pt file read by torch's weights_only loader.
They are read back with `load_cached`: a file that does not load (truncated, garbage, a pickle
someone planted) or fails the caller's schema check is deleted and reported as absent, so the
caller rebuilds it instead of crashing or trusting it.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from addes import codec
from bench.errors import UserError

log = logging.getLogger("bench")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    codec.atomic_write(path, lambda f: f.write(data))


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=1, sort_keys=True, default=str) + "\n")


def atomic_save(obj: Any, path: Path, types: tuple[type, ...] = ()) -> None:
    """`obj` (what addes.codec encodes, with the classes in `types`) through a temporary
    file: an .npz file of its numpy arrays and JSON tree; for a path ending in .pt, a
    torch.save file of its tensors and those .npz bytes."""
    codec.save(obj, path, types)


def load_cached(path: Path, valid: Callable[[Any], bool] | None = None,
                types: tuple[type, ...] = ()) -> Any | None:
    """The object `atomic_save` wrote at `path`, or None when it is absent, unreadable or fails
    `valid` (then the file is removed so that it is rebuilt, never trusted). `types`: the
    classes the object may contain, as given to atomic_save (no others are built)."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        obj = codec.read(path, types)
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
