"""Inter-process claims on jobs and artifacts, with POSIX advisory locks (fcntl.flock).

A lock dies with its process, so a run killed with SIGKILL never leaves a stale claim behind.
Used so that two runs on one results folder, or parallel workers needing the same generator,
do each piece of work once. On a filesystem whose locks fail (ENOLCK, e.g. an NFS mount
without a lock service) taking one is a UserError; one whose locks are only local to each
machine (NFS mounted with `nolock`) cannot be detected: there, machines may each do the same
work, and the atomic writes keep every file whole.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.errors import UserError


@contextmanager
def file_lock(path: Path, blocking: bool = True) -> Iterator[bool]:
    """Hold an exclusive lock on `path` (created if needed). Yields False, without waiting,
    when `blocking` is False and another process holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        except OSError as err:  # ENOLCK, EOPNOTSUPP: this filesystem cannot lock files
            raise UserError(f"{path}: cannot lock files there ({err.strerror}); the results "
                            f"folder (--out) must be on a filesystem with working POSIX "
                            f"locks") from None
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
