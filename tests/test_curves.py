"""bench.curves: per-epoch training curves through `observe_epochs` (issue 14)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from baselines import training
from bench import curves
from bench.errors import UserError
from bench.experiments import resolve_params
from bench.method_runs import parse_seeds
from bench.methods import get_method
from bench.runner import RunContext, fit_method
from bench.scales import get_scale


def test_stage_summary_keeps_the_epoch_early_stopping_keeps():
    """An improvement must exceed 1e-4 (as fit_multilabel): epoch 2's 0.49995 does not beat
    epoch 1's 0.5, so epoch 1 is kept and is not the last; stage 1's last epoch is kept."""
    rows = [{"stage": 0, "epoch": e, "val_loss": v, "val_target_loss": t}
            for e, (v, t) in enumerate([(0.6, 0.7), (0.5, 0.65), (0.49995, 0.64)])]
    rows += [{"stage": 1, "epoch": e, "val_loss": v, "val_target_loss": None}
             for e, v in enumerate([0.4, 0.3])]
    s0, s1 = curves.stage_summary(rows)
    assert (s0["epochs"], s0["kept_epoch"], s0["kept_is_last"]) == (3, 1, False)
    assert (s0["first_target_loss"], s0["kept_target_loss"]) == (0.7, 0.65)
    assert (s1["kept_epoch"], s1["kept_is_last"]) == (1, True)


def test_observing_records_both_ml_gcn_stages_and_changes_nothing(smoke_split, cache_dir):
    """ML-GCN warm-started trains in two stages (backbone, GCN head), each reported per
    epoch with the target columns' validation numbers (Eq. 19 targets are 0/1, so mAP too);
    the observed fit predicts exactly what an unobserved one does."""
    scale = get_scale("smoke")
    ctx = RunContext("stackoverflow", scale, cache_dir / "runs", cache_dir, None)
    params = dict(resolve_params("ML-GCN", {}, scale, "text"))
    rows = curves.record_curves(smoke_split, "ML-GCN", params, 0, ctx)
    stages = {r["stage"] for r in rows}
    assert stages == {0, 1}
    for stage in stages:
        epochs = [r["epoch"] for r in rows if r["stage"] == stage]
        assert epochs == list(range(len(epochs))) and 1 <= len(epochs) <= scale.max_epochs
    assert all(r["train_loss"] > 0 and r["val_loss"] > 0 for r in rows)
    assert all(r["val_target_loss"] > 0 and 0 <= r["val_target_mAP"] <= 1 for r in rows)
    plain, _ = fit_method(smoke_split, get_method("ML-GCN"), params, 1, ctx)
    recorder = curves.CurveRecorder(len(smoke_split.graph.classes), len(smoke_split.targets),
                                    list(smoke_split.targets))
    with curves.observe_epochs(recorder):
        watched, _ = fit_method(smoke_split, get_method("ML-GCN"), params, 1, ctx)
    assert recorder.rows and not training._observers  # the context leaves no observer behind
    np.testing.assert_array_equal(plain.predict_proba(smoke_split.test),
                                  watched.predict_proba(smoke_split.test))


def test_cli_at_smoke_scale_writes_the_curves(tmp_path, capsys):
    args = ["--method", "text-CNN", "--scale", "smoke", "--seeds", "0,1", "--out", str(tmp_path)]
    assert curves.main(args) == 0
    out = capsys.readouterr().out
    assert "| 0 | 0 |" in out and "| 1 | 0 |" in out and "kept epoch" in out
    saved = json.loads((tmp_path / "curves" / "stackoverflow-1-smoke-text-CNN.json").read_text())
    assert set(saved["runs"]) == {"0", "1"}
    assert curves.main(["--method", "nope", "--out", str(tmp_path)]) == 2
    assert curves.main(["--seeds", "x", "--out", str(tmp_path)]) == 2
    assert "error:" in capsys.readouterr().err


@pytest.mark.parametrize("n_out", [1, 3])
def test_recorder_skips_target_numbers_of_a_source_only_stage(n_out):
    """A stage over S only (Zero-shot's source classifier) has no target columns."""
    import torch

    from baselines.training import EpochReport

    recorder = curves.CurveRecorder(n_classes=5, n_targets=2, targets=["a", "b"])
    model = torch.nn.Linear(4, n_out)
    x, y = torch.randn(6, 4), torch.ones(6, n_out)
    recorder(EpochReport(0, 0, 0.5, 0.4, model, x, y))
    assert recorder.rows[0]["val_target_loss"] is None


def test_seed_lists_are_distinct_non_negative_and_errors_name_the_option():
    assert parse_seeds("3, 1,3") == [3, 1]
    for bad in ("", "x", "-1", "1,,b"):
        with pytest.raises(UserError, match="^--only-seeds: comma-separated seeds"):
            parse_seeds(bad, "--only-seeds")
