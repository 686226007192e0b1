"""The connection to a Dask distributed cluster (`--scheduler tls://HOST:PORT` or tcp://).

Only the connection lives here; the runner sends jobs to the workers (`runner.run_jobs`).
`distributed` is an optional dependency (`pip install -e .[cluster]`), imported only when a
scheduler is named. How long to wait for the scheduler is Dask's own setting
`distributed.comm.timeouts.connect` (30 s unless changed, e.g. with the environment variable
DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT=5s).

A Dask scheduler runs whatever its clients submit, on every worker. Over tls:// only holders
of a certificate signed by the cluster's CA can connect; the certificates come from Dask's own
configuration (`distributed.comm.tls.ca-file`, `.client.cert`, `.client.key`: a Dask config
file or DASK_DISTRIBUTED__COMM__TLS__* variables), as `dask scheduler --tls-*` and `dask worker
--tls-*` take theirs. A plain tcp:// address other than a loopback one gets a warning.
"""

from __future__ import annotations

import ipaddress
import logging
import ssl
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from bench.errors import UserError

if TYPE_CHECKING:
    from distributed import Client

log = logging.getLogger("bench")

INSTALL_HINT = "install with pip install -e .[cluster]"


SAFETY_SECTION = "README: Running on a shared cluster safely"
# Dask's settings for a client's TLS: the CA that signed the cluster's certificates, and the
# client's certificate (its key in .key, or in the certificate file itself)
TLS_CA, TLS_CERT, TLS_KEY = ("distributed.comm.tls.ca-file", "distributed.comm.tls.client.cert",
                             "distributed.comm.tls.client.key")


def check_scheduler(address: str) -> None:
    """Raise a UserError unless `address` reads tls://HOST:PORT or tcp://HOST:PORT, distributed
    is installed, and a tls:// address has its certificates in Dask's configuration. Warn on
    stderr when a tcp:// address is not a loopback one (anyone reaching it runs code)."""
    try:
        parts = urlsplit(address)
        valid = (parts.scheme in ("tls", "tcp") and bool(parts.hostname)
                 and parts.port is not None and not (parts.path or parts.query or parts.fragment))
    except ValueError:  # a port that is not a number or out of range, a broken [IPv6] host
        valid = False
    if not valid:
        raise UserError(f"--scheduler {address!r}: expected tls://HOST:PORT or tcp://HOST:PORT, "
                        f"e.g. tls://10.0.0.5:8786 (what `dask scheduler` prints)")
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise UserError(f"--scheduler needs dask.distributed: {INSTALL_HINT}") from None
    if parts.scheme == "tls":
        _check_tls_config(address)
    elif not _is_loopback(parts.hostname):
        print(f"bench: warning: --scheduler {address} is plain TCP: anyone who can reach that "
              f"port can run code on every worker as its user; use tls:// ({SAFETY_SECTION})",
              file=sys.stderr)


def _is_loopback(host: str) -> bool:
    """Whether `host` is "localhost" or a loopback IP address (names are not resolved)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name
        return False


def _check_tls_config(address: str) -> None:
    """A UserError unless Dask's configuration names the CA and the client certificate, and
    every file it names exists (values holding PEM text itself are taken as they are)."""
    import dask

    settings = {name: dask.config.get(name, None) for name in (TLS_CA, TLS_CERT, TLS_KEY)}
    missing = [name for name in (TLS_CA, TLS_CERT) if not settings[name]]
    if missing:
        raise UserError(f"--scheduler {address}: TLS needs certificates in Dask's "
                        f"configuration, {' and '.join(missing)} not set (e.g. "
                        f"DASK_{_env_name(missing[0])}=/path/to/file; {SAFETY_SECTION})")
    for name, value in settings.items():
        if value and "\n" not in value and not Path(value).is_file():
            raise UserError(f"--scheduler {address}: {name} = {value}: no such file")


def _env_name(setting: str) -> str:
    """The environment variable Dask reads `setting` from, less its DASK_ prefix."""
    return setting.upper().replace(".", "__").replace("-", "_")


@contextmanager
def connect(address: str) -> Iterator[Client]:
    """A client of the scheduler at `address` (checked by `check_scheduler`), closed on exit;
    its TLS settings are Dask's configuration. A UserError when the TLS handshake fails or no
    scheduler answers within Dask's connect timeout."""
    import dask
    from dask.utils import parse_timedelta
    from distributed import Client

    timeout = parse_timedelta(dask.config.get("distributed.comm.timeouts.connect"), "s")
    try:
        client = Client(address, timeout=timeout, set_as_default=False)
    except OSError as err:
        tls_error = _ssl_error(err)
        if tls_error is not None:
            raise UserError(f"--scheduler {address}: TLS failed ({tls_error.reason or tls_error}"
                            f"): the scheduler's certificate must be signed by the CA in "
                            f"{TLS_CA}, and {TLS_CERT} by the CA the scheduler trusts") from None
        raise UserError(f"--scheduler {address}: no scheduler answered within {timeout:g} s "
                        f"(is `dask scheduler` running there and its port reachable?)") from None
    with client:
        workers = len(client.nthreads())
        log.info("scheduler %s: %d workers%s", address, workers,
                 "" if workers else " (the jobs wait until workers join)")
        yield client


def _ssl_error(err: BaseException) -> ssl.SSLError | None:
    """The ssl.SSLError behind `err` (Dask wraps a failed handshake), or None."""
    seen: BaseException | None = err
    while seen is not None and not isinstance(seen, ssl.SSLError):
        seen = seen.__cause__ or seen.__context__
    return seen
