"""The command line: parse, validate everything a user can get wrong, then run and report.

    python run_all.py --suite stackoverflow|mjsynth|all [--scale smoke|quick|paper]
        [--data-dir DIR] [--word-list PATH] [--target-estimate soft|hard|prevalence]
        [--experiments table2,...] [--methods text-CNN,...] [--datasets stackoverflow-1,...]
        [--plugin FILE.py|MODULE ...]
        [--seeds N] [--jobs N | --scheduler tls://HOST:PORT] [--threads N] [--out DIR]
        [--check REF [--exact] [--min-effect X]] [--save-reference PATH]
    python run_all.py --list

User errors print one line and exit with 2; failed jobs exit with 1 after the reports.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shlex
import sys
import time
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tabulate import tabulate

from addes.training import PRECISIONS
from bench import cluster, kernels, regress
from bench.data import auto_relations
from bench.data.render import load_word_list
from bench.data.spec import SUITE_OF, load_spec, read_corpus
from bench.data.splits import (
    DATASETS,
    DEFAULT_RELATIONS,
    load_relations,
    load_split,
    modality_of,
    register_spec,
)
from bench.data.stackoverflow import find_data_dir
from bench.data.wordgraph import TARGET_ESTIMATES
from bench.errors import UserError
from bench.experiments import (
    EXPERIMENTS,
    SUITES,
    TABLE2_METHODS,
    check_selection,
    expand,
    experiments_of,
    on_datasets,
    on_seeds,
    roles,
    selected_experiments,
    table_methods,
)
from bench.io import atomic_write_text, check_writable
from bench.method_runs import parse_seeds
from bench.methods import all_generators, all_methods
from bench.plugins import load_plugins, resolve
from bench.records import records_frame, write_records_csv
from bench.runner import Job, RunContext, _git_state, environment, run_jobs, threads_per_worker
from bench.scales import SCALE_FIELDS, get_scale, scale_table

log = logging.getLogger("bench")


DEFAULT_JOBS = max(1, min(4, os.cpu_count() or 1))


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2, like every other user error
        raise UserError(message)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = _Parser(prog="run_all.py", description="ADDES benchmark suite (Dai et al., KDD 2021)")
    p.add_argument("--suite", choices=None, help=f"one of: {', '.join(SUITES)}, all")
    p.add_argument("--dataset", type=Path, metavar="SPEC.toml", help="instead of --suite: "
                   "your own text or image dataset described by a spec file (README: Bring "
                   "your own data); the experiments of its modality's suite run on it")
    p.add_argument("--scale", default="quick", help="smoke | quick (default) | mjcpu | paper")
    p.add_argument("--data-dir", type=Path, help="folder with real data (default: "
                   "$ADDES_DATA/<suite>, ./data/<suite>, else the synthetic stand-in)")
    p.add_argument("--word-list", type=Path, help="MJSynth suite: word corpus for the class "
                   "graph and the renderer (one word a line, e.g. YAWL's word.list; default: "
                   "/usr/share/dict/words, else a built-in list)")
    p.add_argument("--target-estimate", choices=TARGET_ESTIMATES, help="MJSynth suite: D_e's "
                   "target letters from the word forest: soft (default: its probabilities, "
                   "selected on validation), hard (the paper's 0/1 estimate) or prevalence; "
                   "each is its own job (key)")
    p.add_argument("--relations", type=Path, default=DEFAULT_RELATIONS,
                   help="Eq. 18 relations file (JSON: target -> related inexact tags)")
    p.add_argument("--experiments", help="comma-separated subset (default: all of the suite)")
    p.add_argument("--methods", help="comma-separated subset of the registered methods; a "
                   "generator variant (ADDES, ADDES-CNN, ADDES-W) selects the jobs it feeds")
    p.add_argument("--datasets", help="comma-separated subset of the suite's datasets (default: "
                   "all), e.g. stackoverflow-1: at the sopaper and mjcpu tiers one dataset is "
                   "the unit a machine-day affords")
    p.add_argument("--plugin", action="append", default=[], metavar="FILE.py|MODULE",
                   help="import this file or module before reading the method registry (its "
                        "@register methods join the tables); repeatable")
    p.add_argument("--seeds", type=int, help="seeds per table (default: the scale's; paper: 5)")
    p.add_argument("--only-seeds", metavar="K,K,...", help="run only these of each table's "
                   "seeds (0 .. --seeds - 1): a shard of a run split across machines or "
                   "sessions; copy the shards' records/ into one run folder and rerun without "
                   "it to report every seed, retraining nothing")
    p.add_argument("--jobs", type=int, default=DEFAULT_JOBS,
                   help=f"parallel worker processes (default: the cores, at most 4: "
                        f"{DEFAULT_JOBS} here; two 1-thread workers beat one 2-thread worker "
                        f"on independent jobs)")
    p.add_argument("--threads", type=int, help="threads per worker, torch's and numpy's BLAS "
                   "(default: cores / --jobs, 1 with --scheduler; 1 is faster for the small "
                   "models on a busy machine)")
    p.add_argument("--scheduler", metavar="tls://HOST:PORT", help="run the jobs on the "
                   "workers of this Dask distributed cluster (pip install -e .[cluster]); "
                   "--out must be on a filesystem shared by this machine and every worker; "
                   "--jobs is ignored (the workers set the parallelism); certificates from "
                   "Dask's config (distributed.comm.tls.*); tcp:// warns unless loopback")
    p.add_argument("--device", default="auto", choices=DEVICES, help="where models train: "
                   "auto (default: cuda when torch sees a GPU, else cpu) | cpu | cuda")
    p.add_argument("--dtype", default="fp32", choices=PRECISIONS, help="fp32 (default) | bf16: "
                   "forward passes under bf16 autocast; its records are keyed apart from "
                   "fp32's and its reports go to a run folder ending in -bf16")
    p.add_argument("--out", type=Path, default=Path("results"), help="output root (results/)")
    p.add_argument("--retry-failed", action="store_true", help="rerun jobs recorded as failed")
    p.add_argument("--list", action="store_true", help="list suites, experiments, methods, scales")
    p.add_argument("--dry-run", action="store_true", help="print the jobs still to run with "
                   "their estimated time, the shared one-off costs and the totals; train and "
                   "write nothing")
    p.add_argument("--cost-data", type=Path, metavar="FILE", help="with --dry-run: per-batch "
                   "costs (python -m bench.perf --save FILE; default <out>/cost_data.json if "
                   "present, else the committed bench/cost_data.json)")
    p.add_argument("--perf", action="store_true",
                   help="measure the matmul peak and per-batch training cost of every model "
                        "(same as python -m bench.perf)")
    p.add_argument("--check", type=Path, metavar="REF", help="regression gate: compare the "
                   "records with reference REF; exit 1 on a significant degradation")
    p.add_argument("--exact", action="store_true", help="with --check: every value must be "
                   "bit-identical (same machine kind); any change fails")
    p.add_argument("--min-effect", type=float, default=regress.DEFAULT_MIN_EFFECT,
                   help="with --check: smallest drop that counts (absolute; default 0.01)")
    p.add_argument("--save-reference", type=Path, metavar="PATH",
                   help="write this run's records as a reference file (JSON) for --check")
    args = p.parse_args(argv)
    if not (args.list or args.perf) and not (args.suite or args.dataset):
        raise UserError("--suite is required (or --dataset SPEC.toml, or --list)")
    if args.dataset is not None:
        clash = [f"--{n.replace('_', '-')}" for n in ("suite", "datasets")
                 if getattr(args, n) is not None] + (
            ["--relations"] if args.relations != DEFAULT_RELATIONS else []) + (
            ["--dry-run"] if args.dry_run else [])
        if clash:
            raise UserError(f"--dataset: not with {clash[0]} (the spec names its data, "
                            "classes and relations; --dry-run is not available for specs yet)")
    # --data-dir with --dataset: only for a spec naming a reader (checked once it is read)
    for name in ("seeds", "jobs", "threads"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            raise UserError(f"--{name}: must be a positive integer, got {value}")
    if args.only_seeds is not None:
        args.only_seeds = sorted(parse_seeds(args.only_seeds, "--only-seeds"))
    for name in ("experiments", "methods", "datasets"):  # ",": run nothing, overwrite records.csv
        value = getattr(args, name)
        if value is not None and not _split_list(value):
            raise UserError(f"--{name}: empty list {value!r}; name at least one")
    if args.scheduler is not None:
        cluster.check_scheduler(args.scheduler)
    args.device = resolve_device(args.device)
    return args


DEVICES = ("auto", "cpu", "cuda")


def resolve_device(name: str) -> str:
    """--device: "auto" is cuda when torch sees a GPU, else cpu; "cuda" without one is an error."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda: torch sees no CUDA GPU here (torch "
                        f"{torch.__version__}); use --device cpu or auto")
    return name


