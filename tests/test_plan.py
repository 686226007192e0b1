"""run_all.py --dry-run: prints the grid and totals, trains and writes nothing, counts
finished jobs as done."""

from __future__ import annotations

import json
from pathlib import Path

from bench.cli import main
from bench.data.splits import DEFAULT_RELATIONS
from bench.experiments import EXPERIMENTS, expand, on_datasets, on_seeds
from bench.runner import RunContext, job_key
from bench.scales import get_scale

ARGS = ["--suite", "stackoverflow", "--scale", "smoke", "--jobs", "1", "--threads", "1",
        "--dry-run"]


def _tree(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*")}


def test_dry_run_prints_grid_and_totals_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "results"
    assert main([*ARGS, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert not out.exists()  # no run folder, no records, no cache
    assert "Dry run of stackoverflow at scale smoke" in text and "0 already recorded" in text
    for expected in ("table2", "fig8", "AugCNN", "n_synthetic=0", "text ADDES generator",
                     "D_s of 200 titles", "Estimated wall time with --jobs 1", "core-hours",
                     "GPU (NVIDIA H200"):
        assert expected in text, expected
    assert "no GPU measurement recorded for" in text  # the GPU total is partial, and says so


def test_finished_jobs_count_as_done_and_calibrate(tmp_path, capsys):
    out = tmp_path / "results"
    ctx = RunContext("stackoverflow", get_scale("smoke"), out / "stackoverflow-smoke",
                     out / "cache", relations=DEFAULT_RELATIONS)
    job = next(j for j in expand(EXPERIMENTS["table2"], ctx.scale) if j.method == "GRU")
    key = job_key(job, ctx)
    record = {"key": key, "dataset": job.dataset, "method": job.method, "seed": job.seed,
              "params": job.param_dict, "scale": "smoke", "status": "ok", "metrics": {"mAP": 0.5},
              "env": {"threads": 1}, "timings": {"data_s": 0.0, "fit_s": 2.0, "predict_s": 0.1}}
    records = ctx.records_dir
    records.mkdir(parents=True)
    (records / f"{key}.json").write_text(json.dumps(record))
    before = _tree(out)
    assert main([*ARGS, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert _tree(out) == before  # nothing written, nothing touched
    assert "1 already recorded" in text
    gru = [line.split() for line in text.splitlines()
           if line.startswith("table2") and " GRU " in line and job.dataset in line]
    assert gru[0][3:5] == ["2", "1"]  # 2 seeds, 1 done
    assert "this run's records (1)" in text


def test_cost_data_without_gpu_entry_says_so(tmp_path, capsys):
    committed = json.loads((Path(__file__).parents[1] / "bench" / "cost_data.json").read_text())
    cpu_only = {**committed, "entries": {"cpu/fp32": committed["entries"]["cpu/fp32"]}}
    path = tmp_path / "costs.json"
    path.write_text(json.dumps(cpu_only))
    assert main([*ARGS, "--out", str(tmp_path / "r"), "--cost-data", str(path),
                 "--experiments", "table2", "--methods", "GRU"]) == 0
    text = capsys.readouterr().out
    assert "GPU: no GPU measurement recorded" in text
    assert "text ADDES generator" not in text and "One-off costs: none" in text


def test_dry_run_of_the_image_suite(tmp_path, capsys):
    assert main(["--suite", "mjsynth", "--scale", "smoke", "--jobs", "2", "--dry-run",
                 "--out", str(tmp_path / "r")]) == 0
    text = capsys.readouterr().out
    assert "image ADDES generator" in text and "SDANN" in text
    assert not (tmp_path / "r").exists()


def test_unreadable_cost_data_is_a_user_error(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    assert main([*ARGS, "--out", str(tmp_path / "r"), "--cost-data", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "not a cost data file" in err[0], err


def test_datasets_narrows_the_grid_to_one_dataset(tmp_path, capsys):
    """--datasets stackoverflow-2: only its jobs are planned; the StackOverflow-1-only figures
    (6, 7, 8) and Table 3 (StackOverflow-1's generator) drop out, and nothing else is run."""
    assert main([*ARGS, "--out", str(tmp_path / "r"), "--datasets", "stackoverflow-2"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()
            if line.split()[:1] and line.split()[0] in EXPERIMENTS]
    assert rows and {r[1] for r in rows} == {"stackoverflow-2"}
    assert {r[0] for r in rows} == {"table2", "fig3"}


def test_on_datasets_keeps_the_first_datasets_generator_outputs_only_with_it():
    scale = get_scale("smoke")
    suite = [e for e in EXPERIMENTS.values() if e.suite == "stackoverflow"]
    assert on_datasets(suite, None, scale) == suite
    first = {e.name: e for e in on_datasets(suite, ["stackoverflow-1"], scale)}
    assert set(first) == {e.name for e in suite}  # every experiment has StackOverflow-1 points
    assert {j.dataset for j in expand(first["table2"], scale)} == {"stackoverflow-1"}
    assert len(expand(first["fig8"], scale)) == len(expand(EXPERIMENTS["fig8"], scale))
    second = {e.name for e in on_datasets(suite, ["stackoverflow-2"], scale)}
    assert second == {"table2", "fig3"}


def test_on_seeds_keeps_only_those_seeds_and_seed_0s_generator_outputs_with_seed_0():
    scale = get_scale("smoke")  # Table 2 and Figure 3: 2 seeds; Figure 8: 1
    suite = [e for e in EXPERIMENTS.values() if e.suite == "stackoverflow"]
    assert on_seeds(suite, None, scale) == suite
    second = {e.name: e for e in on_seeds(suite, [1], scale)}
    assert "fig8" not in second and not {"table3", "fig5"} & set(second)
    whole = expand(EXPERIMENTS["table2"], scale)
    assert expand(second["table2"], scale) == [j for j in whole if j.seed == 1]
    first = {e.name for e in on_seeds(suite, [0, 7], scale)}
    assert first == {e.name for e in suite}
    assert on_seeds(suite, [7], scale) == []


def test_only_seeds_dry_run_lists_the_shard_and_bad_values_are_user_errors(tmp_path, capsys):
    assert main([*ARGS, "--out", str(tmp_path / "r"), "--experiments", "table2",
                 "--only-seeds", "1"]) == 0
    text = capsys.readouterr().out
    assert main([*ARGS, "--out", str(tmp_path / "r"), "--experiments", "table2"]) == 0
    whole = capsys.readouterr().out

    def jobs(out: str) -> int:  # "Dry run of stackoverflow at scale smoke: 22 jobs, ..."
        return int(out.split(": ", 1)[1].split(" jobs")[0])
    assert jobs(whole) == 2 * jobs(text) > 0
    for bad, says in (("x", "integers >= 0"), ("-1", "integers >= 0"), (",", "integers >= 0"),
                      ("5", "they run seeds 0-1; raise --seeds")):
        assert main([*ARGS, "--out", str(tmp_path / "r"), "--experiments", "table2",
                     "--only-seeds", bad]) == 2
        assert says in capsys.readouterr().err
