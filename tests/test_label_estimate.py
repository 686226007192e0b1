"""Issue 17: label-estimate metrics (oracle analysis) and soft / prevalence targets of D_e."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from baselines.training import TrainConfig, fit_multilabel
from bench.data.wordgraph import TARGET_ESTIMATES, prevalence_thresholds
from bench.errors import UserError
from bench.estimate_compare import soft_bce
from bench.label_estimate import estimate_quality, label_estimate_rows, rows_markdown
from bench.methods import MethodContext, get_method
from bench.runner import RunContext, training_data
from bench.scales import get_scale


def test_estimate_quality_by_hand():
    truth = np.array([1, 1, 0, 0])
    # 0/1 estimate: one positive found, one tied with both negatives -> AUC (2 + 2 x 0.5) / 4
    hard = estimate_quality(truth, np.array([1, 0, 0, 0]))
    assert hard["AUC"] == pytest.approx(0.75)
    assert hard["AP"] == pytest.approx(0.5 * 1.0 + 0.5 * 0.5)  # recall 1/2 at precision 1, ...
    assert hard["predicted prevalence"] == pytest.approx(0.25)
    assert hard["true prevalence"] == pytest.approx(0.5)
    # ranking 0.9 (pos), 0.6 (neg), 0.4 (pos), 0.1 (neg): 3 of 4 pairs in order
    soft = estimate_quality(truth, np.array([0.9, 0.4, 0.6, 0.1]))
    assert soft["AUC"] == pytest.approx(0.75)
    assert soft["AP"] == pytest.approx(0.5 * 1.0 + 0.5 * 2 / 3)
    assert soft["predicted prevalence"] == pytest.approx(0.5)
    assert np.isnan(estimate_quality(np.ones(3), np.array([0.1, 0.2, 0.3]))["AUC"])


def test_prevalence_threshold_by_hand():
    p = np.array([[0.1, 0.9], [0.2, 0.9], [0.3, 0.5], [0.4, 0.2]])
    # column 0: p >= 0.3 marks half; column 1: ties at 0.9 mark 1/2, 0.5 marks 3/4
    assert prevalence_thresholds(p, np.array([0.5, 0.7])).tolist() == pytest.approx([0.3, 0.5])


def test_label_estimate_rows_on_mjsynth(mj_split2):
    rows = label_estimate_rows(mj_split2)
    assert [(r["target"], r["estimate"]) for r in rows] == [
        (t, m) for t in mj_split2.targets for m in TARGET_ESTIMATES]
    truth = mj_split2.oracle_target_labels("labeled")
    probabilities = mj_split2.graph.target_probabilities(mj_split2.y_s)
    for j, target in enumerate(mj_split2.targets):
        soft = next(r for r in rows if r["target"] == target and r["estimate"] == "soft")
        assert soft["predicted prevalence"] == pytest.approx(probabilities[:, j].mean())
        assert soft["true prevalence"] == pytest.approx(truth[:, j].mean())
    assert "| mjsynth-2 | a | soft |" in rows_markdown(rows)


def test_text_split_has_only_the_hard_estimate(smoke_split):
    rows = label_estimate_rows(smoke_split)
    assert {r["estimate"] for r in rows} == {"hard"}
    with pytest.raises(UserError, match="0/1 targets only"):
        smoke_split.estimated_targets(smoke_split.y_s, "soft")


def test_estimate_modes_on_the_forest(mj_split):
    p = mj_split.graph.target_probabilities(mj_split.y_s)
    np.testing.assert_array_equal(mj_split.estimated_targets(mj_split.y_s, "soft"), p)
    np.testing.assert_array_equal(mj_split.estimated_targets(mj_split.y_s), p >= 0.5)
    at_prevalence = mj_split.estimated_targets(mj_split.y_s, "prevalence")
    np.testing.assert_array_equal(at_prevalence, p >= mj_split.graph.prevalence_thresholds)
    with pytest.raises(UserError, match="unknown"):
        mj_split.estimated_targets(mj_split.y_s, "fuzzy")


def test_soft_targets_reach_the_loss_unchanged(mj_split, tmp_path, cache_dir):
    """D_e with target_estimate=soft carries the forest's probabilities, and SDANN's loss
    receives exactly those values, batch by batch."""
    ctx = RunContext("mjsynth", get_scale("smoke"), tmp_path, cache_dir)
    spec = get_method("SDANN")
    x, y = training_data(mj_split, spec, {"target_estimate": "soft"}, 0, ctx)
    soft = mj_split.graph.target_probabilities(mj_split.y_s)
    np.testing.assert_array_equal(y[:, mj_split.graph.n_inexact:], soft)
    assert ((soft > 0) & (soft < 1)).any(), "the forest gave only 0/1 probabilities"

    estimator = spec.build(MethodContext(ctx.scale, 0, "image", 0,
                                         TrainConfig(max_epochs=1, batch_size=32), {}))
    seen = []

    def spy(logits, target):
        seen.append(target.detach().clone())
        return torch.nn.functional.binary_cross_entropy_with_logits(logits, target)

    estimator.loss = spy
    estimator.fit(x, y, graph=mj_split.graph)
    received = torch.cat(seen).numpy()
    expected = estimator._columns(y, mj_split.graph)
    assert received.shape == expected.shape
    # every row once per epoch, in a shuffled order: compare as multisets of rows
    np.testing.assert_array_equal(np.sort(received, axis=0), np.sort(expected, axis=0))


def test_tiny_fit_against_probabilities_learns_them():
    """A bias-only model trained with BCE on soft targets converges to the targets' mean
    (0/1 targets of the same rows could not give 0.3)."""
    x = torch.zeros(64, 1)
    y = torch.full((64, 1), 0.3)
    model = nn.Linear(1, 1)
    fit_multilabel(model, x, y, config=TrainConfig(max_epochs=300, batch_size=64, lr=0.05),
                   seed=0)
    assert torch.sigmoid(model(x[:1])).item() == pytest.approx(0.3, abs=0.01)


def test_soft_bce_by_hand():
    assert soft_bce(np.array([0.5]), np.array([0.5])) == pytest.approx(np.log(2))
    assert soft_bce(np.array([1.0, 0.0]), np.array([0.5, 0.5])) == pytest.approx(np.log(2))


def test_mjcpu_tier_has_the_paper_image_sizes_and_a_dry_run(tmp_path, capsys):
    from bench.cli import main

    mjcpu, quick, paper = get_scale("mjcpu"), get_scale("quick"), get_scale("paper")
    sizes = ("mj_n_labeled", "mj_n_unlabeled", "mj_n_test")
    assert [getattr(mjcpu, f) for f in sizes] == [getattr(paper, f) for f in sizes]
    assert mjcpu.identity("text") == {**quick.identity("text"), "name": "mjcpu"}
    assert main(["--suite", "mjsynth", "--scale", "mjcpu", "--jobs", "1", "--dry-run",
                 "--out", str(tmp_path / "r")]) == 0
    text = capsys.readouterr().out
    assert "Dry run of mjsynth at scale mjcpu" in text and "D_s of 6000 images" in text
    assert not (tmp_path / "r").exists()


def test_compare_summary_selects_the_lowest_validation_loss():
    from bench.estimate_compare import summary_markdown

    def result(estimate, seed, bce, auc):
        return {"estimate": estimate, "seed": seed, "val_bce_vs_forest": bce,
                "test": {"AUC": auc, "mAP": auc}}

    results = [result("hard", 0, 0.9, 0.52), result("soft", 0, 0.6, 0.56),
               result("hard", 1, 0.8, 0.54), result("soft", 1, 0.7, 0.59)]
    text = summary_markdown(results)
    assert "selected on validation (lowest BCE): **soft**" in text
    assert "| soft | 0,1 |" in text and "+0.045" in text  # mean paired AUC gain


def _table4_jobs(scale):
    from bench.experiments import EXPERIMENTS, expand

    return {(j.dataset, j.method, j.seed): j for j in expand(EXPERIMENTS["table4"], scale)}


def test_image_jobs_name_their_target_estimate_and_keys_differ(tmp_path, cache_dir, monkeypatch):
    """Soft is the MJSynth default and part of every image job's params; hard (selected by
    name) gets other keys, and a record of a job without the parameter (the old 0/1 default)
    is reused neither as soft nor as hard. Text jobs do not get the parameter."""
    from dataclasses import replace

    import bench.runner as runner
    from bench.experiments import resolve_params
    from bench.runner import Job, job_key, run_jobs

    smoke = get_scale("smoke")
    hard_scale = replace(smoke, mj_target_estimate="hard")
    assert smoke.identity("image") == hard_scale.identity("image")  # only the params differ
    soft_jobs, hard_jobs = _table4_jobs(smoke), _table4_jobs(hard_scale)
    assert soft_jobs.keys() == hard_jobs.keys() and soft_jobs
    assert {j.param_dict["target_estimate"] for j in soft_jobs.values()} == {"soft"}
    assert {j.param_dict["target_estimate"] for j in hard_jobs.values()} == {"hard"}
    assert "target_estimate" not in dict(resolve_params("text-CNN", {}, smoke, "text"))

    ctx = RunContext("mjsynth", smoke, tmp_path / "run", cache_dir)
    soft, hard = soft_jobs["mjsynth-1", "SDANN", 0], hard_jobs["mjsynth-1", "SDANN", 0]
    old = Job(soft.dataset, soft.method, soft.seed,
              tuple(kv for kv in soft.params if kv[0] != "target_estimate"))
    assert len({job_key(soft, ctx), job_key(hard, ctx), job_key(old, ctx)}) == 3

    ran = []

    def fake_run(job, ctx, split=None):
        ran.append(job)
        return {"key": job_key(job, ctx), "status": "ok", "metrics": {"AUC": 0.5},
                "timings": {}}

    monkeypatch.setattr(runner, "run_job", fake_run)
    run_jobs([old], ctx)
    run_jobs([soft, hard], ctx)
    assert ran == [old, soft, hard]  # the old record was there and served neither
    run_jobs([old, soft, hard], ctx)
    assert ran == [old, soft, hard]  # while each job's own record is reused


def test_estimate_compare_reads_job_params():
    from bench.errors import UserError
    from bench.method_runs import parse_params

    assert parse_params("target_share=0.5,warm_start=false,nodes=semantic") == {
        "target_share": 0.5, "warm_start": False, "nodes": "semantic"}
    assert parse_params("") == {}
    with pytest.raises(UserError, match="NAME=VALUE"):
        parse_params("target_share")
