"""--scheduler: jobs run on a Dask distributed cluster (plain TCP, and TLS with certificates
made here) and give the records of a local run; the user errors of a cluster setup (address,
install, certificates, connection, filesystem locks)."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench import cluster as bench_cluster
from bench import runner
from bench.cli import main
from bench.errors import UserError
from bench.io import atomic_write_json
from bench.runner import Job, RunContext, job_key
from bench.scales import get_scale

ROOT = Path(__file__).resolve().parents[1]
GRID = ["--suite", "stackoverflow", "--scale", "smoke", "--experiments", "table2",
        "--methods", "text-CNN,TF-IDF+LR", "--seeds", "1", "--threads", "1"]
RUN = "stackoverflow-smoke"


def _run_all(out: Path, *extra: str, env: dict[str, str] | None = None
             ) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "run_all.py", *GRID, "--out", str(out), *extra],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)


def _metrics(out: Path) -> dict[str, dict[str, float]]:
    """{record key: metrics} of the JSON records of a run."""
    records = [json.loads(p.read_text()) for p in (out / RUN / "records").glob("*.json")]
    return {r["key"]: r["metrics"] for r in records}


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


@pytest.fixture(scope="module")
def local_cluster():
    distributed = pytest.importorskip("distributed")
    with (distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                   dashboard_address=None) as cluster,
          distributed.Client(cluster) as client):
        yield cluster, client


@pytest.fixture(scope="module")
def local_metrics(tmp_path_factory) -> dict[str, dict[str, float]]:
    """The metrics of the grid run locally, for the cluster runs to match."""
    out = tmp_path_factory.mktemp("local")
    local = _run_all(out, "--jobs", "1")
    assert local.returncode == 0, local.stderr[-3000:]
    expected = _metrics(out)
    assert len(expected) == 4 and all(set(m) == {"mAP", "AUC"} for m in expected.values())
    return expected


def _assert_same_run_on_workers(client, address: str, out: Path, expected, env=None) -> None:
    """run_all.py --scheduler `address` runs every job on the workers, with `expected` metrics."""
    # the worker processes must import the code under test, not another installed copy
    packages = client.run(lambda: __import__("bench").__file__)
    assert len(packages) == 2
    assert {Path(f).resolve().parents[1] for f in packages.values()} == {ROOT}
    before = sum(client.run(lambda dask_worker: dask_worker.state.executed_count).values())
    remote = _run_all(out, "--scheduler", address, env=env)
    assert remote.returncode == 0, remote.stderr[-3000:]
    executed = sum(client.run(lambda dask_worker: dask_worker.state.executed_count).values())
    assert _metrics(out) == expected
    assert executed - before == len(expected)  # every job ran on a worker, none here
    assert "Table 2" in (out / RUN / "report.md").read_text()


def test_cluster_run_gives_the_records_of_a_local_run(local_cluster, local_metrics, tmp_path):
    cluster, client = local_cluster
    _assert_same_run_on_workers(client, cluster.scheduler_address, tmp_path, local_metrics)


def _make_certificates(folder: Path, name: str) -> dict[str, Path]:
    """A self-signed CA and a certificate + key it signs for 127.0.0.1 (files in `folder`)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.now(UTC)

    def certificate(subject: str, key, issuer: str, signer, is_ca: bool):
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
                   .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - timedelta(minutes=5))
                   .not_valid_after(now + timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), True))
        if not is_ca:
            import ipaddress

            builder = builder.add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        return builder.sign(signer, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    files = {"ca": folder / f"{name}-ca.pem", "cert": folder / f"{name}-cert.pem",
             "key": folder / f"{name}-key.pem"}
    files["ca"].write_bytes(certificate(f"{name} CA", ca_key, f"{name} CA", ca_key, True)
                            .public_bytes(serialization.Encoding.PEM))
    files["cert"].write_bytes(certificate(name, key, f"{name} CA", ca_key, False)
                              .public_bytes(serialization.Encoding.PEM))
    files["key"].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    return files


def _tls_env(files: dict[str, Path]) -> dict[str, str]:
    """The environment that gives Dask's client these certificates (as a config file would)."""
    return {**os.environ, "DASK_DISTRIBUTED__COMM__TLS__CA_FILE": str(files["ca"]),
            "DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT": str(files["cert"]),
            "DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY": str(files["key"]),
            "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "5s"}


def _tls_security(files: dict[str, Path]):
    """Dask Security giving every role (scheduler, worker, client) the certificate in `files`."""
    from distributed import Security

    roles = {f"tls_{role}_{part}": str(files[part]) for role in ("client", "scheduler", "worker")
             for part in ("cert", "key")}
    return Security(tls_ca_file=str(files["ca"]), require_encryption=True, **roles)


def test_tls_connects_only_with_a_certificate_of_the_cluster_ca(tmp_path):
    """bench.cluster.connect takes its certificates from Dask's configuration; one signed by
    another CA gets a one-line "TLS failed" error."""
    dask = pytest.importorskip("dask")
    distributed = pytest.importorskip("distributed")
    pytest.importorskip("cryptography")
    files = _make_certificates(tmp_path, "cluster")
    with distributed.LocalCluster(n_workers=0, processes=False, dashboard_address=None,
                                  protocol="tls://", security=_tls_security(files)) as cluster:
        address = cluster.scheduler_address
        for name, ok in (("cluster", True), ("stranger", False)):
            own = files if ok else _make_certificates(tmp_path, name)
            settings = {bench_cluster.TLS_CA: str(own["ca"]),
                        bench_cluster.TLS_CERT: str(own["cert"]),
                        bench_cluster.TLS_KEY: str(own["key"])}
            with dask.config.set(settings):
                bench_cluster.check_scheduler(address)
                if ok:
                    with bench_cluster.connect(address) as client:
                        assert client.nthreads() == {}  # connected (a cluster of no workers)
                else:
                    with (pytest.raises(UserError, match=f"{address}: TLS failed"),
                          bench_cluster.connect(address)):
                        pass


@pytest.mark.slow
def test_tls_cluster_run_gives_the_records_of_a_local_run(local_metrics, tmp_path):
    """Scheduler, workers and client all on TLS with a CA made here; a client whose
    certificate another CA signed does not get in (one line, exit 2, nothing run)."""
    distributed = pytest.importorskip("distributed")
    pytest.importorskip("cryptography")
    files = _make_certificates(tmp_path, "cluster")
    security = _tls_security(files)
    with (distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                   dashboard_address=None, protocol="tls://",
                                   security=security) as cluster,
          distributed.Client(cluster, security=security) as client):
        address = cluster.scheduler_address
        assert address.startswith("tls://127.0.0.1:")
        _assert_same_run_on_workers(client, address, tmp_path / "tls", local_metrics,
                                    env=_tls_env(files))

        stranger = _tls_env(_make_certificates(tmp_path, "stranger"))
        refused = _run_all(tmp_path / "stranger", "--scheduler", address, env=stranger)
        assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr
        errors = _error_lines(refused.stderr)
        assert len(errors) == 1 and f"{address}: TLS failed" in errors[0], errors
        assert not (tmp_path / "stranger" / RUN / "records").exists()


def test_tls_without_certificates_is_a_one_line_error(tmp_path, capsys):
    dask = pytest.importorskip("dask")
    pytest.importorskip("distributed")
    unset = {name: None for name in (bench_cluster.TLS_CA, bench_cluster.TLS_CERT,
                                     bench_cluster.TLS_KEY)}
    cases = [(unset, "ca-file and distributed.comm.tls.client.cert not set"),
             ({**unset, bench_cluster.TLS_CA: str(tmp_path / "ca.pem")}, "client.cert not set"),
             ({**unset, bench_cluster.TLS_CA: str(tmp_path / "ca.pem"),
               bench_cluster.TLS_CERT: str(tmp_path / "cert.pem")}, "ca.pem: no such file")]
    for settings, needle in cases:
        with dask.config.set(settings):
            code = main([*GRID, "--out", str(tmp_path), "--scheduler", "tls://127.0.0.1:8786"])
        err = capsys.readouterr().err
        errors = _error_lines(err)
        assert code == 2 and "Traceback" not in err, err
        assert len(errors) == 1 and needle in errors[0], errors
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("address,warns", [("tcp://127.0.0.1:8786", False),
                                           ("tcp://localhost:8786", False),
                                           ("tcp://[::1]:8786", False),
                                           ("tcp://10.0.0.5:8786", True),
                                           ("tcp://scheduler.example.org:8786", True)])
def test_plain_tcp_to_another_machine_warns_on_stderr(address, warns, capsys):
    pytest.importorskip("distributed")
    bench_cluster.check_scheduler(address)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == warns
    assert all("plain TCP" in line and "Running on a shared cluster safely" in line
               for line in lines)


def test_unreachable_scheduler_names_the_address_and_exits_2(tmp_path):
    pytest.importorskip("distributed")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    env = {**os.environ, "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "1s"}
    t0 = time.perf_counter()
    proc = _run_all(tmp_path, "--scheduler", address, env=env)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    errors = _error_lines(proc.stderr)
    assert len(errors) == 1 and address in errors[0] and "1 s" in errors[0], errors
    assert not (tmp_path / RUN / "records").exists()
    assert time.perf_counter() - t0 < 60


@pytest.mark.parametrize("address", ["localhost:8786", "tcp://host", "tcp://host:port",
                                     "tcp://host:99999", "http://host:8786", "tcp://:8786",
                                     "tls://host:port"])
def test_malformed_address_is_a_user_error(address, tmp_path, capsys):
    assert main([*GRID, "--out", str(tmp_path), "--scheduler", address]) == 2
    errors = _error_lines(capsys.readouterr().err)
    assert len(errors) == 1 and "tls://HOST:PORT or tcp://HOST:PORT" in errors[0], errors


def test_missing_distributed_says_how_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    assert main([*GRID, "--out", str(tmp_path), "--scheduler", "tcp://127.0.0.1:8786"]) == 2
    errors = _error_lines(capsys.readouterr().err)
    assert len(errors) == 1 and "pip install -e .[cluster]" in errors[0], errors


def test_filesystem_without_locks_is_a_user_error(tmp_path, capsys, monkeypatch):
    from bench import locks

    def no_locks(fd: int, operation: int) -> None:
        if operation & fcntl.LOCK_EX:
            raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(locks.fcntl, "flock", no_locks)
    assert main([*GRID, "--jobs", "1", "--out", str(tmp_path)]) == 2
    errors = _error_lines(capsys.readouterr().err)
    assert len(errors) == 1 and "POSIX locks" in errors[0] and ".claims" in errors[0], errors


def test_record_a_worker_saved_elsewhere_is_a_user_error(tmp_path):
    ctx = RunContext("stackoverflow", get_scale("smoke"), tmp_path / "run", tmp_path / "cache")
    job = Job("stackoverflow-1", "text-CNN", 0)
    record = {"key": job_key(job, ctx), "status": "ok", "metrics": {"mAP": float("nan")},
              "timings": {"fit_s": 1.0}}
    with pytest.raises(UserError, match="--out .* not visible here"):  # on a worker's own disk
        runner._check_shared(job, record, ctx)
    atomic_write_json(runner.record_path(job, ctx), record)
    runner._check_shared(job, record, ctx)  # saved where this machine reads it (NaN and all)
    with pytest.raises(UserError):  # another record under this key: the worker's is not here
        runner._check_shared(job, {**record, "timings": {"fit_s": 2.0}}, ctx)
