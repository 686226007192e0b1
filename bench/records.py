"""Records as a table: one row per (experiment, job), raw per-seed values, never formatted.

Columns: experiment, dataset, method, seed, status, error, mAP, AUC, the grid parameters as
p_<name> (p_n_synthetic, p_n_labeled, p_variant, p_alpha, p_beta, p_target_estimate: how an image
job's D_e got its target letters, absent for text), the realised sizes, source, scale, fit_s and
key. Aggregation (means, std with ddof=1, tests) happens in the reports.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.io import atomic_write_text
from bench.metrics import METRICS
from bench.runner import Job

PARAM_COLUMNS = ("p_n_synthetic", "p_n_labeled", "p_variant", "p_alpha", "p_beta",
                 "p_target_estimate")
SIZE_COLUMNS = ("n_labeled", "n_unlabeled", "n_val", "n_test", "n_train")


def records_frame(experiment_jobs: Iterable[tuple[str, Job]],
                  records: Mapping[Job, dict[str, Any]]) -> pd.DataFrame:
    rows = []
    for experiment, job in experiment_jobs:
        record = records[job]
        row: dict[str, Any] = {"experiment": experiment, "dataset": job.dataset,
                               "method": job.method, "seed": job.seed,
                               "status": record["status"], "error": record.get("error", "")}
        for metric in METRICS:
            row[metric] = record["metrics"].get(metric, np.nan)
        params = record.get("params", {})
        for column in PARAM_COLUMNS:
            row[column] = params.get(column[2:], np.nan)
        for column in SIZE_COLUMNS:
            row[column] = record.get("sizes", {}).get(column, np.nan)
        row.update(source=record["source"], scale=record["scale"],
                   fit_s=record.get("timings", {}).get("fit_s", np.nan), key=record["key"])
        rows.append(row)
    columns = (["experiment", "dataset", "method", "seed", "status", "error", *METRICS,
                *PARAM_COLUMNS, *SIZE_COLUMNS, "source", "scale", "fit_s", "key"])
    return pd.DataFrame(rows, columns=columns)


def write_records_csv(frame: pd.DataFrame, path: Path) -> None:
    atomic_write_text(path, frame.to_csv(index=False))