def print_listing() -> None:
    print("Suites:")
    for suite, datasets in SUITES.items():
        print(f"  {suite:<14} datasets: {', '.join(datasets)}")
    print("\nExperiments:")
    for e in EXPERIMENTS.values():
        print(f"  {e.name:<8} [{e.suite}] {e.description}")
    where = roles(get_scale("quick"))
    print("\nMethods (experiments they take part in at the default scale):")
    order = {name: i for i, name in enumerate(table_methods("text", TABLE2_METHODS))}
    for m in sorted(all_methods().values(), key=lambda m: order.get(m.name, len(order))):
        flags = ([] if m.in_paper else ["not in the paper"]) + (
            [] if m.origin.startswith("bench.") else [f"from {m.origin}"])
        flag = f" ({'; '.join(flags)})" if flags else ""
        print(f"  {m.name:<10} trains on {m.training_set:<8} {m.summary}{flag} "
              f"[{', '.join(where[m.name]) or 'no experiment'}]")
    print("\nADDES generator variants (--methods NAME selects the jobs they feed):")
    for g in all_generators().values():
        fed = dict.fromkeys(m for methods in where[g.name].values() for m in methods)
        flag = "" if g.in_paper else " (not in the paper)"
        print(f"  {g.name:<10} {g.summary}{flag} [feeds {', '.join(fed) or 'nothing'}; in "
              f"{', '.join(where[g.name]) or 'no experiment'}]")
    print("\nScales:")
    rows = scale_table()
    print(tabulate([[f, *(r[f] for r in rows)] for f in SCALE_FIELDS[1:]],
                   headers=["", *(r["name"] for r in rows)]))


