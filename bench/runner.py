"""Runs jobs and keeps their records: one JSON file per job, keyed by the hash of its config.

A job is (dataset, method, seed, params) at a scale on a data source. Its record is written
atomically to `<run_dir>/records/<key>.json` when it finishes, so a rerun skips every finished
job and an interrupted run loses at most the jobs in flight. A job whose training fails (NaN
loss, divergence, any exception that is not a user error) is recorded as failed with its
reason; the run goes on.

Jobs run in this process, in joblib worker processes, or on the workers of a Dask distributed
cluster (`client`). Every worker runs the same `_run_and_save`, so on a cluster the run folder
and the cache must be on a filesystem that every worker and this machine share; the records
come back to this process, which writes the reports.

This module is also where the data a method sees is decided (`training_data`): D_e, D_e + D_s,
D_u for methods that use it, and the validation part with Eq. 19 targets. Methods never get
the split itself.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import subprocess
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from joblib import Parallel, delayed
from tqdm import tqdm

from addes.data import Inputs
from baselines.training import TrainConfig
from bench import kernels
from bench.data.spec import DataSpec
from bench.data.splits import (
    DEFAULT_RELATIONS,
    Split,
    file_stamp,
    graph_from_words,
    load_split,
    modality_of,
    register_spec,
)
from bench.data.stamps import content_stamps
from bench.errors import UserError
from bench.io import atomic_write_json
from bench.locks import file_lock
from bench.methods import MethodContext, MethodSpec, all_methods, get_method
from bench.metrics import evaluate
from bench.plugins import load_plugins, source_digest
from bench.scales import Scale
from bench.tuning import tune_allocator

if TYPE_CHECKING:
    from distributed import Client

log = logging.getLogger("bench")


@dataclass(frozen=True)
class Job:
    dataset: str
    method: str
    seed: int
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def param_dict(self) -> dict[str, Any]:
        return dict(self.params)

    def label(self) -> str:
        extra = ",".join(f"{k}={v}" for k, v in self.params)
        return f"{self.dataset} {self.method} seed={self.seed}" + (f" [{extra}]" if extra else "")


@dataclass(frozen=True)
class RunContext:
    """Everything about a run that is the same for all its jobs."""

    suite: str
    scale: Scale
    run_dir: Path
    cache_dir: Path
    data_dir: Path | None = None
    relations: Path = DEFAULT_RELATIONS
    device: str = "cpu"
    dtype: str = "fp32"  # "bf16": autocast (part of every job's key; fp32 keys are unchanged)
    threads: int = 1
    word_list: Path | None = None  # the MJSynth suite's word corpus (None: the default)
    dataset_spec: DataSpec | None = None  # run_all.py --dataset: the user's dataset
    plugins: tuple[str, ...] = ()  # --plugin files (absolute) / modules every worker imports
    source_id: str = field(init=False)

    def __post_init__(self):
        spec = self.dataset_spec  # a file spec is its fingerprint, a reader its data folder
        object.__setattr__(self, "source_id", f"spec:{spec.fingerprint()}"
                           if spec and spec.reader is None else _source_id(self.data_dir))

    @property
    def records_dir(self) -> Path:
        return self.run_dir / "records"

    def absolute(self) -> RunContext:
        """The same context with absolute paths: what a worker with another cwd needs. Job
        keys do not change (they use resolved paths and file contents)."""
        return replace(self, run_dir=self.run_dir.resolve(), cache_dir=self.cache_dir.resolve(),
                       relations=Path(self.relations).resolve(),
                       data_dir=self.data_dir and self.data_dir.resolve(),
                       word_list=self.word_list and self.word_list.resolve())


def _source_id(data_dir: Path | None) -> str:
    if data_dir is None:
        return "synthetic stand-in"
    return "data|" + content_stamps(sorted(p for p in data_dir.iterdir() if p.is_file()))


def job_config(job: Job, ctx: RunContext) -> dict[str, Any]:
    """What determines a job's result; its hash is the job's key. A text job's config has
    exactly the fields it had before the image suite (the scale's image fields are left out),
    so text records stay valid; an MJSynth job adds its word list and drops the relations file
    (its graph is built from the words; an image spec of files keeps the relations file, as a
    text one does); a method whose recipe was revised adds its registry revision; a plugin's
    method adds the hash of its source."""
    load_plugins(ctx.plugins)  # a worker process has not imported them yet
    modality = modality_of(job.dataset)
    config = {
        "dataset": job.dataset, "method": job.method, "seed": job.seed,
        "params": job.param_dict, "scale": ctx.scale.identity(modality), "source": ctx.source_id,
    }
    if ctx.dtype != "fp32":  # a precision change is a different experiment
        config["dtype"] = ctx.dtype
    if graph_from_words(job.dataset):
        config["word_list"] = file_stamp(ctx.word_list)
    else:
        config["relations"] = hashlib.sha1(Path(ctx.relations).read_bytes()).hexdigest()
    spec = all_methods().get(job.method)
    if spec and spec.revision > 1:  # the method's recipe changed: its old records are stale
        config["revision"] = spec.revision
    digest = spec and source_digest(spec.origin)
    if digest:  # a plugin's method: editing the plugin makes new jobs (built-ins: unchanged)
        config["plugin"] = digest
    return config


def job_key(job: Job, ctx: RunContext) -> str:
    blob = json.dumps(job_config(job, ctx), sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:20]


# ---------------------------------------------------------------------------------------------
# what a method sees


def with_estimated_targets(split: Split, y_s: np.ndarray, mode: str = "hard") -> np.ndarray:
    """[y_s | Eq. 19 estimate of y_t]: labels over W, S first (how D_e and validation look).
    `mode`: the job parameter target_estimate ("hard" 0/1, "soft" probabilities, or
    "prevalence"; the last two for the MJSynth forest only, Split.estimated_targets)."""
    return np.concatenate([y_s, split.estimated_targets(y_s, mode)], axis=1).astype(np.float32)


def target_estimate(params: Mapping[str, Any]) -> str:
    """How a job turns p(y_t | y_s) into D_e's targets: its target_estimate. Without the
    parameter "hard", the paper's 0/1 estimate: text jobs (Eq. 19); every MJSynth job names
    its estimate (experiments.resolve_params: the scale's, "soft" by default)."""
    return str(params.get("target_estimate", "hard"))


def training_data(split: Split, spec: MethodSpec, params: Mapping[str, Any], seed: int,
                  ctx: RunContext) -> tuple[Inputs, np.ndarray]:
    """The training set a method's spec names: D_e, or D_e plus |D_s| synthetic examples.
    D_e's target labels follow the job's target_estimate; D_s keeps its generator's labels."""
    x, y = split.labeled, with_estimated_targets(split, split.y_s, target_estimate(params))
    if spec.training_set == "D_e+D_s" and params.get("n_synthetic", 0) > 0:
        from bench import artifacts  # ADDES is imported only by jobs that need it

        x_syn, y_syn = artifacts.synthetic_training_set(
            split, seed=seed, params=params, scale=ctx.scale, cache_dir=ctx.cache_dir,
            device=ctx.device, dtype=ctx.dtype)
        x, y = x.concat(x_syn), np.concatenate([y, y_syn.astype(np.float32)])
    return x, y


# ---------------------------------------------------------------------------------------------
# one job


def fit_method(split: Split, spec: MethodSpec, params: Mapping[str, Any], seed: int,
               ctx: RunContext, timings: dict[str, float] | None = None) -> tuple[Any, int]:
    """Build and fit a method as a job does: its training set, D_u when it uses it, the
    validation part with Eq. 19 targets. Returns the fitted estimator and |training set|;
    `timings` (when given) receives data_s (incl. any ADDES generator) and fit_s."""
    timings = {} if timings is None else timings
    t0 = time.perf_counter()
    x, y = training_data(split, spec, params, seed, ctx)
    timings["data_s"] = time.perf_counter() - t0
    estimator = spec.build(MethodContext(ctx.scale, seed, split.modality,
                                         len(split.labeled.vocab or ()),
                                         _train_config(ctx, split.modality), params,
                                         ctx.word_list))
    val = (split.val, with_estimated_targets(split, split.val_y_s, target_estimate(params)))
    t0 = time.perf_counter()
    torch.manual_seed(seed)
    estimator.fit(x, y, graph=split.graph,
                  unlabeled=split.unlabeled if spec.uses_unlabeled else None, val=val)
    timings["fit_s"] = time.perf_counter() - t0
    return estimator, len(x)


def limit_threads(n: int) -> None:
    """`n` threads for torch and for every BLAS / OpenMP pool numpy and scipy loaded (their
    OpenBLAS starts one thread per core): workers x threads stay within the cores, and a
    randomized SVD (Zero-shot's `nodes="semantic"` class embeddings) sums alike on machines
    with other core counts (1 vs 2 OpenBLAS threads gave other bits)."""
    import scipy.linalg  # noqa: F401  (loads scipy's own OpenBLAS, so that it is limited too)
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(n)
    threadpool_limits(n)


def run_job(job: Job, ctx: RunContext, split: Split | None = None) -> dict[str, Any]:
    """Train and evaluate one job; returns its record (also on failure). Writes nothing."""
    tune_allocator()
    limit_threads(ctx.threads)
    load_plugins(ctx.plugins)  # a worker process has not imported them yet
    spec = get_method(job.method)
    params = job.param_dict
    if ctx.dataset_spec is not None:  # a worker process learns the user's dataset here
        register_spec(ctx.dataset_spec)
    if split is None:
        split = load_split(job.dataset, ctx.scale, ctx.data_dir, ctx.cache_dir, ctx.relations,
                           n_labeled=params.get("n_labeled"), word_list=ctx.word_list)
    record: dict[str, Any] = {
        "key": job_key(job, ctx), "dataset": job.dataset, "method": job.method,
        "seed": job.seed, "params": params, "scale": ctx.scale.name, "source": split.source,
        "sizes": split.sizes, "env": environment(ctx),
    }
    timings: dict[str, float] = {}
    try:
        estimator, n_train = fit_method(split, spec, params, job.seed, ctx, timings)
        t0 = time.perf_counter()
        scores = estimator.predict_proba(split.test)
        timings["predict_s"] = time.perf_counter() - t0
        record["metrics"] = evaluate(split.test_y_t, scores, split.targets)
        record["sizes"]["n_train"] = n_train
        record["status"], record["error"] = "ok", ""
    except UserError:
        raise
    except Exception as err:  # recorded, not fatal: the suite goes on
        record["status"], record["error"] = "failed", f"{type(err).__name__}: {err}"[:500]
        record["metrics"] = {}
    record["timings"] = timings
    return record


def _train_config(ctx: RunContext, modality: str = "text") -> TrainConfig:
    s = ctx.scale
    image = modality == "image"
    return TrainConfig(batch_size=s.batch_size,
                       max_epochs=s.image_max_epochs if image else s.max_epochs,
                       patience=s.image_patience if image else s.patience,
                       device=ctx.device, dtype=ctx.dtype)


@cache
def _git_state() -> tuple[str, bool]:
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                                text=True, timeout=10).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                cwd=root, capture_output=True, text=True, timeout=10)
        dirty = bool(status.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        return "unknown", False
    return commit or "unknown", dirty


def environment(ctx: RunContext) -> dict[str, Any]:
    """What is needed to interpret a difference between two records."""
    commit, dirty = _git_state()
    return {"git_commit": commit, "git_dirty": dirty, "torch": torch.__version__,
            "numpy": np.__version__, "python": platform.python_version(),
            "device": ctx.device, "threads": ctx.threads, "dtype": ctx.dtype,
            "machine": platform.machine(), **kernels.record_settings()}


# ---------------------------------------------------------------------------------------------
# many jobs


def record_path(job: Job, ctx: RunContext) -> Path:
    return ctx.records_dir / f"{job_key(job, ctx)}.json"


def load_record(path: Path) -> dict[str, Any] | None:
    """A finished record, or None when absent or unreadable (a torn file is redone)."""
    try:
        record = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not (isinstance(record, dict) and record.get("status") in ("ok", "failed")
            and isinstance(record.get("metrics"), dict) and isinstance(record.get("timings"), dict)
            and record.get("key") == path.stem):
        return None
    return record


def _run_and_save(job: Job, ctx: RunContext, retry_failed: bool = False,
                  blocking: bool = True) -> dict[str, Any] | None:
    """Claim the job, run it unless a record appeared meanwhile, save the record atomically.

    Returns None when `blocking` is False and another process holds the claim."""
    path = record_path(job, ctx)
    with file_lock(path.parent / ".claims" / f"{path.stem}.lock", blocking=blocking) as claimed:
        if not claimed:
            return None
        record = load_record(path)
        if record is None or (retry_failed and record["status"] == "failed"):
            record = run_job(job, ctx)
            atomic_write_json(path, record)
        return record


Outcome = tuple[Job, dict[str, Any] | None]  # a job and its record (None: claimed elsewhere)


def run_jobs(jobs: Iterable[Job], ctx: RunContext, n_workers: int = 1,
             retry_failed: bool = False, client: Client | None = None) -> dict[Job, dict[str, Any]]:
    """Run every job without a record; return all records. Finished jobs are never recomputed.

    With a Dask `client` the jobs run on its cluster's workers and `n_workers` is ignored."""
    unique = list(dict.fromkeys(jobs))
    records: dict[Job, dict[str, Any]] = {}
    pending = []
    for job in unique:
        record = load_record(record_path(job, ctx))
        if record is not None and not (retry_failed and record["status"] == "failed"):
            records[job] = record
        else:
            pending.append(job)
    if not pending:
        return records
    log.info("%d of %d jobs to run (%d already done)", len(pending), len(unique),
             len(unique) - len(pending))
    bar = tqdm(total=len(pending), desc=f"{ctx.suite}-{ctx.scale.name}", unit="job",
               disable=None)

    def execute(batch: list[Job], blocking: bool) -> Iterator[Outcome]:
        if client is not None:
            return _run_on_cluster(client, batch, ctx, retry_failed, blocking)
        return _run_locally(batch, ctx, retry_failed, blocking, n_workers)

    busy = []  # claimed by another run on the same folder: waited for at the end
    for job, record in execute(pending, blocking=False):
        if record is None:
            busy.append(job)
        else:
            records[job] = record
            _report(bar, job, record)
    for job, record in execute(busy, blocking=True):
        records[job] = record
        _report(bar, job, record)
    bar.close()
    return records


def _run_locally(jobs: list[Job], ctx: RunContext, retry_failed: bool, blocking: bool,
                 n_workers: int) -> Iterator[Outcome]:
    """In this process (n_workers <= 1) or in joblib worker processes; in submission order."""
    if n_workers <= 1 or not jobs:
        return ((job, _run_and_save(job, ctx, retry_failed, blocking)) for job in jobs)
    results = Parallel(n_jobs=n_workers, return_as="generator")(
        delayed(_run_and_save)(job, ctx, retry_failed, blocking) for job in jobs)
    return zip(jobs, results, strict=True)


def _run_on_cluster(client: Client, jobs: list[Job], ctx: RunContext, retry_failed: bool,
                    blocking: bool) -> Iterator[Outcome]:
    """On the workers of a Dask cluster; in completion order. A worker's exception (a
    UserError included) is raised here."""
    from distributed import as_completed

    shared = ctx.absolute()
    futures = {client.submit(_run_and_save, job, shared, retry_failed, blocking, pure=False): job
               for job in jobs}
    for future in as_completed(futures, loop=client.loop):
        job, record = futures.pop(future), future.result()  # pop: the worker may drop it
        if record is not None:
            _check_shared(job, record, ctx)
        yield job, record


def _check_shared(job: Job, record: dict[str, Any], ctx: RunContext) -> None:
    """The record a worker saved must be the one this machine reads back: else the workers
    write to a disk of their own (or compute other keys: other code, other files)."""
    def as_saved(rec: dict[str, Any] | None) -> str:  # NaN-safe comparison of two records
        return json.dumps(rec, sort_keys=True, default=str)

    if as_saved(load_record(record_path(job, ctx))) != as_saved(record):
        raise UserError(f"--out {ctx.run_dir.parent}: a record saved by a cluster worker is not "
                        f"visible here ({job.label()}); --out must be on a filesystem that "
                        f"this machine and every worker share, and the workers must run the "
                        f"same code")


def _report(bar: tqdm, job: Job, record: dict[str, Any]) -> None:
    status = "ok" if record["status"] == "ok" else f"FAILED ({record['error']})"
    metrics = " ".join(f"{k}={v:.3f}" for k, v in record["metrics"].items())
    bar.write(f"  {job.label()}: {status} {metrics} [{sum(record['timings'].values()):.1f}s]")
    bar.update()


def threads_per_worker(n_workers: int) -> int:
    """Threads per worker (torch and BLAS) so that workers x threads <= cores."""
    return max(1, (os.cpu_count() or 1) // max(1, n_workers))
