"""python -m bench.diagnose: the report end to end (smoke, stand-in), the selection rule, no
label leak into selection, and user errors (exit 2)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from bench import diagnose
from bench.data.splits import load_split
from bench.diagnose import D_E_ALONE, ValScore, select_strategy
from bench.runner import RunContext
from bench.scales import get_scale

SCALE = get_scale("smoke")


@pytest.fixture(scope="module")
def smoke_report(tmp_path_factory) -> tuple[int, str, object]:
    out = tmp_path_factory.mktemp("diagnose")
    status = diagnose.main(["--scale", "smoke", "--threads", "1", "--out", str(out)])
    path = out / "diagnose-stackoverflow-1-smoke-seed0.md"
    return status, path.read_text() if path.exists() else "", out


def _selection_rows(report: str) -> dict[str, float]:
    """training set -> mean validation mAP, read from the selection table."""
    section = report.split("## Selection")[1].split("## Analysis")[0]
    rows = re.findall(r"^\| (D_e[^|]*) \|[^|]*\|[^|]*\| ([0-9.]+) \|", section, re.M)
    return {name.strip(): float(value) for name, value in rows}


def test_report_has_every_section_and_names_the_best_strategy(smoke_report):
    status, report, out = smoke_report
    assert status == 0
    for heading in ("## Conditioning (validation and D_l only",
                    "## Selection (validation data only", "## Analysis only (oracle: uses true "
                    "target labels of training-side data; never used for selection)",
                    "### q_C against Eq. 19", "### Label conditioning",
                    "### Memorisation and length",
                    "### The selection rows against the true targets"):
        assert heading in report
    assert "synthetic stand-in" in report and "No test-set number" in report
    assert "test" not in report.split("## Selection")[1]  # no test-set number below the header
    means = _selection_rows(report)
    assert set(means) == {"D_e", "D_e + D_s (prior)", "D_e + D_s (resample)",
                          "D_e + D_s (tied)", "D_e + D_s (coupled)"}
    best = max((v, k) for k, v in means.items() if k != "D_e")[1]
    selected = re.search(r"\*\*Selected label sampling: (\w+)\*\*", report).group(1)
    assert best == f"D_e + D_s ({selected})"
    record = json.loads((out / "diagnose-stackoverflow-1-smoke-seed0.json").read_text())
    assert record["selected"] == selected and len(record["selection"]) == 10
    conditioning = record["conditioning"]
    assert set(conditioning["y_t_gap"]) == {"javascript"} and len(conditioning["y_s_gap"]) == 8
    assert set(conditioning["q_C_val_AP"]) == {"classifier", "generative", "joint"}
    assert set(record["linked_flip"]["javascript"]) == {"y_t", "R_t", "joint"}
    assert "y_t alone" in report.split("## Selection")[0]
    oracle = record["oracle_selection_true"]  # the selection rows, rescored: no new fit
    assert [(r["model"], r["strategy"], r["mAP_eq19"]) for r in oracle] == [
        (r["model"], r["strategy"], r["mAP"]) for r in record["selection"]]
    assert all(0 <= r["mAP_true"] <= 1 for r in oracle)
    assert any(r["mAP_true"] != r["mAP_eq19"] for r in oracle)  # scored on other targets


def test_selection_picks_the_highest_mean_validation_map():
    table = [ValScore("text-CNN", D_E_ALONE, 0.875, 0.9),
             ValScore("text-CNN", "prior", 0.25, 0.6), ValScore("TF-IDF+LR", "prior", 0.75, 0.8),
             ValScore("text-CNN", "resample", 0.625, 0.7),
             ValScore("TF-IDF+LR", "resample", 0.125, 0.7),
             ValScore("text-CNN", "tied", 0.5, 0.6), ValScore("TF-IDF+LR", "tied", 0.5, 0.8),
             ValScore("TF-IDF+LR", D_E_ALONE, 0.875, 0.9)]
    # means: prior 0.5, resample 0.375 (though text-CNN's best), tied 0.5 (a tie: listed
    # first wins), D_e alone 0.875 (never a candidate)
    assert select_strategy(table) == "prior"
    assert select_strategy(table[3:5]) == "resample"
    with pytest.raises(ValueError):
        select_strategy([table[0]])  # D_e alone is never a candidate


def test_average_precision_equals_scikit_learns():
    rng = np.random.default_rng(0)
    for ties in (False, True):
        for _ in range(50):
            y = (rng.random(120) < 0.3).astype(float)
            s = rng.integers(0, 8, 120).astype(float) if ties else rng.random(120)
            assert diagnose.average_precision(y, s) == pytest.approx(
                average_precision_score(y, s), abs=1e-12)


def _record(path, seed: int, maps: dict[str, float], dataset: str = "stackoverflow-1",
            **d_s: object) -> str:
    """A hand-made selection file: one classifier, mAP per strategy (`d_s`: D_s settings,
    e.g. temperature=1.5; absent as in files written before they existed)."""
    rows = [{"model": "text-CNN", "strategy": k, "mAP": v, "AUC": 0.5} for k, v in maps.items()]
    best = max((v, k) for k, v in maps.items() if k != D_E_ALONE)[1]
    path.write_text(json.dumps({"dataset": dataset, "scale": "quick", "seed": seed,
                                "source": "hand-made", "selected": best, "selection": rows,
                                **d_s}))
    return str(path)


def test_summary_selects_over_seeds(tmp_path, capsys):
    files = [_record(tmp_path / "a.json", 0, {D_E_ALONE: 0.6, "prior": 0.5, "tied": 0.4}),
             _record(tmp_path / "b.json", 1, {D_E_ALONE: 0.6, "prior": 0.3, "tied": 0.45})]
    assert diagnose.main(["--summary", *files]) == 0
    summary = capsys.readouterr().out
    assert "**Selected over seeds: tied**" in summary  # tied 0.425 > prior 0.4
    assert re.search(r"\| D_e \+ D_s \(prior\) \| 0 \| 0\.400 ± 0\.141 \| -0\.025", summary)
    other = _record(tmp_path / "c.json", 2, {D_E_ALONE: 0.6, "prior": 0.5}, "stackoverflow-2")
    assert diagnose.main(["--summary", files[0], other]) == 2
    assert diagnose.main(["--summary", str(tmp_path / "absent.json")]) == 2
    assert diagnose.main(["--summary", files[0], files[0]]) == 2  # one file per seed


def test_summary_never_pools_seeds_of_another_d_s_temperature_or_labelling(tmp_path, capsys):
    maps = {D_E_ALONE: 0.6, "tied": 0.5}
    plain = _record(tmp_path / "a.json", 0, maps, temperature=1.0, target_labels="assigned")
    old = _record(tmp_path / "b.json", 1, maps)  # written before the settings were recorded
    assert diagnose.main(["--summary", plain, old]) == 0
    for other in ({"temperature": 1.5}, {"target_labels": "shuffled"}):
        odd = _record(tmp_path / "c.json", 1, maps, **other)
        assert diagnose.main(["--summary", plain, odd]) == 2
        assert "temperature and labels" in capsys.readouterr().err


def test_selection_reads_no_true_target_label(smoke_report):
    """Selection on a split whose hidden labels are shuffled and 30% flipped (prevalences
    change), fitted with an empty cache of its own (no generator trained on the honest labels
    is reloaded), gives the same scores, row for row."""
    _, _, out = smoke_report
    split = load_split("stackoverflow-1", SCALE, None, out / "cache")
    ctx = RunContext("stackoverflow", SCALE, out, out / "cache")
    honest = diagnose.selection_scores(split, ctx, 0, ["resample", "tied"])
    scrambled_split = split.with_scrambled_oracle(seed=3)
    assert not np.array_equal(scrambled_split.oracle_target_labels("labeled").mean(0),
                              split.oracle_target_labels("labeled").mean(0))
    own_cache = RunContext("stackoverflow", SCALE, out / "scrambled", out / "scrambled-cache")
    scrambled = diagnose.selection_scores(scrambled_split, own_cache, 0, ["resample", "tied"])
    assert honest == scrambled  # model, strategy, mAP, AUC
    for a, b in zip(honest, scrambled, strict=True):
        np.testing.assert_array_equal(a.scores, b.scores)


@pytest.mark.parametrize(("args", "names"), [
    (["--dataset", "stackoverflow-9"], "--dataset"),
    (["--dataset", "mjsynth-1"], "--dataset"),
    (["--strategies", "prior,uniform"], "--strategies"),
    (["--scale", "huge"], "--scale"),
    (["--threads", "0"], "--threads"),
    (["--seed", "-1"], "--seed"),
    (["--n-synthetic", "0"], "--n-synthetic"),
    (["--temperature", "0"], "--temperature"),
    (["--temperature", "-0.5"], "--temperature"),
    (["--target-labels", "random"], "--target-labels"),
    (["--data-dir", "/nonexistent/folder"], "--data-dir"),
    (["--bogus"], "--bogus"),
])
def test_user_errors_exit_2_with_one_line(args, names, tmp_path, capsys):
    assert diagnose.main([*args, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and names in err[0]


def test_each_generator_configuration_gets_its_own_report_file(tmp_path):
    """Diagnosing another alpha, variant or option set of the same seed must not overwrite
    the published configuration's report (the name of which stays as documented)."""
    base = ["--out", str(tmp_path), "--dataset", "stackoverflow-1", "--seed", "3"]
    configs = [[], ["--alpha", "1"], ["--alpha", "10"], ["--variant", "ADDES+G"],
               ["--options", "per_token=1"], ["--options", "per_token=1,label_input=1"],
               ["--n-synthetic", "2000"], ["--n-synthetic", "2000", "--variant", "ADDES+G"],
               ["--temperature", "0.5"], ["--temperature", "0.5", "--n-synthetic", "2000"],
               ["--target-labels", "shuffled"], ["--target-labels", "q_C"]]
    paths = [diagnose.report_path(diagnose.parse_args(base + c)) for c in configs]
    assert len(set(paths)) == len(configs)
    assert paths[0] == tmp_path / "diagnose-stackoverflow-1-quick-seed3.md"
    assert all(p.name.endswith("-seed3.md") for p in paths)