def _split_list(text: str | None) -> list[str] | None:
    return None if text is None else [t.strip() for t in text.split(",") if t.strip()]


def _run_all_suites(args: argparse.Namespace) -> int:
    """--suite all: every suite in turn (each in its own run folder), each with the --methods
    that take part in it; the worst exit status."""
    names = _split_list(args.experiments)
    if names:
        unknown = [n for n in names if n not in EXPERIMENTS]
        if unknown:
            raise UserError(f"--experiments: unknown experiment {unknown[0]!r}; known: "
                            f"{', '.join(EXPERIMENTS)}")
    if args.data_dir is not None:
        raise UserError("--data-dir names one suite's folder: use it with a single --suite")
    scale = get_scale(args.scale)
    methods = _split_list(args.methods)
    datasets = _split_list(args.datasets)
    if datasets:
        _check_datasets(datasets, [d for suite_datasets in SUITES.values() for d in suite_datasets])
    chosen = {suite: [e for e in experiments_of(suite) if names is None or e.name in names]
              for suite in SUITES}
    check_selection([e for es in chosen.values() for e in es], scale, methods)
    status = 0
    for suite, experiments in chosen.items():
        here = None if methods is None else [m for m in methods if roles(scale, experiments)[m]]
        ours = None if datasets is None else [d for d in datasets if d in SUITES[suite]]
        if not experiments or here == [] or ours == []:
            continue
        sub = argparse.Namespace(**{
            **vars(args), "suite": suite,
            "experiments": None if names is None else ",".join(e.name for e in experiments),
            "methods": None if here is None else ",".join(here),
            "datasets": None if ours is None else ",".join(ours)})
        status = max(status, run(sub))
    return status


