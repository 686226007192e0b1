"""The performance command measures what it says: rows for the peak and for each model."""

from bench import perf


def test_perf_rows_for_peak_and_models():
    rows = perf.run(["text-CNN", "GRU", "ML-GCN head"], repeats=1)
    names = [r["model"] for r in rows]
    assert names == ["matmul peak fp32", "matmul peak bf16", "text-CNN", "GRU", "ML-GCN head"]
    for row in rows[2:]:
        assert row["ms/batch"] > 0 and row["examples/s"] > 0
    assert 0 < rows[2]["of fp32 peak"] < 1.5  # convolutions: FLOPs are counted


def test_run_all_perf_alias_is_wired(monkeypatch):
    from bench.cli import main

    seen = {}
    monkeypatch.setattr(perf, "main", lambda argv: seen.setdefault("argv", argv) and 0 or 0)
    assert main(["--perf", "--threads", "1"]) == 0
    assert seen["argv"] == ["--threads", "1"]
