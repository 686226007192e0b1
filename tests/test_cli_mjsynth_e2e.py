"""The MJSynth suite end to end at smoke scale (built-in renderer), and a rerun that trains
nothing."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "run_all.py", "--suite", "mjsynth", "--scale",
                           "smoke", "--threads", "1", "--out", str(out), *extra],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def mj_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    t0 = time.perf_counter()
    proc = _run(out)
    return out, proc, time.perf_counter() - t0


def test_mjsynth_smoke_suite_writes_table4_and_figures(mj_run):
    out, proc, seconds = mj_run
    assert proc.returncode == 0, proc.stderr[-2000:]
    run_dir = out / "mjsynth-smoke"
    records = pd.read_csv(run_dir / "records.csv")
    assert set(records.experiment) == {"table4", "fig4", "fig6-mj", "fig8-mj"}
    assert (records.status == "ok").all()
    assert set(records[records.experiment == "table4"].method) == {
        "SDANN", "ML-GCN", "Semi-CNN", "Zero-shot", "AugCNN", "AugGCN", "NoisyOR-CNN"}
    table4 = (run_dir / "tables" / "table4.tex").read_text()
    assert "synthetic stand-in (built-in renderer)" in table4 and "MJSynth-2" in table4
    for fig in ("fig4", "fig5", "fig6-mj", "fig8-mj"):
        assert (run_dir / "figures" / f"{fig}.png").stat().st_size > 5_000
    report = (run_dir / "report.md").read_text()
    assert "synthetic stand-in (built-in renderer)" in report and "Table 4" in report
    figure5 = report.split("### Figure 5")[1].split("###")[0]  # with its generator's diagnostics
    assert "moves a pixel by" in figure5 and "correlation with the input" in figure5
    print(f"mjsynth smoke suite: {seconds:.1f}s")


def test_mjsynth_rerun_trains_nothing(mj_run):
    out, _, _ = mj_run
    before = (out / "mjsynth-smoke" / "records.csv").read_text()
    proc = _run(out)
    assert proc.returncode == 0
    assert "jobs to run" not in proc.stderr and "training" not in proc.stderr
    assert (out / "mjsynth-smoke" / "records.csv").read_text() == before


def test_bad_word_list_is_a_user_error(tmp_path):
    proc = _run(tmp_path, "--word-list", str(tmp_path / "missing.list"))
    err = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(err) == 1 and "word list not found" in err[0], err