def _check_datasets(names: list[str], known: Sequence[str]) -> None:
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UserError(f"--datasets: unknown dataset {unknown[0]!r}; choose among "
                        f"{', '.join(known)}")


def _spec_jobs(experiments: list, scale, methods: list[str] | None,
               name: str, first: str) -> list[tuple[str, Job]]:
    """The suite's jobs on its first dataset `first` (StackOverflow-1, MJSynth-1), moved to
    the user's dataset `name` (the grid points of the suite's other dataset duplicate them
    there and are dropped)."""
    return [(e.name, replace(job, dataset=name)) for e in experiments
            for job in expand(e, scale, methods) if job.dataset == first]


def _datasets(ctx: RunContext) -> tuple[str, ...]:
    return (ctx.dataset_spec.name,) if ctx.dataset_spec else SUITES[ctx.suite]


def _modality(ctx: RunContext) -> str:
    return modality_of(_datasets(ctx)[0])


def run(args: argparse.Namespace) -> int:
    if args.suite == "all":
        return _run_all_suites(args)
    spec = load_spec(args.dataset) if getattr(args, "dataset", None) else None
    scale = get_scale(args.scale)
    if args.seeds:
        scale = scale.with_seeds(args.seeds)
    if spec is not None and spec.reader is None and args.data_dir is not None:
        raise UserError("--dataset: not with --data-dir (the spec names its data files; "
                        "--data-dir is for a spec with a [data] reader)")
    if spec is not None and not spec.graph_from_words and args.word_list is not None:
        raise UserError("--dataset: not with --word-list (the word list is the mjsynth "
                        "reader's graph; this spec's graph comes from its relations)")
    if spec is not None and spec.modality == "image" and not spec.graph_from_words:
        if args.target_estimate not in (None, "hard"):
            raise UserError(f"--target-estimate {args.target_estimate}: needs the MJSynth word "
                            "forest; an image spec's D_e gets Eq. 19's 0/1 targets (hard)")
        args.target_estimate = "hard"  # Eq. 19 over the relations, as for a text spec
    if args.target_estimate:
        scale = replace(scale, mj_target_estimate=args.target_estimate)
    # a spec runs the experiments of the built-in suite of its modality
    suite = SUITE_OF[spec.modality] if spec else args.suite
    experiments = experiments_of(suite, _split_list(args.experiments))
    modality = spec.modality if spec else modality_of(SUITES[suite][0])
    if spec is not None:
        scale = replace(scale, **spec.sizes_for(scale.name))
        args.suite = spec.name  # the run's name in the gate, the reports and the records
    methods = _split_list(args.methods)
    check_selection(experiments, scale, methods)
    experiments = selected_experiments(experiments, methods)
    datasets = _split_list(args.datasets)
    if datasets is not None:
        _check_datasets(datasets, SUITES[suite])
        experiments = on_datasets(experiments, datasets, scale)
        if not experiments:
            raise UserError(f"--datasets {args.datasets}: none of the selected experiments "
                            "has a job there")
    if args.only_seeds is not None:
        most = max((e.seeds(scale) for e in experiments), default=0)
        experiments = on_seeds(experiments, args.only_seeds, scale)
        if not experiments:
            raise UserError(f"--only-seeds {','.join(map(str, args.only_seeds))}: none of the "
                            f"selected experiments runs these seeds at scale {scale.name!r} "
                            f"(they run seeds 0-{most - 1}; raise --seeds)")
    gate = _prepare_gate(args, scale.name)
    load_relations(args.relations)
    image = modality == "image"
    # the MJSynth reader's graph (the shipped MJSynth specs') comes from a word list
    words = spec.graph_from_words if spec else image
    word_list = getattr(args, "word_list", None)
    if words:
        load_word_list(word_list)  # a bad --word-list fails here
    reader = spec.reader if spec else args.suite  # whose data folder: a suite's or a reader's
    data_dir = find_data_dir(args.data_dir, reader) if reader else None
    # said once the command is known to be valid: a user error stays one line on stderr
    notice = None if data_dir is not None or reader is None else (
        f"bench: no real data found; using the synthetic stand-in (built-in renderer) (put "
        f"Synth90k / MJSynth images, e.g. its 90kDICT32px tree or a folder of <n>_<word>_<m>.jpg "
        f"files, in data/{args.suite}/ or pass --data-dir)" if image else
        f"bench: no real data found; using the synthetic stand-in (put StackSample "
        f"Questions.csv + Tags.csv, or labeled.tsv [+ unlabeled.tsv], in "
        f"data/{reader}/ or pass --data-dir)")
    run_name = (f"{args.suite}-{scale.name}" + (f"-{data_dir.name}" if data_dir else "")
                + ("" if args.dtype == "fp32" else f"-{args.dtype}"))
    run_dir = args.out / run_name
    relations = args.relations
    if spec is not None:  # its relations file (written for "auto"); a reader's default: ours
        register_spec(spec)
        if spec.relations is not None:
            relations = auto_relations.resolve(
                spec, read_corpus(spec, scale, data_dir, args.out / "cache"), scale, run_dir)
    compared = bool(args.exact or args.save_reference)  # bit-for-bit: one thread per job
    threads = getattr(args, "threads", None) or (1 if args.scheduler or compared
                                                  else threads_per_worker(args.jobs))
    ctx = RunContext(args.suite, scale, run_dir, args.out / "cache", data_dir, relations,
                     device=args.device, dtype=args.dtype, threads=threads,
                     word_list=word_list if words else None, dataset_spec=spec,
                     plugins=tuple(resolve(p) for p in args.plugin))
    if args.dry_run:  # the job grid and its estimated cost: trains and writes nothing
        from bench.plan import dry_run

        status = dry_run(ctx, experiments, methods, jobs=args.jobs,
                         retry_failed=args.retry_failed, cost_data=args.cost_data,
                         dtype=args.dtype)
        if notice:
            print(notice, file=sys.stderr)
        return status
    if args.exact and not args.scheduler:  # refused now, not after the run and its writes
        regress.check_exact_comparable(gate["meta"], {k: [v] for k, v in environment(ctx).items()},
                                       args.check)
    check_writable(run_dir)
    with cluster.connect(args.scheduler) if args.scheduler else nullcontext() as client:
        for dataset in datasets or _datasets(ctx):  # bad data fails here, before any write
            load_split(dataset, scale, data_dir, ctx.cache_dir, ctx.relations,
                       word_list=ctx.word_list)
        if notice:
            print(notice, file=sys.stderr)
        experiment_jobs = (_spec_jobs(experiments, scale, methods, spec.name, SUITES[suite][0])
                           if spec else
                           [(e.name, job) for e in experiments
                            for job in expand(e, scale, methods)])
        records = run_jobs([job for _, job in experiment_jobs], ctx, n_workers=args.jobs,
                           retry_failed=args.retry_failed, client=client)
    frame = records_frame(experiment_jobs, records)
    write_records_csv(frame, run_dir / "records.csv")
    write_reports(run_dir, frame, ctx, args, [e.name for e in experiments], datasets)
    if spec is not None and spec.relations == "auto":
        report = run_dir / "report.md"
        atomic_write_text(report, regress.splice_section(
            report.read_text(), auto_relations.report_section(run_dir),
            auto_relations.REPORT_TITLE))
    gate_status = _finish_gate(gate, args, ctx, frame, [e.name for e in experiments], methods,
                               datasets)
    failed = frame[frame.status == "failed"].drop_duplicates("key")
    print(f"bench: results in {run_dir}/ (records.csv, report.md, tables/, figures/)",
          file=sys.stderr)
    if len(failed):
        for _, row in failed.iterrows():
            print(f"bench: FAILED {row.dataset} {row.method} seed={row.seed}: {row.error}",
                  file=sys.stderr)
        return 1
    return gate_status


