"""`run_all.py --dry-run`: the job grid of a run, what each job and each shared artifact will
cost (bench/costs.py), and the totals. Trains nothing and writes nothing: it reads the run
folder's records (finished jobs count as done, cost 0, and calibrate the estimate) and the
cost data file.

Jobs are those `run_all.py` would run, deduplicated as the runner does (a job shared by two
experiments is listed once, under the first). One-off costs are the ADDES generators (one per
`costs.GeneratorId`: dataset, |D_l|, seed, variant, alpha, beta) and their D_s sets (one per
generator and label sampling), each charged once, for pending jobs only (the cache is not
consulted: a generator already cached by an earlier run is still charged). The wall time
simulates the runner: jobs start in order on the first free worker; the first job that needs
a generator trains it and generates its D_s while later jobs that need them wait, as the file
locks of bench/artifacts.py make them.
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from pathlib import Path

from tabulate import tabulate

from bench import costs
from bench.artifacts import generator_variant, synthetic_set_id, synthetic_size
from bench.data.splits import modality_of
from bench.errors import UserError
from bench.experiments import Experiment, expand, resolve_params, suite_defaults
from bench.methods import get_method
from bench.runner import Job, RunContext, load_record, record_path
from bench.scales import Scale


@dataclass(frozen=True)
class PlannedJob:
    experiment: str
    job: Job
    done: bool
    parts: list[costs.Part] | None  # None: the cost model does not know the method
    needs: tuple[Hashable, ...] = ()  # pending jobs: the generator and D_s ids it needs


@dataclass(frozen=True)
class Artifact:
    """A one-off cost shared by jobs: an ADDES generator or one D_s."""

    name: str
    parts: list[costs.Part]
    calibration: str  # the name of its calibration factor (the generator kind)


def plan_jobs(ctx: RunContext, experiments: Iterable[Experiment], methods: list[str] | None,
              retry_failed: bool = False) -> list[PlannedJob]:
    """Every job of the run, once, in run order, with whether it is already recorded."""
    planned, seen = [], set()
    for experiment in experiments:
        for job in expand(experiment, ctx.scale, methods):
            if job in seen:
                continue
            seen.add(job)
            record = load_record(record_path(job, ctx))
            done = record is not None and not (retry_failed and record["status"] == "failed")
            modality, params = modality_of(job.dataset), job.param_dict
            needs: tuple[Hashable, ...] = ()
            if (not done and get_method(job.method).training_set == "D_e+D_s"
                    and int(params.get("n_synthetic") or 0) > 0):
                gen = costs.generator_id(modality, job.dataset, job.seed,
                                         {**params, "variant": generator_variant(params)})
                needs = (gen, (gen, *synthetic_set_id(params)))
            planned.append(PlannedJob(experiment.name, job, done,
                                      costs.job_parts(job.method, modality, params, ctx.scale),
                                      needs))
    return planned


def plan_artifacts(planned: list[PlannedJob], scale: Scale) -> dict[Hashable, Artifact]:
    """The generators and D_s sets the pending jobs need, each once; a D_s has the largest
    size any of its jobs asks for (bench.artifacts.synthetic_size)."""
    sizes: dict[Hashable, int] = {}
    for p in planned:
        if p.needs:
            n = synthetic_size(p.needs[0].modality, scale, p.job.param_dict)
            sizes[p.needs[1]] = max(sizes.get(p.needs[1], 0), n)
    artifacts: dict[Hashable, Artifact] = {}
    for p in planned:
        if not p.needs:
            continue
        gen, syn = p.needs
        kind = costs.generator_name(gen.modality)
        if gen not in artifacts:
            artifacts[gen] = Artifact(kind, costs.generator_parts(gen.modality, scale,
                                                                  gen.n_labeled), kind)
        if syn not in artifacts:
            what = "titles" if gen.modality == "text" else "images"
            artifacts[syn] = Artifact(f"D_s of {sizes[syn]} {what}", costs.synthetic_parts(
                gen.modality, scale, sizes[syn]), kind)
    return artifacts


def simulate_wall(jobs: list[tuple[float, list[tuple[Hashable, float]]]], workers: int) -> float:
    """Wall seconds of jobs run in order on `workers` workers. Each job is (its own seconds,
    [(artifact, seconds to build it)]): the first job needing an artifact builds it, later ones
    wait until it is built."""
    free = [0.0] * max(1, workers)
    ready: dict[Hashable, float] = {}
    end = 0.0
    for seconds, artifacts in jobs:
        t = heapq.heappop(free)
        for artifact, build in artifacts:
            if artifact not in ready:
                ready[artifact] = t + build
            t = max(t, ready[artifact])
        heapq.heappush(free, t + seconds)
        end = max(end, t + seconds)
    return end


def duration(seconds: float) -> str:
    """A readable duration: 4.2 s, 42 s, 3.5 min, 7.2 h, 4.1 d."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= 2 * size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"


