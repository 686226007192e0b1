"""--scheduler: jobs run on a Dask distributed cluster and give the records of a local run;
the user errors of a cluster setup (address, install, connection, filesystem locks)."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

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


def test_cluster_run_gives_the_records_of_a_local_run(local_cluster, tmp_path):
    cluster, client = local_cluster
    # the worker processes must import the code under test, not another installed copy
    packages = client.run(lambda: __import__("bench").__file__)
    assert len(packages) == 2
    assert {Path(f).resolve().parents[1] for f in packages.values()} == {ROOT}

    remote = _run_all(tmp_path / "cluster", "--scheduler", cluster.scheduler_address)
    assert remote.returncode == 0, remote.stderr[-3000:]
    executed = client.run(lambda dask_worker: dask_worker.state.executed_count)
    local = _run_all(tmp_path / "local", "--jobs", "1")
    assert local.returncode == 0, local.stderr[-3000:]

    expected = _metrics(tmp_path / "local")
    assert len(expected) == 4 and all(set(m) == {"mAP", "AUC"} for m in expected.values())
    assert _metrics(tmp_path / "cluster") == expected
    assert sum(executed.values()) == len(expected)  # every job ran on a worker, none here
    assert "Table 2" in (tmp_path / "cluster" / RUN / "report.md").read_text()


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
                                     "tcp://host:99999", "http://host:8786", "tcp://:8786"])
def test_malformed_address_is_a_user_error(address, tmp_path, capsys):
    assert main([*GRID, "--out", str(tmp_path), "--scheduler", address]) == 2
    errors = _error_lines(capsys.readouterr().err)
    assert len(errors) == 1 and "tcp://HOST:PORT" in errors[0], errors


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
