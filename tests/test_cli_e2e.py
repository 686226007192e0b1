"""The real command end to end at smoke scale, and a rerun that trains nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "run_all.py", "--suite", "stackoverflow", "--scale",
                           "smoke", "--threads", "1", "--out", str(out), *extra],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    t0 = time.perf_counter()
    proc = _run(out)
    return out, proc, time.perf_counter() - t0


def test_smoke_suite_runs_every_experiment(smoke_run):
    out, proc, seconds = smoke_run
    assert proc.returncode == 0, proc.stderr[-2000:]
    run_dir = out / "stackoverflow-smoke"
    records = pd.read_csv(run_dir / "records.csv")
    assert set(records.experiment) == {"table2", "fig3", "fig6", "fig7", "fig8"}
    assert (records.status == "ok").all()
    assert records[["mAP", "AUC"]].notna().all().all()
    for name in ("table2.tex", "table3.tex"):
        assert (run_dir / "tables" / name).stat().st_size > 500
    for fig in ("fig3", "fig6", "fig7", "fig8"):
        assert (run_dir / "figures" / f"{fig}.png").stat().st_size > 10_000
    report = (run_dir / "report.md").read_text()
    assert "synthetic stand-in" in report and "Table 2" in report
    print(f"smoke suite: {seconds:.1f}s")


def test_rerun_trains_nothing_and_keeps_results(smoke_run):
    out, _, _ = smoke_run
    run_dir = out / "stackoverflow-smoke"
    before = (run_dir / "records.csv").read_text()
    t0 = time.perf_counter()
    proc = _run(out)
    seconds = time.perf_counter() - t0
    assert proc.returncode == 0
    assert "jobs to run" not in proc.stderr and "training" not in proc.stderr
    assert (run_dir / "records.csv").read_text() == before
    assert seconds < 15  # < 5 s on an idle 2-core machine; slack for a loaded CI host


def test_a_variant_drawing_from_the_published_generator_trains_no_generator(smoke_run, tmp_path):
    """ADDES-tied's default Table 2 and Figure 7 columns come from the published generators the
    suite trains (a D_s of their own, no generator of their own), beside the published columns."""
    from bench.experiments import EXPERIMENTS
    from bench.plan import plan_artifacts, plan_jobs
    from bench.runner import RunContext
    from bench.scales import get_scale

    out, proc, _ = smoke_run
    assert proc.returncode == 0, proc.stderr[-2000:]
    smoke = get_scale("smoke")
    ctx = RunContext("stackoverflow", smoke, tmp_path / "run", tmp_path / "cache")
    suite = [e for e in EXPERIMENTS.values() if e.suite == "stackoverflow"]
    without_tied = [p for p in plan_jobs(ctx, suite, None)
                    if p.job.param_dict.get("variant") != "ADDES-tied"]
    generators = sum(a.name.endswith("generator")
                     for a in plan_artifacts(without_tied, smoke).values())
    assert len(list((out / "cache" / "generators").glob("*.pt"))) == generators > 0
    run_dir = out / "stackoverflow-smoke"
    records = pd.read_csv(run_dir / "records.csv")
    tied = records[records.p_variant == "ADDES-tied"]
    assert set(tied.method) == {"AugCNN", "AugGCN", "AugLR"} and (tied.status == "ok").all()
    assert set(tied.experiment) == {"table2", "fig7"}
    assert set(records[records.p_variant == "ADDES"].method) >= {"AugCNN", "AugGCN", "AugLR"}
    table2 = (run_dir / "tables" / "table2.tex").read_text()
    assert "ADDES-tied" in table2 and "AugCNN" in table2


def test_seed_shards_merge_into_the_whole_run_retraining_nothing(smoke_run, tmp_path):
    """--only-seeds 0 and 1 on two "machines", their records/ copied into one run folder: the
    whole run reports both seeds and trains nothing, with the keys and values of the run that
    did every seed at once."""
    out, _, _ = smoke_run
    chosen = ("--experiments", "table2", "--methods", "TF-IDF+LR")
    merged = tmp_path / "merged" / "stackoverflow-smoke" / "records"
    merged.mkdir(parents=True)
    for seed in (0, 1):
        shard = tmp_path / f"shard{seed}"
        proc = _run(shard, *chosen, "--only-seeds", str(seed))
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert set(pd.read_csv(shard / "stackoverflow-smoke" / "records.csv").seed) == {seed}
        report = (shard / "stackoverflow-smoke" / "report.md").read_text()
        assert f"seeds: {seed} of 0-1 (a shard" in report
        for record in (shard / "stackoverflow-smoke" / "records").glob("*.json"):
            record.rename(merged / record.name)
    proc = _run(tmp_path / "merged", *chosen)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "jobs to run" not in proc.stderr
    records = pd.read_csv(merged.parent / "records.csv")
    assert len(records) == 4 and set(records.seed) == {0, 1}
    for row in records.itertuples():  # the whole suite's record of the same job
        at_once = json.loads((out / "stackoverflow-smoke" / "records" / f"{row.key}.json")
                             .read_text())["metrics"]
        assert (row.mAP, row.AUC) == (at_once["mAP"], at_once["AUC"])


def test_list_prints_methods_and_scales():
    proc = subprocess.run([sys.executable, "run_all.py", "--list"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    for word in ("text-CNN", "AugCNN", "ML-GCN", "smoke", "quick", "paper", "table2", "fig8"):
        assert word in proc.stdout