def hours(seconds: float) -> str:
    """Hours with one decimal, or two significant digits below one hour."""
    h = seconds / 3600
    return f"{h:.1f}" if h >= 1 else f"{h:.2g}"


def _params_label(job: Job, scale: Scale) -> str:
    """The job's params that differ from its method's defaults in its suite (the image suite's
    augmented methods default to alpha = IMAGE_ALPHA: experiments.suite_defaults)."""
    modality = modality_of(job.dataset)
    defaults = dict(resolve_params(job.method, suite_defaults(job.method, modality), scale,
                                   modality))
    return ", ".join(f"{k}={v}" for k, v in job.params if defaults.get(k) != v)


class _Factors:
    """Calibration factor and its source per method or generator kind: fitted on the run's
    own finished records, else the cost data's, else 1 (max epochs)."""

    def __init__(self, ctx: RunContext, entry: costs.CostEntry):
        records = [r for p in sorted(ctx.records_dir.glob("*.json")) if (r := load_record(p))]
        timings = costs.record_timings(records, ctx.scale, entry, modality_of)
        self.own = {name: (f, f"this run's records ({len(timings[name])})")
                    for name, f in costs.fitted_factors(timings).items()}
        self.entry = entry

    def __call__(self, name: str) -> tuple[float, str]:
        if name in self.own:
            return self.own[name]
        if (f := self.entry.factor(name)) is not None:
            return f, "calibrated"
        return 1.0, "max epochs"