def _prepare_gate(args: argparse.Namespace, scale_name: str) -> dict:
    """Validate the regression-gate options and load the reference before any job runs."""
    if args.exact and not args.check:
        raise UserError("--exact needs --check REF")
    if not args.min_effect >= 0:
        raise UserError(f"--min-effect: must be >= 0, got {args.min_effect}")
    gate = {"started": time.time(), "meta": None, "reference": None}
    if args.check:
        gate["meta"], gate["reference"] = regress.load_reference(args.check)
        regress.check_compatible(gate["meta"], args.check, suite=args.suite, scale=scale_name)
    return gate


def _finish_gate(gate: dict, args: argparse.Namespace, ctx: RunContext, frame: pd.DataFrame,
                 experiment_names: list[str], methods: list[str] | None,
                 datasets: list[str] | None = None) -> int:
    """--check: print the comparison, write regress.md and report.md's section; 1 on failure.
    --save-reference: write the reference file."""
    command = "python run_all.py " + shlex.join(sys.argv[1:])
    commit, dirty = _git_state()
    source = str(frame["source"].iloc[0]) if len(frame) else "synthetic stand-in"
    env = regress.records_environment(ctx.records_dir, frame["key"])
    status = 0
    if args.check:
        meta = gate["meta"]
        notes = regress.check_compatible(meta, args.check, suite=args.suite,
                                         scale=ctx.scale.name, source=source)
        if args.exact:
            regress.check_exact_comparable(meta, env, args.check)
        result = regress.check(gate["reference"], frame, exact=args.exact,
                               min_effect=args.min_effect, experiments=experiment_names,
                               methods=methods, datasets=datasets,
                               seeds=args.only_seeds)
        notes += regress.environment_notes(meta, env)
        identity = json.loads(json.dumps(ctx.scale.identity(), default=str))  # tuples -> lists
        if meta.get("scale_identity") not in (None, identity):
            notes.append(f"the definition of scale {ctx.scale.name!r} changed since the reference")
        reused = sum(1 for k in set(frame["key"]) if (ctx.records_dir / f"{k}.json").exists()
                     and (ctx.records_dir / f"{k}.json").stat().st_mtime < gate["started"])
        if reused:
            notes.append(f"{reused} of {frame['key'].nunique()} records were reused from earlier "
                         f"runs in {ctx.run_dir}; to test a code change, use a fresh --out")
        result.notes = notes
        print(regress.result_markdown(result), end="")
        for note in notes:
            print(f"note: {note}")
        print(f"bench: {result.summary()}")
        atomic_write_text(ctx.run_dir / "regress.md",
                          regress.report_markdown(result, args.check, meta, command, level=1))
        report = ctx.run_dir / "report.md"
        section = regress.report_markdown(result, args.check, meta, command, level=2)
        atomic_write_text(report, regress.splice_section(
            report.read_text() if report.exists() else "", section))
        status = 1 if result.failed else 0
    if args.save_reference:
        meta = regress.reference_meta(
            suite=args.suite, scale=ctx.scale.name, scale_identity=ctx.scale.identity(),
            source=source, command=command, git_commit=commit, git_dirty=dirty,
            date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), env=env,
            experiments=experiment_names, methods=methods, datasets=datasets,
            seeds=ctx.scale.seeds)
        regress.save_reference(args.save_reference, frame, meta)
        print(f"bench: reference written to {args.save_reference}", file=sys.stderr)
    return status


