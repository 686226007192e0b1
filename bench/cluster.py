"""The connection to a Dask distributed cluster (`--scheduler tcp://HOST:PORT`).

Only the connection lives here; the runner sends jobs to the workers (`runner.run_jobs`).
`distributed` is an optional dependency (`pip install -e .[cluster]`), imported only when a
scheduler is named. How long to wait for the scheduler is Dask's own setting
`distributed.comm.timeouts.connect` (30 s unless changed, e.g. with the environment variable
DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT=5s).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from bench.errors import UserError

if TYPE_CHECKING:
    from distributed import Client

log = logging.getLogger("bench")

INSTALL_HINT = "install with pip install -e .[cluster]"


def check_scheduler(address: str) -> None:
    """Raise a UserError unless `address` reads tcp://HOST:PORT and distributed is installed."""
    try:
        parts = urlsplit(address)
        valid = (parts.scheme == "tcp" and bool(parts.hostname) and parts.port is not None
                 and not (parts.path or parts.query or parts.fragment))
    except ValueError:  # a port that is not a number or out of range, a broken [IPv6] host
        valid = False
    if not valid:
        raise UserError(f"--scheduler {address!r}: expected tcp://HOST:PORT, "
                        f"e.g. tcp://10.0.0.5:8786 (what `dask scheduler` prints)")
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise UserError(f"--scheduler needs dask.distributed: {INSTALL_HINT}") from None


@contextmanager
def connect(address: str) -> Iterator[Client]:
    """A client of the scheduler at `address` (checked by `check_scheduler`), closed on exit.
    A UserError when no scheduler answers within Dask's connect timeout."""
    import dask
    from dask.utils import parse_timedelta
    from distributed import Client

    timeout = parse_timedelta(dask.config.get("distributed.comm.timeouts.connect"), "s")
    try:
        client = Client(address, timeout=timeout, set_as_default=False)
    except OSError:
        raise UserError(f"--scheduler {address}: no scheduler answered within {timeout:g} s "
                        f"(is `dask scheduler` running there and its port reachable?)") from None
    with client:
        workers = len(client.nthreads())
        log.info("scheduler %s: %d workers%s", address, workers,
                 "" if workers else " (the jobs wait until workers join)")
        yield client