def test_n_synthetic_sizes_every_augmented_fit(monkeypatch):
    """--n-synthetic N: each D_e + D_s classifier of the selection part gets |D_s| = N, the
    D_e-alone ones get no D_s."""
    fits = []
    monkeypatch.setattr(diagnose, "fit_method",
                        lambda split, method, params, seed, ctx: fits.append((method, params)))
    monkeypatch.setattr(diagnose, "validation_score", lambda *a: None)
    ctx = RunContext("stackoverflow", SCALE, Path("unused"), Path("unused"))
    diagnose.selection_scores(None, ctx, 0, ["resample", "tied"], n_synthetic=77)
    augmented = [p for m, p in fits if m in ("AugCNN", "AugLR")]
    assert len(augmented) == 4 and all(p["n_synthetic"] == 77 for p in augmented)
    assert len(fits) == 6 and all(p == {} for m, p in fits if m not in ("AugCNN", "AugLR"))


def test_temperature_and_labels_reach_every_augmented_fit_and_defaults_keep_job_keys(monkeypatch):
    """--temperature T / --target-labels L: each D_e + D_s classifier gets D_s sampled at T
    and labelled by L; at the defaults the params are the suite's own (neither key), so its
    records and cache are reused."""
    fits = []
    monkeypatch.setattr(diagnose, "fit_method",
                        lambda split, method, params, seed, ctx: fits.append((method, params)))
    monkeypatch.setattr(diagnose, "validation_score", lambda *a: None)
    ctx = RunContext("stackoverflow", SCALE, Path("unused"), Path("unused"))
    diagnose.selection_scores(None, ctx, 0, ["tied"], temperature=0.5)
    assert [p["temperature"] for m, p in fits if m in ("AugCNN", "AugLR")] == [0.5, 0.5]
    assert "temperature" not in diagnose.synthetic_params(SCALE, "tied")
    fits.clear()
    diagnose.selection_scores(None, ctx, 0, ["tied"], target_labels="shuffled")
    assert [p["target_labels"] for m, p in fits if m in ("AugCNN", "AugLR")] == ["shuffled"] * 2
    assert "target_labels" not in diagnose.synthetic_params(SCALE, "tied")


