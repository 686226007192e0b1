"""The regression gate: compare a run's records with committed reference records.

A *cell* is (experiment, dataset, method, grid point); it holds one value per seed and
metric. Two modes:

- statistical (default): per cell and metric, old mean, new mean, delta = new - old and a
  one-sided t-test of "new < old" (paired by seed where the seed sets match, else Welch; see
  `bench.stats.compare`), Holm-corrected across every tested comparison. A comparison is a
  *regression* when its Holm p < `alpha` (0.05) and the drop old - new >= `min_effect`
  (absolute, default 0.01). Cells with fewer than two values per side cannot be tested and
  are listed as such; when all per-seed differences are equal (zero variance) the p-value is
  0 for a drop and 1 otherwise instead of scipy's NaN. A cell of the reference whose every
  seed failed in the new run (no finite value of a metric) fails the gate: there is nothing
  to compare, and "0 regressions" would hide a method that no longer runs.
- exact (`--exact`): every (cell, seed, metric) value must be bit-identical (same machine
  kind, CPU); any change fails, and so does a reference cell (or seed) the run lacks. This is
  how a refactor proves it changed nothing.

In both modes the cells present on one side only are listed. A cell only the new run has (a
method or grid point added since the reference was made) fails neither mode: it has no value
to compare, and adding a column is not a change of the others; it is listed as new, and a
reference remade on the same kind of machine takes it in.
Only the part of the reference that the run selected (`--experiments`, `--methods`,
`--datasets`) is compared; the rest is counted, not listed.

A reference is one JSON file: `meta` (suite, scale, source, command, git commit, torch,
date, ...) and `records` (one row per (experiment, job): the cell, the seed, the status and
the metrics; floats round-trip exactly). A reference of another suite, scale or kind of data
source is refused with a one-line `UserError`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tabulate import tabulate

from bench.errors import UserError
from bench.io import atomic_write_text
from bench.metrics import METRICS
from bench.records import PARAM_COLUMNS
from bench.stats import compare, holm

FORMAT = "addes-bench-reference/1"
ALPHA = 0.05
DEFAULT_MIN_EFFECT = 0.01
CELL = ("experiment", "dataset", "method", "point")
REFERENCE_COLUMNS = ("experiment", "dataset", "method", *PARAM_COLUMNS, "seed", "status",
                     *METRICS, "key")
NO_SUCCESS = "FAILED (no successful seed)"
ENV_FIELDS = ("git_commit", "git_dirty", "torch", "numpy", "python", "machine", "device",
              "threads", "dtype", "cpu_kind", "cpu_capability", "kernels")
#: environment fields whose difference may change the last bits of a value
BITS_FIELDS = ("torch", "numpy", "python", "machine", "device", "threads", "dtype",
               "cpu_kind", "cpu_capability", "kernels")


# ---------------------------------------------------------------------------------------------
# cells


def _norm(value: Any) -> Any:
    """A grid parameter as plain JSON: None for absent, int when integral, else float or str."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        f = float(value)
        if math.isnan(f):
            return None
        return int(f) if f.is_integer() else f
    return str(value)


def grid_point(params: Mapping[str, Any]) -> str:
    """Canonical text of a grid point, e.g. 'n_synthetic=200' or 'alpha=0.1, beta=1'."""
    parts = [f"{c.removeprefix('p_')}={_norm(params.get(c))}" for c in PARAM_COLUMNS
             if _norm(params.get(c)) is not None]
    return ", ".join(parts) or "-"


def with_cells(records: pd.DataFrame) -> pd.DataFrame:
    """The rows needed for a comparison, with a `point` column; metrics as float64."""
    out = pd.DataFrame({c: records[c] if c in records else None for c in REFERENCE_COLUMNS})
    out["point"] = [grid_point(row) for row in out[list(PARAM_COLUMNS)].to_dict("records")]
    out["seed"] = out["seed"].astype(int)
    for metric in METRICS:
        out[metric] = pd.to_numeric(out[metric], errors="coerce").astype("float64")
    return out.drop_duplicates([*CELL, "seed"]).reset_index(drop=True)


