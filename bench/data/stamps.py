"""Content stamps of data files: what split, corpus and job keys say about the data they read.

A stamp is a file's name, size and a digest of its bytes; not its absolute path or its mtime.
The same data copied to another folder, or re-created with identical bytes, keeps every
cached split and every record valid (keys from mtimes went stale whenever the data was
copied anew); an edit of the file, of the same size or not, changes the stamp.

Digests are memoised per process by (path, size, mtime, inode): a 2 GB StackSample is read
once per process, and a file changed in place since is read again.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable
from pathlib import Path


def content_stamp(path: Path) -> str:
    """`name:size:digest` of a file, or `name:missing` when it cannot be read (the data
    reader then says so in its own words)."""
    path = Path(path)
    try:
        st = path.stat()
        digest = _digest(str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ino)
    except OSError:
        return f"{path.name}:missing"
    return f"{path.name}:{st.st_size}:{digest}"


def content_stamps(paths: Iterable[Path]) -> str:
    """The stamps of several files, joined in the order given."""
    return "|".join(content_stamp(p) for p in paths)


@functools.cache
def _digest(path: str, size: int, mtime_ns: int, inode: int) -> str:
    """BLAKE2b of the file's bytes (16 hex digits); the other arguments key the memo."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "blake2b").hexdigest()[:16]