def _report_digest(frame: pd.DataFrame, experiment_names: list[str]) -> str:
    """Hash of what the reports are made from: the records, the reporting code and the
    registry (its summaries and roles)."""
    h = hashlib.sha1(frame.to_csv(index=False).encode() + repr(experiment_names).encode())
    package = Path(__file__).parent
    for path in sorted([*package.glob("report/*.py"), package / "stats.py",
                        *package.glob("methods/*.py")]):  # methods: column notes, comparisons
        h.update(path.read_bytes())
    return h.hexdigest()


def write_reports(run_dir: Path, frame: pd.DataFrame, ctx: RunContext,
                  args: argparse.Namespace, experiment_names: list[str],
                  datasets: Sequence[str] | None = None) -> None:
    from bench.label_estimate import label_estimate_rows
    from bench.report import RunInfo, build_reports

    commit, dirty = _git_state()
    digest_path = run_dir / ".report-digest"
    digest = _report_digest(frame, experiment_names)
    if ((run_dir / "report.md").exists() and digest_path.exists()
            and digest_path.read_text() == digest):
        log.info("reports are up to date (same records, same code)")
        return
    sizes, label_estimates, targets = {}, [], None
    env = regress.records_environment(ctx.records_dir, frame["key"])
    for dataset in datasets or _datasets(ctx):
        split = load_split(dataset, ctx.scale, ctx.data_dir, ctx.cache_dir, ctx.relations,
                           word_list=ctx.word_list)
        sizes[dataset] = split.sizes
        label_estimates += label_estimate_rows(split)  # ORACLE analysis, shown in the report
        source = split.source
        targets = targets or split.targets
    image = _modality(ctx) == "image"
    info = RunInfo(
        command="python run_all.py " + shlex.join(sys.argv[1:] if args is not None else []),
        suite=ctx.suite, scale=ctx.scale.name, modality=_modality(ctx),
        seeds=ctx.scale.mj_seeds if image else ctx.scale.seeds, source=source,
        git_commit=commit, git_dirty=dirty, date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        torch_version=torch.__version__, device=ctx.device, dtype=ctx.dtype, threads=ctx.threads,
        cpu_kernels=kernels.describe(env["cpu_capability"], env["kernels"]), sizes=sizes,
        target_estimate=ctx.scale.mj_target_estimate if image else "", targets=targets,
        only_seeds=tuple(args.only_seeds or ()))
    examples = None
    if "table3" in experiment_names and "AugCNN" in all_methods():
        from bench import artifacts
        from bench.experiments import resolve_params

        split = load_split(_datasets(ctx)[0], ctx.scale, ctx.data_dir, ctx.cache_dir,
                           ctx.relations)
        params = dict(resolve_params("AugCNN", {}, ctx.scale))
        examples = artifacts.generated_examples(split, seed=0, params=params, scale=ctx.scale,
                                                cache_dir=ctx.cache_dir, device=ctx.device,
                                                dtype=ctx.dtype)
    fig5_images = None
    if "fig5" in experiment_names and "AugCNN" in all_methods():
        from bench import artifacts
        from bench.experiments import IMAGE_ALPHA, resolve_params

        split = load_split(_datasets(ctx)[0], ctx.scale, ctx.data_dir, ctx.cache_dir,
                           ctx.relations, word_list=ctx.word_list)
        params = dict(resolve_params("AugCNN", {"alpha": IMAGE_ALPHA}, ctx.scale, "image"))
        fig5_images = artifacts.generated_images(split, seed=0, params=params, scale=ctx.scale,
                                                 cache_dir=ctx.cache_dir, device=ctx.device,
                                                 dtype=ctx.dtype)
    build_reports(run_dir, frame, info, examples, fig5_images, label_estimates)
    atomic_write_text(digest_path, digest)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="bench: %(message)s", stream=sys.stderr)
    os.environ.setdefault("PYTHONHASHSEED", "0")
    np.seterr(all="ignore")
    try:
        args = parse_args(argv)
        if args.perf:
            from bench import perf

            return perf.main(["--device", args.device, "--dtype", args.dtype]
                             + (["--threads", str(args.threads)] if args.threads else []))
        load_plugins([resolve(p) for p in args.plugin])  # before anything reads the registry
        if args.list:
            print_listing()
            return 0
        with kernels.pinned_if_compared(sys.argv[1:] if argv is None else argv):
            return run(args)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished jobs are saved; rerun the same command to resume",
              file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away, e.g. `run_all.py --list | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit
        return 0


assert set(DATASETS) >= {d for ds in SUITES.values() for d in ds}