def select(records: pd.DataFrame, experiments: Iterable[str] | None = None,
           methods: Iterable[str] | None = None,
           datasets: Iterable[str] | None = None,
           seeds: Iterable[int] | None = None) -> pd.DataFrame:
    keep = pd.Series(True, index=records.index)
    if seeds is not None:  # --only-seeds: a shard
        keep &= records["seed"].isin(list(seeds))
    if experiments is not None:
        keep &= records["experiment"].isin(list(experiments))
    if datasets is not None:
        keep &= records["dataset"].isin(list(datasets))
    if methods is not None:  # a method, or a generator variant: the jobs it feeds
        keep &= records["method"].isin(list(methods)) | records["p_variant"].isin(list(methods))
    return records[keep]


def cell_differences(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """(cell, seed) rows on one side only, grouped per cell: columns CELL, change, seeds."""
    old_keys = set(map(tuple, old[[*CELL, "seed"]].itertuples(index=False)))
    new_keys = set(map(tuple, new[[*CELL, "seed"]].itertuples(index=False)))
    rows: dict[tuple, list[int]] = {}
    for change, keys in (("missing from the new run", old_keys - new_keys),
                         ("new, not in the reference", new_keys - old_keys)):
        for *cell, seed in keys:
            rows.setdefault((*cell, change), []).append(int(seed))
    out = [[*k, ", ".join(map(str, sorted(v)))] for k, v in sorted(rows.items(), key=str)]
    return pd.DataFrame(out, columns=[*CELL, "change", "seeds"])


# ---------------------------------------------------------------------------------------------
# the two comparisons


def _values(rows: pd.DataFrame, metric: str) -> dict[int, float]:
    return {int(s): float(v) for s, v in zip(rows["seed"], rows[metric], strict=True)
            if np.isfinite(v)}


def _p_degraded(new: dict[int, float], old: dict[int, float]) -> tuple[float, str]:
    """One-sided p of 'new < old' and the test used; zero variance gives 0 or 1, not NaN."""
    c = compare(new, old, alternative="less")
    p = c.p_value
    if math.isnan(p) and c.n_a > 1 and c.n_b > 1:
        p = 0.0 if c.delta < 0 else 1.0  # every per-seed difference (or value) is equal
    return p, c.test


def statistical_check(old: pd.DataFrame, new: pd.DataFrame, min_effect: float = DEFAULT_MIN_EFFECT,
                      alpha: float = ALPHA) -> pd.DataFrame:
    """One row per (cell, metric) present on both sides: means, delta, test, p, Holm p and a
    verdict ('REGRESSION', 'ok', 'improved', 'untested (n<2)', NO_SUCCESS, ...)."""
    rows = []
    new_groups = dict(iter(new.groupby(list(CELL), sort=False)))
    for cell, here_old in old.groupby(list(CELL), sort=False):
        here_new = new_groups.get(cell)
        if here_new is None:
            continue
        for metric in METRICS:
            a, b = _values(here_new, metric), _values(here_old, metric)
            if not b:
                continue
            if not a:  # every seed of the cell failed (or gave NaN) in the new run
                rows.append([*cell, metric, len(b), 0, float(np.mean(list(b.values()))),
                             math.nan, math.nan, "-", math.nan])
                continue
            p, test = _p_degraded(a, b)
            mean_new, mean_old = float(np.mean(list(a.values()))), float(np.mean(list(b.values())))
            rows.append([*cell, metric, len(b), len(a), mean_old, mean_new, mean_new - mean_old,
                         test, p])
    frame = pd.DataFrame(rows, columns=[*CELL, "metric", "n_old", "n_new", "old", "new", "delta",
                                        "test", "p"])
    tested = frame["n_new"] > 0
    frame["p_holm"] = math.nan
    if tested.any():
        frame.loc[tested, "p_holm"] = holm(frame.loc[tested, "p"].tolist())
    frame["verdict"] = [NO_SUCCESS if r.n_new == 0 else
                        _verdict(r.delta, r.p_holm, min_effect, alpha) for r in frame.itertuples()]
    return frame


def _verdict(delta: float, p_holm: float, min_effect: float, alpha: float) -> str:
    drop = -delta
    if math.isnan(p_holm):
        return "untested (n<2)" + (f", drop >= {min_effect:g}" if drop >= min_effect else "")
    if p_holm < alpha and drop >= min_effect:
        return "REGRESSION"
    if drop >= min_effect:
        return "ok (drop not significant)"
    if p_holm < alpha and drop > 0:
        return f"ok (drop < {min_effect:g})"
    return "improved" if delta >= min_effect else "ok"


def _bits(x: float) -> bytes:
    return b"nan" if math.isnan(x) else np.float64(x).tobytes()


def exact_check(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """Every (cell, seed, metric) on both sides whose value is not bit-identical (NaN, a
    failed job, equals NaN). Columns: CELL, seed, metric, old, new, delta, status."""
    merged = old.merge(new, on=[*CELL, "seed"], suffixes=("_old", "_new"))
    rows = []
    for r in merged.to_dict("records"):
        for metric in METRICS:
            a, b = float(r[f"{metric}_old"]), float(r[f"{metric}_new"])
            status_changed = r["status_old"] != r["status_new"]
            if _bits(a) != _bits(b) or status_changed:
                status = (f"{r['status_old']} -> {r['status_new']}" if status_changed
                          else r["status_new"])
                rows.append([*(r[c] for c in CELL), int(r["seed"]), metric, a, b, b - a, status])
    return pd.DataFrame(rows, columns=[*CELL, "seed", "metric", "old", "new", "delta", "status"])


# ---------------------------------------------------------------------------------------------
# the whole check


@dataclass
class Result:
    exact: bool
    min_effect: float
    table: pd.DataFrame  # exact: the changed values; statistical: every comparison
    cells: pd.DataFrame  # cells on one side only
    n_compared: int      # exact: values compared; statistical: comparisons
    n_outside: int       # reference rows outside the run's selection (not compared)
    notes: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> pd.DataFrame:
        if self.exact:
            return self.table
        return self.table[self.table["verdict"] == "REGRESSION"]

    @property
    def without_success(self) -> pd.DataFrame:
        """Statistical mode: the (cell, metric) rows whose every new seed failed."""
        if self.exact:
            return self.table.iloc[:0]
        return self.table[self.table["verdict"] == NO_SUCCESS]

    @property
    def failed(self) -> bool:
        return (bool(len(self.regressions)) or bool(len(self.without_success))
                or (self.exact and self.n_missing > 0))

    @property
    def n_missing(self) -> int:
        """Cells of the reference's selection that the new run lacks (some or all seeds)."""
        changes = self.cells["change"] if len(self.cells) else pd.Series(dtype=str)
        return int(changes.str.startswith("missing").sum())

    def summary(self) -> str:
        missing = self.n_missing
        added = len(self.cells) - missing
        side = f"; cells missing from the new run: {missing}, new cells: {added}"
        if self.exact:
            head = (f"exact check: {len(self.table)} of {self.n_compared} values changed"
                    if len(self.table) else f"exact check: all {self.n_compared} values are "
                    "bit-identical")
        else:
            head = (f"statistical check: {len(self.regressions)} of {self.n_compared} "
                    f"comparisons degraded significantly (Holm p < {ALPHA}, drop >= "
                    f"{self.min_effect:g})")
            empty = self.without_success
            if len(empty):
                cells = empty.drop_duplicates(list(CELL))
                names = "; ".join(f"{r.experiment} {r.dataset} {r.method}"
                                  + ("" if r.point == "-" else f" ({r.point})")
                                  for r in cells.itertuples())
                head += (f"; {len(cells)} cell(s) of the reference have no successful seed "
                         f"in the new run: {names}")
        return f"{head}{side} -> {'FAIL' if self.failed else 'PASS'}"


def check(reference: pd.DataFrame, records: pd.DataFrame, *, exact: bool = False,
          min_effect: float = DEFAULT_MIN_EFFECT, experiments: Iterable[str] | None = None,
          methods: Iterable[str] | None = None, datasets: Iterable[str] | None = None,
          seeds: Iterable[int] | None = None) -> Result:
    """Compare a run's records (records.csv rows) with reference rows, both as DataFrames.

    `experiments`/`methods`/`datasets`/`seeds` are the run's selection (None: all); reference
    rows outside it are not compared."""
    if min_effect < 0:
        raise UserError(f"--min-effect: must be >= 0, got {min_effect}")
    old_all = with_cells(reference)
    old = select(old_all, experiments, methods, datasets, seeds)
    new = with_cells(records)
    cells = cell_differences(old, new)
    if exact:
        table = exact_check(old, new)
        n = len(old.merge(new, on=[*CELL, "seed"])) * len(METRICS)
    else:
        table = statistical_check(old, new, min_effect)
        n = int((table["n_new"] > 0).sum())  # comparisons made (cells without success: none)
    return Result(exact, min_effect, table, cells, n, len(old_all) - len(old))


# ---------------------------------------------------------------------------------------------
# presentation


def _fmt(x: float, exact: bool) -> str:
    if isinstance(x, float) and math.isnan(x):
        return "nan"
    return repr(float(x)) if exact else f"{x:.4f}"


def result_markdown(result: Result) -> str:
    """The table(s) of a result as GitHub markdown (also what the terminal shows)."""
    parts = []
    if result.exact:
        if len(result.table):
            body = [[r.experiment, r.dataset, r.method, r.point, r.seed, r.metric,
                     _fmt(r.old, True), _fmt(r.new, True), f"{r.delta:+.3g}", r.status]
                    for r in result.table.itertuples()]
            parts.append(tabulate(body, headers=["Experiment", "Dataset", "Method", "Grid point",
                                                 "Seed", "Metric", "Reference", "New", "Delta",
                                                 "Status"],
                                  tablefmt="github", disable_numparse=True))
    elif len(result.table):
        body = [[r.experiment, r.dataset, r.method, r.point, r.metric, f"{r.n_old}/{r.n_new}",
                 _fmt(r.old, False), _fmt(r.new, False), f"{r.delta:+.4f}", r.test,
                 f"{r.p:.3g}", f"{r.p_holm:.3g}", r.verdict] for r in result.table.itertuples()]
        parts.append(tabulate(body, headers=["Experiment", "Dataset", "Method", "Grid point",
                                             "Metric", "Seeds (ref/new)", "Reference mean",
                                             "New mean", "Delta", "Test", "p (one-sided)",
                                             "p (Holm)", "Verdict"],
                              tablefmt="github", disable_numparse=True))
    if len(result.cells):
        body = [[r.experiment, r.dataset, r.method, r.point, r.change, r.seeds]
                for r in result.cells.itertuples()]
        parts.append("Cells on one side only:\n\n" + tabulate(
            body, headers=["Experiment", "Dataset", "Method", "Grid point", "Change", "Seeds"],
            tablefmt="github", disable_numparse=True))
    return "\n\n".join(parts) + ("\n" if parts else "")


def report_markdown(result: Result, reference_path: Path, meta: Mapping[str, Any],
                    command: str, level: int = 1) -> str:
    """regress.md (level 1) or the report.md section (level 2)."""
    h = "#" * level
    how = ("exact: every value bit for bit" if result.exact else
           f"statistical: one-sided t-test of new < reference per cell and metric (paired by "
           f"seed where the seeds match, else Welch), Holm across the {result.n_compared} "
           f"comparisons, regression = Holm p < {ALPHA} and drop >= {result.min_effect:g}")
    lines = [f"{h} Regression check", "",
             f"**{result.summary()}**", "",
             f"- Command: `{command}`",
             f"- Reference: `{reference_path}` (made by `{meta.get('command', '?')}` at commit "
             f"`{meta.get('git_commit', '?')}`{' (dirty)' if meta.get('git_dirty') else ''}, "
             f"{meta.get('date', '?')}, torch {meta.get('torch', '?')})",
             f"- Mode: {how}"]
    if result.n_outside:
        lines.append(f"- {result.n_outside} reference rows are outside this run's selection "
                     "(--experiments/--methods/--datasets) and were not compared")
    lines += [f"- Note: {n}" for n in result.notes]
    body = result_markdown(result)
    return "\n".join(lines) + "\n\n" + (body or "Nothing to list.\n")


def splice_section(report: str, section: str, title: str = "## Regression check") -> str:
    """report.md with its regression section replaced by (or appended as) `section`."""
    pattern = re.compile(rf"^{re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    stripped = pattern.sub("", report).rstrip()
    return stripped + "\n\n" + section.rstrip() + "\n"


# ---------------------------------------------------------------------------------------------
# reference files


def _json_value(v: Any) -> Any:
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return None if math.isnan(float(v)) else float(v)
    return v


def reference_json(records: pd.DataFrame, meta: Mapping[str, Any]) -> str:
    """The text of a reference file: meta, then one record per line (easy to diff)."""
    rows = with_cells(records)
    lines = []
    for r in rows.to_dict("records"):
        item = {"experiment": r["experiment"], "dataset": r["dataset"], "method": r["method"],
                **{c: _norm(r[c]) for c in PARAM_COLUMNS if _norm(r[c]) is not None},
                "seed": int(r["seed"]), "status": r["status"],
                **{m: _json_value(r[m]) for m in METRICS}, "key": r["key"]}
        lines.append(json.dumps(item, allow_nan=False))
    head = json.dumps({"format": FORMAT, **meta}, indent=1, sort_keys=False, default=str,
                      allow_nan=False)
    return ('{\n "meta": ' + head.replace("\n", "\n ") + ',\n "records": [\n  '
            + ",\n  ".join(lines) + "\n ]\n}\n")


def save_reference(path: Path, records: pd.DataFrame, meta: Mapping[str, Any]) -> None:
    if (records["status"] != "ok").any():
        raise UserError(f"--save-reference: {int((records['status'] != 'ok').sum())} job(s) "
                        "failed; not saving a reference with failed jobs")
    atomic_write_text(Path(path), reference_json(records, meta))


def load_reference(path: Path) -> tuple[dict[str, Any], pd.DataFrame]:
    """(meta, records) of a reference file; a UserError when it is not one."""
    try:
        blob = json.loads(Path(path).read_text())
        meta, rows = blob["meta"], blob["records"]
        if meta.get("format") != FORMAT:
            raise KeyError("format")
    except FileNotFoundError:
        raise UserError(f"--check {path}: no such file") from None
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise UserError(f"--check {path}: not a reference file "
                        f"({type(err).__name__}: {err})") from None
    frame = pd.DataFrame(rows)
    for c in REFERENCE_COLUMNS:
        if c not in frame:
            frame[c] = None
    for m in METRICS:
        frame[m] = pd.to_numeric(frame[m], errors="coerce").astype("float64")
    return meta, frame


def source_kind(source: str) -> str:
    return "synthetic" if "synthetic" in str(source).lower() else "real"


def check_compatible(meta: Mapping[str, Any], path: Path, *, suite: str, scale: str,
                     source: str | None = None) -> list[str]:
    """Refuse a reference of another suite, scale or kind of data; return notes on softer
    differences (another real data folder)."""
    for name, want in (("suite", suite), ("scale", scale)):
        if meta.get(name) != want:
            raise UserError(f"--check {path}: reference is for {name} {meta.get(name)!r}, this "
                            f"run is {name} {want!r}; use a reference of the same suite and scale")
    notes = []
    if source is not None and meta.get("source") is not None:
        if source_kind(meta["source"]) != source_kind(source):
            raise UserError(f"--check {path}: reference data source is {meta['source']!r}, this "
                            f"run's is {source!r}")
        if meta["source"] != source:
            notes.append(f"data source differs: reference {meta['source']!r}, run {source!r}")
    return notes


def environment_notes(meta: Mapping[str, Any], env: Mapping[str, Sequence[Any]]) -> list[str]:
    """Differences between the reference's environment and the run's records' (which matter
    for --exact: another torch, thread count or machine may change the last bits)."""
    notes = []
    for name in BITS_FIELDS:
        ours = sorted({str(v) for v in env.get(name, ())})
        theirs = meta.get(name)
        if theirs is not None and ours and ours != [str(theirs)]:
            notes.append(f"{name} differs: reference {theirs}, run {', '.join(ours)}")
    return notes


#: what must match for an exact comparison to mean anything: else it is refused, not failed
EXACT_FIELDS = ("torch", "device", "dtype", "threads", "cpu_kind", "cpu_capability", "kernels")


def check_exact_comparable(meta: Mapping[str, Any], env: Mapping[str, Sequence[Any]],
                           path: Path) -> None:
    """--exact compares last bits, which depend on torch, the device, the precision, the
    thread count, the CPU kind and the CPU kernels (bench.kernels) as well as on the code.
    Where any of these differs between the reference and the run, a changed value says
    nothing about the code, so the comparison is refused with a UserError naming the
    difference (a reference made before a field was recorded is not checked on it)."""
    for name in EXACT_FIELDS:
        theirs = meta.get(name)
        ours = [v for v in env.get(name, ()) if v is not None]
        if theirs is None or not ours or all(v == theirs for v in ours):
            continue
        shown = ", ".join(json.dumps(v, sort_keys=True) for v in ours)
        raise UserError(f"--check {path} --exact: the run's {name} ({shown}) differs from the "
                        f"reference's ({json.dumps(theirs, sort_keys=True)}), so its last bits "
                        "cannot be compared; run under the reference's settings (README, "
                        "'Checking a model change') or use the statistical check")


def records_environment(records_dir: Path, keys: Iterable[str]) -> dict[str, list[Any]]:
    """Distinct env values over the given records' JSON files."""
    seen: dict[str, list[Any]] = {f: [] for f in ENV_FIELDS}
    for key in dict.fromkeys(keys):
        try:
            env = json.loads((Path(records_dir) / f"{key}.json").read_text()).get("env", {})
        except (OSError, ValueError):
            continue
        for f in ENV_FIELDS:
            if f in env and env[f] not in seen[f]:
                seen[f].append(env[f])
    return seen


def reference_meta(*, suite: str, scale: str, scale_identity: Mapping[str, Any], source: str,
                   command: str, git_commit: str, git_dirty: bool, date: str,
                   env: Mapping[str, Sequence[Any]], experiments: Sequence[str],
                   methods: Sequence[str] | None, seeds: int,
                   datasets: Sequence[str] | None = None) -> dict[str, Any]:
    """Metadata stored with a reference; env fields with one value are stored as a scalar."""
    meta: dict[str, Any] = {"suite": suite, "scale": scale, "source": source, "command": command,
                            "git_commit": git_commit, "git_dirty": git_dirty, "date": date,
                            "experiments": list(experiments),
                            "methods": None if methods is None else list(methods),
                            "datasets": None if datasets is None else list(datasets),
                            "seeds": seeds}
    for name in BITS_FIELDS:
        values = list(env.get(name, ()))
        meta[name] = values[0] if len(values) == 1 else values
    meta["records_git_commits"] = list(env.get("git_commit", ()))
    meta["scale_identity"] = dict(scale_identity)
    return meta
