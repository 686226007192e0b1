"""Per-epoch training curves of a method, every training stage of it (issue 14's diagnostic).

    python -m bench.curves --method ML-GCN --dataset stackoverflow-1 --seeds 0,1,2,3,4
        [--suite stackoverflow|mjsynth] [--scale quick] [--params NAME=VALUE,...]
        [--data-dir DIR] [--word-list FILE] [--out DIR] [--threads 1]

Each seed is trained exactly as a suite job (`runner.fit_method` with the job's resolved
params); `baselines.training.observe_epochs` reports every epoch of every `fit_multilabel`
call it makes (ML-GCN: stage 0 its warm-start backbone, stage 1 its GCN head; Zero-shot:
stage 0 its source classifier). Per epoch: the mean training loss, the validation loss early
stopping watches, and on the target columns the validation loss against the validation
part's targets (Eq. 19 for text, the job's forest estimate for images) and, where those
targets are 0/1, the validation mAP. Validation data only: no test set, no true target label.
The summary says, per seed and stage, how many epochs ran, which one early stopping kept and
whether that was the last (a run still improving when its epoch budget ended).
Writes <out>/curves/<dataset>-<scale>-<method>-<params>.md and .json.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from baselines.training import EpochReport, observe_epochs, predict_logits
from bench.io import atomic_write_json, atomic_write_text
from bench.method_runs import method_run_parser, prepare_or_report
from bench.methods import get_method
from bench.metrics import evaluate
from bench.runner import RunContext, fit_method, limit_threads

log = logging.getLogger("bench")


class CurveRecorder:
    """An epoch observer: one row per (stage, epoch) with the target columns' validation
    numbers. `n_classes` = |W| and `n_targets` = |T| say where the target columns are: the
    last |T| of a head over all of W, all of a head over T, none of a head over S."""

    def __init__(self, n_classes: int, n_targets: int, targets: list[str]):
        self.n_classes, self.n_targets, self.targets = n_classes, n_targets, targets
        self.rows: list[dict[str, Any]] = []

    def __call__(self, report: EpochReport) -> None:
        row = {"stage": report.stage, "epoch": report.epoch,
               "train_loss": report.train_loss, "val_loss": report.val_loss,
               "val_target_loss": None, "val_target_mAP": None}
        y_val = report.y_val
        if y_val is not None and y_val.shape[1] in (self.n_classes, self.n_targets):
            logits = predict_logits(report.model, report.x_val)[:, -self.n_targets:]
            y_t = y_val[:, -self.n_targets:].float()
            row["val_target_loss"] = F.binary_cross_entropy_with_logits(logits, y_t).item()
            if torch.all((y_t == 0) | (y_t == 1)):
                row["val_target_mAP"] = evaluate(y_t.numpy(), torch.sigmoid(logits).numpy()
                                                 .astype(np.float64), self.targets)["mAP"]
        self.rows.append(row)


def stage_summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per stage: epochs run, the epoch early stopping keeps (lowest validation loss, as
    `fit_multilabel` keeps it: an improvement must exceed 1e-4) and whether it is the last."""
    out = []
    for stage in sorted({r["stage"] for r in rows}):
        epochs = [r for r in rows if r["stage"] == stage]
        best, best_loss = None, float("inf")
        for r in epochs:
            if r["val_loss"] is not None and r["val_loss"] < best_loss - 1e-4:
                best, best_loss = r, r["val_loss"]
        out.append({"stage": stage, "epochs": len(epochs),
                    "kept_epoch": None if best is None else best["epoch"],
                    "kept_is_last": best is not None and best is epochs[-1],
                    "first_target_loss": epochs[0]["val_target_loss"],
                    "kept_target_loss": None if best is None else best["val_target_loss"]})
    return out


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def curves_markdown(runs: dict[int, list[dict[str, Any]]]) -> str:
    """A summary row per (seed, stage), then every epoch of every seed."""
    lines = ["| seed | stage | epochs run | kept epoch | kept = last | val target loss: "
             "epoch 0 -> kept |", "|---|---|---|---|---|---|"]
    for seed, rows in sorted(runs.items()):
        for s in stage_summary(rows):
            lines.append(f"| {seed} | {s['stage']} | {s['epochs']} | {s['kept_epoch']} | "
                         f"{'yes' if s['kept_is_last'] else 'no'} | "
                         f"{_fmt(s['first_target_loss'])} -> {_fmt(s['kept_target_loss'])} |")
    lines += ["", "| seed | stage | epoch | train loss | val loss (early stopping) | "
              "val target loss | val target mAP |", "|---|---|---|---|---|---|---|"]
    for seed, rows in sorted(runs.items()):
        lines += [f"| {seed} | {r['stage']} | {r['epoch']} | {r['train_loss']:.4f} | "
                  f"{_fmt(r['val_loss'])} | {_fmt(r['val_target_loss'])} | "
                  f"{_fmt(r['val_target_mAP'], 3)} |" for r in rows]
    return "\n".join(lines) + "\n"


def record_curves(split, method: str, params: dict[str, Any], seed: int,
                  ctx: RunContext) -> list[dict[str, Any]]:
    """Train one seed as a suite job and return its per-epoch rows."""
    recorder = CurveRecorder(len(split.graph.classes), len(split.targets), list(split.targets))
    with observe_epochs(recorder):
        fit_method(split, get_method(method), params, seed, ctx)
    return recorder.rows


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="bench: %(message)s", stream=sys.stderr)
    p = method_run_parser("python -m bench.curves", __doc__.splitlines()[0], "ML-GCN")
    args = p.parse_args(argv)
    run = prepare_or_report(args, "curves")
    if run is None:
        return 2
    limit_threads(args.threads)
    split, ctx, params = run.split, run.ctx, run.params
    runs = {}
    for seed in run.seeds:
        runs[seed] = record_curves(split, args.method, params, seed, ctx)
        kept = ", ".join(f"stage {s['stage']} kept epoch {s['kept_epoch']} of {s['epochs']}"
                         for s in stage_summary(runs[seed]))
        log.info("seed %d: %s", seed, kept)
    name = run.name
    text = (f"# Training curves of {args.method}: {args.dataset}, scale {ctx.scale.name}\n\n"
            f"Data: {split.source}; sizes {split.sizes}; job params {params}. Validation data "
            f"only.\n\n{curves_markdown(runs)}")
    atomic_write_json(ctx.run_dir / f"{name}.json", {"params": params, "runs": runs})
    atomic_write_text(ctx.run_dir / f"{name}.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
