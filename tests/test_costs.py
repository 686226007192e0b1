"""The cost model: batch arithmetic on hand-computed cases, interpolation, estimates."""

from __future__ import annotations

import pytest

from bench import costs, perf
from bench.costs import CostEntry, Part, Shapes
from bench.plan import simulate_wall
from bench.scales import get_scale

SMOKE = get_scale("smoke")  # D_l 200, D_u 300, val 100, test 400, batch 64, 3 epochs


def test_classifier_batches_by_hand():
    w = costs.work("text-CNN", Shapes.of(SMOKE))
    # per epoch ceil(200 / 64) = 4 batches + a validation pass of ceil(100 / 64) = 2 batches
    # at 1/3; 3 epochs; then the test set: ceil(400 / 64) = 7 batches at 1/3
    fit, predict = costs.job_parts("text-CNN", "text", {}, SMOKE)
    assert fit == Part("text-CNN", pytest.approx(3 * (4 + 2 / 3)), w)
    assert predict == Part("text-CNN", pytest.approx(7 / 3), w)
    # AugCNN trains on D_e + D_s: 200 + 200 titles = ceil(400 / 64) = 7 batches an epoch
    aug = costs.job_parts("AugCNN", "text", {"n_synthetic": 200}, SMOKE)
    assert aug[0].units == pytest.approx(3 * (7 + 2 / 3))
    # Semi-CNN: 3 lambda candidates, each a fit and a validation pass
    semi = costs.job_parts("Semi-CNN", "text", {}, SMOKE)
    assert semi[0] == Part("Semi-CNN", pytest.approx(3 * 3 * (4 + 2 / 3)),
                           costs.work("Semi-CNN", Shapes.of(SMOKE)))
    assert costs.job_parts("an unknown method", "text", {}, SMOKE) is None


def test_generator_batches_by_hand():
    s = Shapes.of(SMOKE)
    phase1, joint = costs.generator_parts("text", SMOKE)
    # phase 1: 1 epoch of ceil(200 / 64) = 4 batches + validation 2 / 3, then q_C over D_u:
    # ceil(300 / 64) = 5 batches at 1/3
    assert phase1 == Part("text ADDES classifier", pytest.approx(4 + 2 / 3 + 5 / 3),
                          costs.work("text ADDES classifier", s))
    # phases 2 and 3 (1 epoch each): ceil(max(200, 300) / 32) = 10 steps + validation 2 / 3
    assert joint == Part("text ADDES", pytest.approx(2 * (10 + 2 / 3)), costs.work("text ADDES", s))
    assert costs.synthetic_parts("image", SMOKE, 128) == [
        Part("image ADDES generation", 128, costs.work("image ADDES generation", s))]


def test_interpolation_is_linear_in_work_through_the_nearest_points():
    points = [(1.0, 1.0), (11.0, 2.0), (111.0, 12.0)]
    assert costs.interpolate(points, 6.0) == pytest.approx(1.5)
    assert costs.interpolate(points, 61.0) == pytest.approx(7.0)
    assert costs.interpolate(points, 211.0) == pytest.approx(22.0)  # the end segment
    assert costs.interpolate([(10.0, 2.0)], 5.0) == pytest.approx(1.0)  # one point: proportional
    assert costs.interpolate([(1.0, 2.0), (1.0, 4.0)], 1.0) == pytest.approx(3.0)


def test_estimate_counts_core_seconds_and_reports_unmeasured():
    entry = CostEntry("cpu/fp32", {"device": "cpu", "dtype": "fp32", "threads": 2,
                                   "benchmarks": {"GRU": {"unit": "batch", "points": {
                                       "paper": {"work": 100.0, "seconds": 0.5}}}}})
    est = costs.estimate([Part("GRU", 10, 100.0), Part("SDANN", 3, 1.0)], entry, factor=0.5)
    assert est.seconds == pytest.approx(10 * 0.5 * 2 * 0.5)
    assert est.unmeasured == {"SDANN"}


def test_every_benchmark_has_a_work_proxy_growing_with_the_tier():
    assert {b.name for b in perf.BENCHMARKS} == set(costs.WORK)
    small, paper = Shapes.of(get_scale("smoke")), Shapes.of(get_scale("paper"))
    for name in costs.WORK:
        if name != "TF-IDF+LR":  # per title: shape-free
            assert costs.work(name, small) < costs.work(name, paper), name


def test_committed_cost_data_loads_with_cpu_and_gpu_entries():
    data = costs.load_cost_data()
    for dtype in ("fp32", "bf16"):
        entry = data.entry("cpu", dtype)
        assert {b.name for b in perf.BENCHMARKS} <= set(entry.data["benchmarks"])
    gpu = data.gpu_entry("fp32")
    assert gpu.data["machine"]["gpu"] == "NVIDIA H200"
    paper = Shapes.of(get_scale("paper"))
    at = costs.work("text ADDES", paper)
    assert gpu.seconds_per_unit("text ADDES", at) == pytest.approx(0.048)
    assert gpu.seconds_per_unit("GRU", 1.0) is None


def test_simulated_wall_time_waits_for_shared_artifacts():
    # two workers; jobs 1 and 2 need generator g (10 s): job 1 builds it, job 2 waits for it
    jobs = [(1.0, [("g", 10.0)]), (2.0, [("g", 10.0)]), (4.0, [])]
    # worker A: g 0-10, job 1 10-11; worker B: waits 0-10, job 2 10-12; job 3 on A 11-15
    assert simulate_wall(jobs, workers=2) == pytest.approx(15.0)
    assert simulate_wall(jobs, workers=1) == pytest.approx(17.0)


def test_sopaper_tier_has_the_paper_text_sizes_and_a_generator_within_two_hours(tmp_path,
                                                                                 capsys):
    """Issue 13's tier: the paper's Stack Overflow sizes and widths; one generator at its max
    epochs within 2 h of a 2-core CPU by the committed cost data; covered by --dry-run."""
    from bench.cli import main

    tier, paper = get_scale("sopaper"), get_scale("paper")
    same = ("n_labeled", "n_unlabeled", "vocab_size", "max_len", "embed_dim", "cnn_maps",
            "gru_hidden", "addes_embed", "addes_hidden", "addes_latent", "n_synthetic")
    assert [getattr(tier, f) for f in same] == [getattr(paper, f) for f in same]
    assert tier.n_test >= 3000 and tier.identity("image") == {
        **get_scale("quick").identity("image"), **tier.identity("text")}
    entry = costs.load_cost_data().entry("cpu", "fp32")
    core_seconds = costs.estimate(costs.generator_parts("text", tier), entry).seconds
    assert core_seconds / 2 <= 2 * 3600
    assert main(["--suite", "stackoverflow", "--scale", "sopaper", "--jobs", "1", "--dry-run",
                 "--out", str(tmp_path / "r")]) == 0
    text = capsys.readouterr().out
    assert "Dry run of stackoverflow at scale sopaper" in text
    assert "D_s of 30000 titles" in text and not (tmp_path / "r").exists()
