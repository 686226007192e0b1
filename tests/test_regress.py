"""The regression gate: statistical mode on constructed records, exact mode end to end."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench import cli, regress, runner
from bench.errors import UserError

# ---------------------------------------------------------------------------------------------
# statistical mode on constructed DataFrames


def _records(values: dict[tuple[str, str], list[float]], point: dict | None = None) -> pd.DataFrame:
    """records.csv-like rows: {(experiment, method): [mAP per seed]}; AUC = mAP + 0.3."""
    rows = []
    for (experiment, method), per_seed in values.items():
        for seed, v in enumerate(per_seed):
            rows.append({"experiment": experiment, "dataset": "stackoverflow-1", "method": method,
                         "seed": seed, "status": "ok", "error": "", "mAP": v, "AUC": v + 0.3,
                         **{c: np.nan for c in regress.PARAM_COLUMNS}, **(point or {}),
                         "source": "synthetic stand-in", "scale": "quick",
                         "key": f"{experiment}-{method}-{seed}"})
    return pd.DataFrame(rows)


RNG = np.random.default_rng(0)
BASE = list(0.40 + 0.01 * RNG.standard_normal(5))
OTHER = list(0.30 + 0.01 * RNG.standard_normal(5))


def test_consistent_drop_over_five_seeds_fails():
    old = _records({("table2", "text-CNN"): BASE, ("table2", "GRU"): OTHER})
    drop = [v - 0.03 + 0.002 * RNG.standard_normal() for v in BASE]
    new = _records({("table2", "text-CNN"): drop, ("table2", "GRU"): OTHER})
    result = regress.check(old, new)
    assert result.failed
    bad = result.regressions
    assert set(bad["method"]) == {"text-CNN"} and set(bad["metric"]) == {"mAP", "AUC"}
    assert (bad["test"] == "paired").all() and (bad["p_holm"] < 0.05).all()
    assert (bad["delta"] < -0.02).all()
    text = regress.result_markdown(result)
    assert "REGRESSION" in text and "text-CNN" in text
    assert "FAIL" in result.summary()


def test_noise_level_change_passes():
    old = _records({("table2", "text-CNN"): BASE})
    new = _records({("table2", "text-CNN"): [v + 0.01 * RNG.standard_normal() for v in BASE]})
    result = regress.check(old, new)
    assert not result.failed, regress.result_markdown(result)
    assert len(result.table) == 2 and "PASS" in result.summary()


def test_significant_drop_below_min_effect_passes_and_min_effect_is_an_option():
    old = _records({("table2", "text-CNN"): BASE})
    new = _records({("table2", "text-CNN"): [v - 0.005 for v in BASE]})  # zero-variance drop
    result = regress.check(old, new)
    assert not result.failed and (result.table["p_holm"] < 1e-6).all()
    assert regress.check(old, new, min_effect=0.001).failed


def test_unmatched_seeds_use_welch_and_single_seed_is_untested():
    old = _records({("table2", "text-CNN"): BASE, ("fig8", "AugCNN"): [0.4]})
    new = _records({("table2", "text-CNN"): [v - 0.05 for v in BASE[:3]],
                    ("fig8", "AugCNN"): [0.3]})
    new.loc[new["experiment"] == "table2", "seed"] += 10
    result = regress.check(old, new)
    t2 = result.table[result.table["experiment"] == "table2"]
    assert (t2["test"] == "welch").all() and result.failed
    f8 = result.table[result.table["experiment"] == "fig8"]
    assert f8["verdict"].str.startswith("untested").all()


def test_cell_whose_every_seed_failed_fails_the_gate():
    """A method whose every seed fails in the new run leaves nothing to compare: that is a
    failure of the gate with the cell named, not "PASS: 0 of 0 comparisons"."""
    old = _records({("table2", "text-CNN"): BASE, ("table2", "GRU"): OTHER})
    new = _records({("table2", "text-CNN"): BASE, ("table2", "GRU"): OTHER})
    gru = new["method"] == "GRU"
    new.loc[gru, ["mAP", "AUC"]] = np.nan
    new.loc[gru, "status"] = "failed"
    result = regress.check(old, new)
    assert result.failed and result.regressions.empty
    assert set(result.without_success["method"]) == {"GRU"}
    summary = result.summary()
    assert "FAIL" in summary and "no successful seed" in summary and "table2 stackoverflow-1 GRU" \
        in summary
    assert "FAILED (no successful seed)" in regress.result_markdown(result)
    only_failed = _records({("table2", "GRU"): OTHER})
    only_failed[["mAP", "AUC"]] = np.nan
    result = regress.check(_records({("table2", "GRU"): OTHER}), only_failed)
    assert result.failed and result.n_compared == 0 and "FAIL" in result.summary()


def test_new_and_missing_cells_are_listed():
    old = _records({("table2", "text-CNN"): BASE, ("table2", "GRU"): OTHER})
    new = _records({("table2", "text-CNN"): BASE, ("table2", "AugLR"): OTHER})
    swept = _records({("fig3", "AugCNN"): BASE}, point={"p_n_synthetic": 200.0})
    new = pd.concat([new, swept])
    for exact in (False, True):
        result = regress.check(old, new, exact=exact)
        cells = result.cells.set_index("method")["change"].to_dict()
        assert cells == {"GRU": "missing from the new run", "AugLR": "new, not in the reference",
                         "AugCNN": "new, not in the reference"}
        assert result.cells.set_index("method").loc["AugCNN", "point"] == "n_synthetic=200"
        text = regress.result_markdown(result)
        assert "GRU" in text and "AugLR" in text and "missing from the new run" in text
        # listed in both modes; a missing cell fails the exact check, a new one neither check
        assert result.failed == exact
        assert "missing from the new run: 1, new cells: 2" in result.summary()
    only_new = regress.check(old, pd.concat([old, swept]), exact=True)
    assert set(only_new.cells["method"]) == {"AugCNN"} and not only_new.failed
    assert "PASS" in only_new.summary() and "new cells: 1" in only_new.summary()
    fewer_seeds = regress.check(old, old[(old["method"] != "GRU") | (old["seed"] != 1)], exact=True)
    assert fewer_seeds.failed and fewer_seeds.cells["seeds"].tolist() == ["1"]
    # outside the run's selection: counted, not listed
    result = regress.check(old, new[new["method"] == "text-CNN"], methods=["text-CNN"])
    assert result.cells.empty and result.n_outside == len(OTHER)
    # --datasets: the reference's other dataset is outside the selection, not "missing"
    both = pd.concat([old, old.assign(dataset="stackoverflow-2")])
    result = regress.check(both, old, datasets=["stackoverflow-1"])
    assert result.cells.empty and result.n_outside == len(old) and not result.failed
    assert len(regress.check(both, old).cells) == 2  # unselected, SO-2's cells are missing
    # --only-seeds: the reference's other seeds are outside the shard, not "missing"
    shard = old[old["seed"] == 1]
    result = regress.check(old, shard, exact=True, seeds=[1])
    assert result.cells.empty and result.n_outside == len(old) - len(shard) > 0
    assert not result.failed
    assert regress.check(old, shard, exact=True).failed  # unselected, seed 0 is missing


def test_target_estimate_is_part_of_the_cell():
    """A soft-D_e run is not compared with 0/1-D_e numbers: the estimate is a grid coordinate."""
    hard = _records({("table4", "SDANN"): BASE}, point={"p_target_estimate": "hard"})
    soft = _records({("table4", "SDANN"): OTHER}, point={"p_target_estimate": "soft"})
    result = regress.check(hard, soft)
    assert result.n_compared == 0
    assert sorted(result.cells["point"]) == ["target_estimate=hard", "target_estimate=soft"]
    assert not regress.check(hard, hard).failed


def test_exact_mode_is_bit_for_bit():
    old = _records({("table2", "text-CNN"): BASE})
    new = old.copy()
    assert not regress.check(old, new, exact=True).failed
    new.loc[3, "AUC"] = np.nextafter(new.loc[3, "AUC"], 1.0)
    result = regress.check(old, new, exact=True)
    assert result.failed and len(result.table) == 1
    assert result.table.iloc[0][["seed", "metric"]].tolist() == [3, "AUC"]


def test_reference_round_trips_exactly_and_refuses_other_scale_or_suite(tmp_path):
    records = _records({("table2", "text-CNN"): BASE}, point={"p_alpha": 0.1})
    meta = {"suite": "stackoverflow", "scale": "quick", "source": "synthetic stand-in"}
    path = tmp_path / "ref.json"
    regress.save_reference(path, records, meta)
    loaded_meta, loaded = regress.load_reference(path)
    assert loaded_meta["scale"] == "quick"
    assert not regress.check(loaded, records, exact=True).failed
    regress.check_compatible(loaded_meta, path, suite="stackoverflow", scale="quick")
    with pytest.raises(UserError, match="scale 'quick', this run is scale 'smoke'"):
        regress.check_compatible(loaded_meta, path, suite="stackoverflow", scale="smoke")
    with pytest.raises(UserError, match="suite"):
        regress.check_compatible(loaded_meta, path, suite="mjsynth", scale="quick")
    with pytest.raises(UserError, match="data source"):
        regress.check_compatible(loaded_meta, path, suite="stackoverflow", scale="quick",
                                 source="real: /data/so")


def test_splice_replaces_the_section():
    report = "# R\n\n## Results\n\nx\n\n## Regression check\n\nold\n\n## Failed jobs\n\nNone\n"
    out = regress.splice_section(report, "## Regression check\n\nnew\n")
    assert "old" not in out and out.count("## Regression check") == 1
    assert "## Failed jobs" in out and out.rstrip().endswith("new")


# ---------------------------------------------------------------------------------------------
# end to end through bench.cli.main: a deliberate regression is caught by --exact

# one worker: the tests monkeypatch this process (e.g. a zero learning rate), not loky workers
FAST = ["--suite", "stackoverflow", "--scale", "smoke", "--jobs", "1",
        "--experiments", "table2", "--methods", "text-CNN,TF-IDF+LR"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ref")
    path = out / "reference.json"
    assert cli.main([*FAST, "--out", str(out), "--save-reference", str(path)]) == 0
    return path


@pytest.fixture
def fresh_out(reference, tmp_path) -> Path:
    """A new --out (no records) sharing the reference run's cache (splits only: fast)."""
    (tmp_path / "cache").symlink_to(reference.parent / "cache")
    return tmp_path


