"""The performance command measures what it says: rows for the peak and for each model, and a
cost data file the dry-run can read."""

import pytest

from bench import costs, perf
from bench.costs import Shapes
from bench.scales import get_scale


def test_perf_rows_for_peak_and_models():
    rows = perf.run(["text-CNN", "GRU", "ML-GCN head"], repeats=1, tiers=("paper",))
    names = [r["model"] for r in rows]
    assert names == ["matmul peak fp32", "text-CNN", "GRU", "ML-GCN head"]
    for row in rows[1:]:
        assert row["ms/call"] > 0 and row["examples/s"] > 0 and row["shapes"] == "paper"
    assert 0 < rows[1]["of peak"] < 1.5  # convolutions: FLOPs are counted


@pytest.mark.slow
def test_every_benchmark_runs_at_smoke_shapes_in_bf16():
    rows = perf.run(None, repeats=1, dtype="bf16", tiers=("smoke",))
    assert rows[0]["model"] == "matmul peak bf16"
    assert [r["model"] for r in rows[1:]] == [b.name for b in perf.BENCHMARKS]
    assert all(r["seconds/unit"] > 0 for r in rows[1:])


def test_a_text_and_an_image_benchmark_run_in_bf16():
    """The default run's share of the slow test above (which costs ~100 s on 2 busy cores)."""
    rows = perf.run(["text ADDES", "SDANN"], repeats=1, dtype="bf16", tiers=("smoke",))
    assert [r["model"] for r in rows] == ["matmul peak bf16", "SDANN", "text ADDES"]
    assert all(r["seconds/unit"] > 0 for r in rows[1:])


def test_save_writes_a_loadable_cost_data_file(tmp_path):
    path = tmp_path / "cost_data.json"
    assert perf.main(["--models", "text-CNN", "--repeats", "1", "--shapes", "smoke",
                      "--threads", "1", "--save", str(path)]) == 0
    entry = costs.load_cost_data(path).entry("cpu", "fp32")
    assert entry.threads == 1 and entry.data["command"].startswith("python -m bench.perf")
    at = costs.work("text-CNN", Shapes.of(get_scale("smoke")))
    assert entry.seconds_per_unit("text-CNN", at) > 0
    assert entry.seconds_per_unit("GRU", at) is None
    # a second dtype is added beside the first
    assert perf.main(["--models", "text-CNN", "--repeats", "1", "--shapes", "smoke",
                      "--threads", "1", "--dtype", "bf16", "--save", str(path)]) == 0
    assert set(costs.load_cost_data(path).entries) == {"cpu/fp32", "cpu/bf16"}


def test_run_all_perf_alias_is_wired(monkeypatch):
    from bench.cli import main

    seen = {}
    monkeypatch.setattr(perf, "main", lambda argv: seen.setdefault("argv", argv) and 0 or 0)
    assert main(["--perf", "--threads", "1", "--device", "cpu", "--dtype", "bf16"]) == 0
    assert seen["argv"] == ["--device", "cpu", "--dtype", "bf16", "--threads", "1"]


def test_plain_pytorch_comparison_times_both_sides():
    from bench.perf_plain import compare

    rows = compare(vocab=200, embed=16, hidden=8, maps=4, length=8, batch=8, repeats=2)
    assert [r["model"] for r in rows] == ["text-CNN", "GRU"]
    for row in rows:
        assert row["ours ms/batch"] > 0 and row["plain PyTorch ms/batch"] > 0
        assert row["ours / plain"] == row["ours ms/batch"] / row["plain PyTorch ms/batch"]
