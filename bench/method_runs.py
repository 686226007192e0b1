"""Scaffolding of the commands that train one method over several seeds as suite jobs
(`bench.curves`, `bench.stability`, `bench.estimate_compare`): their shared arguments, the
run context and split they load, job params parsed and resolved, resumable saved runs.

A bad argument is a `UserError` (the commands print it and exit 2).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.data.splits import Split, load_split
from bench.data.stackoverflow import find_data_dir
from bench.errors import UserError
from bench.experiments import resolve_params
from bench.io import atomic_write_json
from bench.methods import get_method
from bench.runner import RunContext
from bench.scales import get_scale

log = logging.getLogger("bench")


def parse_params(text: str) -> dict[str, Any]:
    """`NAME=VALUE,...` -> job params; each VALUE read as JSON where it parses (0.5, true),
    else kept as a string (semantic)."""
    params: dict[str, Any] = {}
    for item in filter(None, text.split(",")):
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UserError(f"--params: expected NAME=VALUE[,NAME=VALUE...], got {item!r}")
        try:
            params[name.strip()] = json.loads(value)
        except json.JSONDecodeError:
            params[name.strip()] = value.strip()
    return params


def parse_seeds(text: str, option: str = "--seeds") -> list[int]:
    """`0,1,2` -> [0, 1, 2]: distinct seeds (integers >= 0) in the order given, at least one
    (a UserError naming `option` and the value otherwise)."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items or not all(item.isdigit() for item in items):
        raise UserError(f"{option}: comma-separated seeds (integers >= 0), got {text!r}")
    return list(dict.fromkeys(int(item) for item in items))


def params_suffix(params: dict[str, Any]) -> str:
    """The folder-name suffix of a run's `--params`: "-name<value>" per param, sorted."""
    return "".join(f"-{name}{value}" for name, value in sorted(params.items()))


def saved_run(path: Path, run: Callable[[], dict], describe: Callable[[dict], str]) -> dict:
    """The result JSON at `path` when a run left it there; else `run()`, saved atomically and
    logged with `describe(result)` (a rerun of a command resumes where it stopped)."""
    if path.exists():
        return json.loads(path.read_text())
    result = run()
    atomic_write_json(path, result)
    log.info("%s (%.0f s)", describe(result), result["seconds"])
    return result


def method_run_parser(prog: str, description: str, method: str, *,
                      dataset: str = "stackoverflow-1", scale: str = "quick",
                      seeds: str = "0,1,2,3,4", suite: bool = True) -> argparse.ArgumentParser:
    """The arguments every such command takes, with these defaults (`suite=False`: a command
    of one suite, without --suite)."""
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("--method", default=method)
    p.add_argument("--dataset", default=dataset)
    if suite:
        p.add_argument("--suite", default="stackoverflow", help="stackoverflow | mjsynth")
    p.add_argument("--scale", default=scale)
    p.add_argument("--seeds", default=seeds)
    p.add_argument("--data-dir", type=Path)
    p.add_argument("--word-list", type=Path)
    p.add_argument("--out", type=Path, default=Path("results"))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--params", default="", help="job params for every run, NAME=VALUE,...")
    return p


def prepare_or_report(args: argparse.Namespace, command: str) -> MethodRun | None:
    """`prepare_method_run`, or None after printing the UserError (the caller exits 2)."""
    try:
        return prepare_method_run(args, command)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return None


@dataclass(frozen=True)
class MethodRun:
    """What `prepare_method_run` loads: the split, a run context writing under
    <out>/<command>, the seeds, and the job params resolved as a suite job's
    (`experiments.resolve_params`: the method's defaults filled in)."""

    method: str
    dataset: str
    split: Split
    ctx: RunContext
    seeds: list[int]
    params: dict[str, Any]

    @property
    def name(self) -> str:
        """<dataset>-<scale>-<method>-<every job param>: runs of another default (e.g.
        Zero-shot's gcn_restarts) never share a name."""
        return f"{self.dataset}-{self.ctx.scale.name}-{self.method}{params_suffix(self.params)}"


def prepare_method_run(args: argparse.Namespace, command: str) -> MethodRun:
    """Parse and load what `method_run_parser`'s arguments name; a UserError names a bad one."""
    params = parse_params(args.params)
    get_method(args.method)
    seeds = parse_seeds(args.seeds)
    scale = get_scale(args.scale)
    data_dir = find_data_dir(args.data_dir, args.suite)
    ctx = RunContext(args.suite, scale, args.out / command, args.out / "cache", data_dir,
                     word_list=args.word_list, threads=args.threads)
    split = load_split(args.dataset, scale, data_dir, ctx.cache_dir, word_list=args.word_list)
    resolved = dict(resolve_params(args.method, params, scale, split.modality))
    return MethodRun(args.method, args.dataset, split, ctx, seeds, resolved)