def test_unchanged_run_passes_exact(reference, fresh_out, capsys):
    code = cli.main([*FAST, "--out", str(fresh_out), "--check", str(reference), "--exact"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "values are bit-identical" in out and "PASS" in out
    run_dir = fresh_out / "stackoverflow-smoke"
    assert "reused" not in out  # fresh records: the code really ran again
    assert "PASS" in (run_dir / "regress.md").read_text()
    assert "## Regression check" in (run_dir / "report.md").read_text()


def test_zero_learning_rate_is_caught_by_exact(reference, fresh_out, capsys, monkeypatch):
    original = runner._train_config
    monkeypatch.setattr(runner, "_train_config",
                        lambda *a, **k: replace(original(*a, **k), lr=0.0))
    code = cli.main([*FAST, "--out", str(fresh_out), "--check", str(reference), "--exact"])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL" in out and "values changed" in out and "ok -> failed" not in out
    changed = [line for line in out.splitlines() if line.startswith("| table2")]
    assert changed and all("text-CNN" in line for line in changed)  # TF-IDF+LR has no lr
    assert "FAIL" in (fresh_out / "stackoverflow-smoke" / "regress.md").read_text()


@pytest.mark.parametrize("field,value", [("scale", "quick"), ("suite", "mjsynth")])
def test_reference_of_another_scale_or_suite_is_refused(reference, tmp_path, capsys, field, value):
    blob = json.loads(reference.read_text())
    blob["meta"][field] = value
    other = tmp_path / "other.json"
    other.write_text(json.dumps(blob))
    code = cli.main([*FAST, "--out", str(tmp_path / "out"), "--check", str(other)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("error: --check") and f"{field} {value!r}" in err[0]
    assert not (tmp_path / "out" / "stackoverflow-smoke" / "records").exists()  # nothing ran


@pytest.mark.parametrize("field,value", [("threads", 2), ("torch", "0.0.1"),
                                         ("kernels", {"MKL_CBWR": "AUTO"})])
def test_exact_check_under_other_settings_is_refused_before_anything_runs(
        reference, fresh_out, capsys, field, value):
    """--exact against a reference made under other settings is refused (exit 2, one line)
    before any job runs, so the run folder keeps what it had."""
    blob = json.loads(reference.read_text())
    blob["meta"][field] = value
    other = fresh_out / "other.json"
    other.write_text(json.dumps(blob))
    run_dir = fresh_out / "stackoverflow-smoke"
    run_dir.mkdir()
    (run_dir / "records.csv").write_text("earlier results\n")
    code = cli.main([*FAST, "--out", str(fresh_out), "--check", str(other), "--exact"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and f"run's {field}" in err[0], err
    assert not (run_dir / "records").exists()  # nothing ran
    assert (run_dir / "records.csv").read_text() == "earlier results\n"


def test_exact_without_check_is_a_user_error(tmp_path, capsys):
    assert cli.main([*FAST, "--out", str(tmp_path), "--exact"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--exact needs --check" in err[0], err


# ---------------------------------------------------------------------------------------------
# the gate's statistics: Holm across comparisons, one-sided, paired by seed (not by row)

DROP = [0.03, 0.004, 0.04, 0.01, 0.02]  # per-seed drops: one-sided paired p 0.017


def test_holm_corrects_across_every_comparison():
    """Guards "Holm across the comparisons": one cell's drop (one-sided paired p 0.017,
    drop 0.02 >= min_effect) is significant alone but not among 10 cells x 2 metrics. A gate
    that used the raw p-values (no Holm) would call it a regression."""
    methods = [f"m{i}" for i in range(10)]
    old = _records({("table2", m): BASE for m in methods})
    new = _records({("table2", m): BASE if m != "m0" else
                    [v - d for v, d in zip(BASE, DROP, strict=True)] for m in methods})
    result = regress.check(old, new)
    table = result.table
    assert result.n_compared == 20
    assert table["p_holm"].tolist() == pytest.approx(regress.holm(table["p"].tolist()))
    hit = table[table["method"] == "m0"]
    assert (hit["p"] < 0.05).all() and (hit["p_holm"] > 0.05).all()
    assert not result.failed, regress.result_markdown(result)
    # the same drop alone (2 comparisons: Holm multiplies by 2) is a regression
    assert regress.check(old[old["method"] == "m0"], new[new["method"] == "m0"]).failed


def test_the_test_is_one_sided_new_below_reference():
    """Guards "one-sided test of new < reference": one cell (mAP and AUC share the drops),
    one-sided p 0.017 -> Holm 0.033 fails the gate; a two-sided test (Holm 0.067) would not."""
    old = _records({("table2", "text-CNN"): BASE})
    new = _records({("table2", "text-CNN"): [v - d for v, d in zip(BASE, DROP, strict=True)]})
    result = regress.check(old, new)
    want = stats_ttest_rel_less(new["mAP"], old["mAP"])
    assert result.table["p"].tolist() == pytest.approx([want, want])
    assert result.failed and len(result.regressions) == 2


def test_pairs_by_seed_not_by_row_order():
    """Guards "paired by seed": the new run's rows come in another order (reversed seeds)
    than the reference's. Seeds differ a lot from one another (0.3 to 0.7) and every seed
    drops by about 0.02: paired by seed that is a clear regression, with the p-value of the
    by-seed paired t-test; a gate pairing rows by position would compare seed 4 with seed 0
    and see only noise."""
    spread = [0.30, 0.40, 0.50, 0.60, 0.70]
    old = _records({("table2", "text-CNN"): spread})
    new = _records({("table2", "text-CNN"): [v - 0.02 - 0.002 * (i % 2)
                                            for i, v in enumerate(spread)]})
    new = new.iloc[::-1].reset_index(drop=True)  # same seeds, rows in the other order
    result = regress.check(old, new)
    assert (result.table["test"] == "paired").all()
    by_seed = new.sort_values("seed")["mAP"]
    want = stats_ttest_rel_less(by_seed, old["mAP"])
    assert result.table.set_index("metric").loc["mAP", "p"] == pytest.approx(want)
    assert result.failed and len(result.regressions) == 2, regress.result_markdown(result)


def stats_ttest_rel_less(new, old) -> float:
    """scipy's one-sided paired p of new < old, values aligned by position."""
    from scipy import stats

    return float(stats.ttest_rel(np.asarray(new, float), np.asarray(old, float),
                                 alternative="less").pvalue)