def _table_record(path, seed: int, options: str, maps: dict[tuple[str, str], float],
                  y_t_gap: float, **d_s: object) -> str:
    """A hand-made bench.diagnose record with conditioning numbers."""
    rows = [{"model": m, "strategy": s, "mAP": v, "AUC": 0.5} for (m, s), v in maps.items()]
    cond = {"y_t_gap": {"javascript": y_t_gap}, "y_t_gap_min": y_t_gap, "y_s_gap_mean": 0.01,
            "nll": {"flip_y_t": 0.02, "nll_per_token": 6.0}, "q_C_val_AP": {"joint": 0.4}}
    path.write_text(json.dumps({"dataset": "stackoverflow-1", "scale": "quick", "seed": seed,
                                "variant": "ADDES+", "options": options, "selection": rows,
                                "conditioning": cond,
                                "linked_flip": {"javascript": {"joint": 0.1}}, **d_s}))
    return str(path)


def test_configuration_table_tests_each_row_against_d_e_and_the_base_by_hand(tmp_path, capsys):
    """bench.diagnose_table: per configuration, the seeds' means and paired t-tests of
    D_e + D_s against D_e alone and of the mean of both classifiers against the base row."""
    from scipy import stats as sps

    from bench import diagnose_table

    d_e = [0.60, 0.62, 0.58]
    base, fix = [0.50, 0.55, 0.52], [0.61, 0.66, 0.60]
    files = []
    for seed in range(3):
        for name, values, gap in (("", base, 0.01), ("per_token=1", fix, 0.05)):
            maps = {(m, D_E_ALONE): d_e[seed] for m in diagnose_table.MODELS}
            maps.update({(m, "resample"): values[seed] for m in diagnose_table.MODELS})
            files.append(_table_record(tmp_path / f"{name or 'base'}-{seed}.json", seed, name,
                                       maps, gap + 0.01 * seed))
    assert diagnose_table.main(files) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "per_token=1" in x)
    p_de = sps.ttest_rel(fix, d_e).pvalue
    p_base = sps.ttest_rel(fix, base).pvalue
    assert f"{np.mean(fix):.3f} ({np.mean(fix) - np.mean(d_e):+.3f}, p {p_de:.2g})" in line
    assert f"{np.mean(fix) - np.mean(base):+.3f} (p {p_base:.2g}, Holm {p_base:.2g})" in line
    assert "| 0,1,2 | +0.060 ± 0.010 (+0.060) |" in line
    assert "Base: ADDES+ (D_s resample)" in out
    assert diagnose_table.main([*files, files[0]]) == 2  # a seed twice in one configuration
    assert diagnose_table.main(files + ["--base", "nope"]) == 2
    assert diagnose_table.main([str(tmp_path / "absent.json")]) == 2
    assert "error:" in capsys.readouterr().err
    hot = []  # the same seeds and configuration with D_s at temperature 1.5: rows of its own
    for seed in range(3):
        hot.append(_table_record(tmp_path / f"hot-{seed}.json", seed, "", {
            **{(m, D_E_ALONE): d_e[seed] for m in diagnose_table.MODELS},
            **{(m, "resample"): fix[seed] for m in diagnose_table.MODELS}}, 0.01,
            temperature=1.5))
    assert diagnose_table.main([*files, *hot]) == 0
    rows = [x for x in capsys.readouterr().out.splitlines() if x.startswith("| ADDES+ (D_s")]
    assert [x.split(" |")[0] for x in rows] == ["| ADDES+ (D_s resample)",
                                                 "| ADDES+ (D_s resample, T 1.5)"]
    assert f"{np.mean(fix):.3f} (" in rows[1] and f"{np.mean(base):.3f} (" in rows[0]


def test_configuration_table_reads_the_records_diagnose_writes(smoke_report, capsys):
    from bench import diagnose_table

    status, _, out = smoke_report
    assert status == 0
    assert diagnose_table.main([str(p) for p in out.glob("diagnose-*.json")]) == 0
    table = capsys.readouterr().out
    assert table.count("| ADDES (D_s ") == len(diagnose.DEFAULT_STRATEGIES)