def dry_run(ctx: RunContext, experiments: list[Experiment], methods: list[str] | None, *,
            jobs: int, retry_failed: bool = False, cost_data: Path | None = None,
            dtype: str = "fp32") -> int:
    """Print the plan of a run (see the module docstring); returns the exit status 0."""
    data = costs.load_cost_data(costs.choose_cost_data(cost_data, ctx.run_dir.parent))
    entry = data.entry(ctx.device, dtype)
    if entry is None:
        raise UserError(f"{data.path}: no measurement for {ctx.device}/{dtype} (run "
                        f"python -m bench.perf --device {ctx.device} --dtype {dtype} --save FILE)")
    planned = plan_jobs(ctx, experiments, methods, retry_failed)
    artifacts = plan_artifacts(planned, ctx.scale)
    factor = _Factors(ctx, entry)
    cpu = entry.data["device"] == "cpu"
    cores = os.cpu_count() or 1
    # device-seconds -> wall seconds of one worker: its threads, oversubscribed cores
    to_wall = max(1.0, jobs * ctx.threads / cores) / ctx.threads if cpu else 1.0

    rows: dict[tuple, dict] = {}
    job_s: dict[Job, float] = {}
    unknown, unmeasured = set(), set()
    for p in planned:
        key = (p.experiment, p.job.dataset, p.job.method, _params_label(p.job, ctx.scale))
        row = rows.setdefault(key, {"experiment": key[0], "dataset": key[1], "method": key[2],
                                    "params": key[3], "jobs": 0, "done": 0, "est. per job": "",
                                    "est. to run": 0.0, "estimate from": ""})
        row["jobs"] += 1
        if p.done:
            row["done"] += 1
        elif p.parts is None:
            unknown.add(p.job.method)
            row["estimate from"] = "no cost model"
        else:
            f, row["estimate from"] = factor(costs.factor_name(p.job.method,
                                                              modality_of(p.job.dataset)))
            est = costs.estimate(p.parts, entry, f)
            unmeasured |= est.unmeasured
            job_s[p.job] = est.seconds
            row["est. per job"] = duration(est.seconds * to_wall)
            row["est. to run"] += est.seconds * to_wall
    art_s: dict[Hashable, float] = {}
    one_off: dict[str, dict] = {}
    for key, art in artifacts.items():
        f, source = factor(art.calibration)
        est = costs.estimate(art.parts, entry, f)
        unmeasured |= est.unmeasured
        art_s[key] = est.seconds
        each = duration(est.seconds * to_wall)
        row = one_off.setdefault(art.name, {"one-off cost (shared by jobs)": art.name,
                                            "count": 0, "est. each": each, "est. total": 0.0,
                                            "estimate from": source})
        row["count"] += 1
        row["est. total"] += est.seconds * to_wall

    wall = simulate_wall([(job_s[p.job] * to_wall, [(a, art_s[a] * to_wall) for a in p.needs])
                          for p in planned if p.job in job_s], jobs)
    device_s = sum(job_s.values()) + sum(art_s.values())
    all_parts = ([part for p in planned if p.job in job_s for part in p.parts]
                 + [part for art in artifacts.values() for part in art.parts])

    n_done = sum(p.done for p in planned)
    print(f"Dry run of {ctx.suite} at scale {ctx.scale.name}: {len(planned)} jobs, {n_done} "
          f"already recorded in {ctx.run_dir}, {len(planned) - n_done} to run (nothing is "
          f"trained or written)")
    print(f"Cost data: {data.path} [{entry.description}, measured {entry.data.get('date', '?')}]")
    print()
    for row in rows.values():
        row["est. to run"] = duration(row["est. to run"])
    print(tabulate(list(rows.values()), headers="keys", disable_numparse=True))
    print()
    if one_off:
        for row in one_off.values():
            row["est. total"] = duration(row["est. total"])
        print(tabulate(list(one_off.values()), headers="keys", disable_numparse=True))
    else:
        print("One-off costs: none (no job to run needs an ADDES generator)")
    print()
    workers = f"{ctx.threads} thread{'s' * (ctx.threads > 1)} each, {cores} cores" if cpu else ""
    print(f"Estimated wall time with --jobs {jobs} ({workers or entry.description}): "
          f"{duration(wall)}")
    if cpu:
        upper = costs.estimate(all_parts, entry).seconds
        print(f"CPU: {hours(device_s)} core-hours (uncalibrated, every phase at its max "
              f"epochs: {hours(upper)})")
    print(_gpu_line(all_parts, data, dtype))
    for note in _notes(unknown, unmeasured, entry):
        print(f"note: {note}")
    return 0


def _gpu_line(parts: list[costs.Part], data: costs.CostData, dtype: str) -> str:
    gpu = data.gpu_entry(dtype)
    if gpu is None:
        return "GPU: no GPU measurement recorded"
    est = costs.estimate(parts, gpu)
    used = sorted({p.benchmark for p in parts} - est.unmeasured)
    if not used:
        return (f"GPU: no GPU measurement recorded for this run's parts (measured on "
                f"{gpu.description}: {', '.join(sorted(gpu.data.get('benchmarks', {})))})")
    line = (f"GPU ({gpu.description}, max epochs): {hours(est.seconds)} GPU-hours for the "
            f"parts measured there ({', '.join(used)})")
    if est.unmeasured:
        line += (f"; no GPU measurement recorded for {', '.join(sorted(est.unmeasured))}, "
                 f"so the GPU total is partial (their cost is unknown, not included)")
    return line


def _notes(unknown: set[str], unmeasured: set[str], entry: costs.CostEntry) -> list[str]:
    notes = []
    if unknown:
        notes.append(f"no cost model for {', '.join(sorted(unknown))}: not included")
    if unmeasured:
        notes.append(f"{entry.key}: no measurement of {', '.join(sorted(unmeasured))}: "
                     f"not included")
    source = entry.data.get("calibration", {}).get("source", "none recorded")
    notes.append(f"estimate from: 'this run's records' = factor fitted on this run's finished "
                 f"records; 'calibrated' = the cost data's factor ({source}); 'max epochs' = "
                 f"no early stopping, at the measured speed")
    notes.append("sizes are the scale's: real data smaller than a scale asks is capped when the "
                 "run starts, which only shortens it")
    return notes
