"""Benchmark your own method: a plugin's method joins Table 2, its comparisons and its report;
its augmented twin runs on D_e + D_s; generator variants are selectable by name; mistakes
(a broken or clashing plugin, a --methods that selects nothing) are one line and exit 2."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from bench import methods as registry
from bench import plugins
from bench.cli import main
from bench.experiments import EXPERIMENTS, TABLE2_METHODS, expand, roles
from bench.report.page import comparison_pairs, comparisons_frame
from bench.report.tables import results_table_latex, results_table_markdown
from bench.runner import RunContext, fit_method
from bench.scales import get_scale

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "my_nb.py"
SMOKE = get_scale("smoke")
SMOKE_ARGS = ["--suite", "stackoverflow", "--scale", "smoke", "--threads", "1"]


@pytest.fixture
def clean_registry():
    """Registrations made by a test are undone afterwards (the registry is process-wide)."""
    registry.all_methods()
    saved = (dict(registry.REGISTRY), dict(registry.GENERATORS), set(plugins._loaded))
    yield
    for live, old in zip((registry.REGISTRY, registry.GENERATORS, plugins._loaded), saved,
                         strict=True):
        live.clear()
        live.update(old)  # a dict or a set


@pytest.fixture
def plugin_file(tmp_path) -> Path:
    """The README's example plugin, copied out of the repository."""
    path = tmp_path / "plugin_dir" / "mine.py"
    path.parent.mkdir()
    shutil.copy(EXAMPLE, path)
    return path


def _run_all(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "run_all.py", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


def _check_table2(run_dir: Path, methods: list[str]) -> pd.DataFrame:
    records = pd.read_csv(run_dir / "records.csv")
    for method in methods:
        rows = records[records.method == method]
        assert len(rows) and (rows.status == "ok").all(), rows.error.tolist()
        assert rows[["mAP", "AUC"]].notna().all().all()
        assert set(rows.experiment) == {"table2"}
    tex = (run_dir / "tables" / "table2.tex").read_text()
    report = (run_dir / "report.md").read_text()
    for method in methods:
        assert f"{method}$^{{*}}$" in tex and f"| {method} * " in report
    assert "not in the paper: " in tex and "Multinomial naive Bayes" in tex
    return records


def test_plugin_method_joins_table2_with_comparisons(clean_registry, plugin_file, tmp_path):
    out = tmp_path / "out"
    assert main([*SMOKE_ARGS, "--experiments", "table2", "--methods", "TF-IDF+LR,MyNB",
                 "--seeds", "2", "--jobs", "1", "--plugin", str(plugin_file),
                 "--out", str(out)]) == 0
    records = _check_table2(out / "stackoverflow-smoke", ["MyNB"])
    assert sorted(records[records.method == "MyNB"].seed.unique()) == [0, 1]
    report = (out / "stackoverflow-smoke" / "report.md").read_text()
    assert "| MyNB vs TF-IDF+LR " in report and "paired" in report
    # the same seeds and splits as the built-in methods: same sizes in every record
    sizes = records.groupby("dataset")[["n_labeled", "n_test"]].nunique()
    assert (sizes == 1).all().all()


@pytest.mark.slow  # the real command in worker processes; trains two ADDES generators
def test_plugin_and_its_augmented_twin_in_worker_processes(plugin_file, tmp_path):
    """--jobs 2: the joblib workers import the plugin too."""
    out = tmp_path / "out"
    proc = _run_all(*SMOKE_ARGS, "--experiments", "table2", "--methods",
                    "TF-IDF+LR,MyNB,AugMyNB", "--seeds", "1", "--jobs", "2", "--plugin",
                    str(plugin_file), "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    records = _check_table2(out / "stackoverflow-smoke", ["MyNB", "AugMyNB"])
    assert (records[records.method == "AugMyNB"].n_train
            > records[records.method == "MyNB"].n_train.max()).all()
    assert "| AugMyNB vs MyNB " in (out / "stackoverflow-smoke" / "report.md").read_text()


def test_augmented_twin_trains_on_de_plus_ds(clean_registry, plugin_file, smoke_split,
                                             cache_dir, tmp_path):
    plugins.load_plugins([plugins.resolve(str(plugin_file))])
    spec = registry.get_method("AugMyNB")
    assert spec.training_set == "D_e+D_s" and spec.augments == ("MyNB",)
    assert spec.default_params == registry.SYNTHETIC and spec.origin == str(plugin_file)
    ctx = RunContext("stackoverflow", SMOKE, tmp_path, cache_dir)
    params = dict(spec.default_params, n_synthetic=SMOKE.n_synthetic)
    estimator, n_train = fit_method(smoke_split, spec, params, 0, ctx)
    assert n_train == len(smoke_split.labeled) + SMOKE.n_synthetic
    proba = estimator.predict_proba(smoke_split.test)
    assert proba.shape == (len(smoke_split.test), len(smoke_split.targets))
    assert np.isfinite(proba).all() and (proba >= 0).all() and (proba <= 1).all()


BROKEN = {
    "import error": "import no_such_module_xyz\n",
    "syntax error": "def broken(:\n",
    "clashing name": ("from bench.methods import register\n\n"
                      "@register('text-CNN')\n"
                      "def mine(ctx):\n    '''A second text-CNN.'''\n"),
    "clash with a generator": ("from bench.methods import register\n\n"
                               "@register('ADDES-W')\n"
                               "def mine(ctx):\n    '''Not a generator.'''\n"),
}


@pytest.mark.parametrize("case", BROKEN)
def test_broken_plugin_is_one_line_exit_2_nothing_written(case, clean_registry, tmp_path,
                                                          capsys):
    plugin = tmp_path / "bad_plugin.py"
    plugin.write_text(BROKEN[case])
    out = tmp_path / "out"
    assert main([*SMOKE_ARGS, "--experiments", "table2", "--plugin", str(plugin),
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: --plugin ")
    assert str(plugin) in err and not out.exists()
    if case.startswith("clash"):
        assert "already registered" in err and "(line 3)" in err


def test_missing_plugin_and_unimportable_module(clean_registry, tmp_path, capsys):
    for value in (str(tmp_path / "absent.py"), "no_such_plugin_module_xyz"):
        assert main([*SMOKE_ARGS, "--plugin", value, "--out", str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and value in err


def test_methods_that_select_nothing_say_where_they_can_take_part(tmp_path, capsys):
    out = tmp_path / "out"
    assert main([*SMOKE_ARGS, "--experiments", "fig3", "--methods", "AugCNN,text-CNN,ADDES-W",
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: --methods: ")
    assert "text-CNN can take part in table2, fig6" in err
    assert "ADDES-W can take part in fig7" in err and "AugCNN can" not in err
    assert not out.exists()


def test_suite_all_checks_methods_across_suites(tmp_path, capsys):
    """--suite all: a method needs a job in one of the suites (text-CNN alone skips mjsynth)."""
    out = tmp_path / "out"
    assert main(["--suite", "all", "--scale", "smoke", "--methods", "SDANN,text-CNN",
                 "--experiments", "fig4,fig7", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "SDANN can take part in table4, fig6-mj" in err and "text-CNN can take part" in err
    assert main(["--suite", "all", "--scale", "smoke", "--methods", "text-CNN", "--dry-run",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Dry run of stackoverflow" in printed and "Dry run of mjsynth" not in printed


def test_generator_variants_select_their_jobs_wherever_they_appear():
    fig7 = expand(EXPERIMENTS["fig7"], SMOKE, ["ADDES-CNN"])
    assert fig7 and {j.param_dict["variant"] for j in fig7} == {"ADDES-CNN"}
    assert {j.method for j in fig7} == {"AugCNN", "AugGCN"}
    assert expand(EXPERIMENTS["table2"], SMOKE, ["ADDES-W"]) == []
    table2 = expand(EXPERIMENTS["table2"], SMOKE, ["ADDES"])
    assert {j.method for j in table2} == {"AugCNN", "AugGCN", "AugLR"}
    where = roles(SMOKE)
    assert where["ADDES-W"] == {"fig7": ["AugCNN", "AugGCN"]}
    assert "table3" in where["ADDES"] and where["GRU"] == {"table2": ["GRU"]}


def test_listing_shows_plugin_methods_and_generator_variants(plugin_file):
    proc = _run_all("--list", "--plugin", str(plugin_file))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    mine = next(line for line in lines if line.strip().startswith("MyNB "))
    assert "not in the paper" in mine and str(plugin_file) in mine and "[table2]" in mine
    variant = next(line for line in lines if line.strip().startswith("ADDES-CNN "))
    assert "feeds AugCNN, AugGCN; in fig7" in variant


def test_default_table2_is_the_papers_columns_then_the_references():
    jobs = expand(EXPERIMENTS["table2"], SMOKE)
    methods = list(dict.fromkeys(j.method for j in jobs))
    assert methods == [*TABLE2_METHODS, "TF-IDF+LR", "NoisyOR-CNN", "NoisyOR-LR", "AugLR"]
    assert comparison_pairs(methods) == [("AugCNN", "text-CNN"), ("AugGCN", "ML-GCN"),
                                         ("AugLR", "TF-IDF+LR")]


def test_a_new_generator_variant_needs_one_registration_line(clean_registry):
    registry.register_generator("ADDES-new", "a new ADDES", in_paper=False, in_tables=True)
    table2 = expand(EXPERIMENTS["table2"], SMOKE, ["ADDES-new"])
    assert {(j.method, j.param_dict["variant"]) for j in table2} == {
        ("AugCNN", "ADDES-new"), ("AugGCN", "ADDES-new"), ("AugLR", "ADDES-new")}
    assert {j.param_dict["variant"] for j in expand(EXPERIMENTS["fig7"], SMOKE)} == {
        "ADDES", "ADDES-CNN", "ADDES-W", "ADDES-tied", "ADDES-new"}  # ADDES+ is opt-in
    table4 = expand(EXPERIMENTS["table4"], SMOKE, ["ADDES-new"])
    assert table4 and all(j.param_dict["alpha"] == 100.0 for j in table4)
    # its columns: "AugCNN (ADDES-new)", starred, compared with text-CNN and with AugCNN
    records = _records({"text-CNN": 0.5, "AugCNN": 0.4, ("AugCNN", "ADDES-new"): 0.6})
    md = results_table_markdown(records, "table2", ["stackoverflow-1"],
                                ["text-CNN", "AugCNN", "AugCNN (ADDES-new)"])
    assert "AugCNN (ADDES-new) *" in md and "D_s from ADDES-new (a new ADDES)" in md
    assert comparison_pairs(["text-CNN", "AugCNN", "AugCNN (ADDES-new)"]) == [
        ("AugCNN", "text-CNN"), ("AugCNN (ADDES-new)", "text-CNN"),
        ("AugCNN (ADDES-new)", "AugCNN")]


def _records(means: dict, seeds: int = 5) -> pd.DataFrame:
    """Constructed table2 records: (method or (method, variant)) -> mean mAP, seeds apart."""
    rows = []
    for i, (key, mean) in enumerate(means.items()):
        method, variant = key if isinstance(key, tuple) else (key, None)
        if variant is None and registry.get_method(method).training_set == "D_e+D_s":
            variant = "ADDES"
        noise = np.random.default_rng(i).normal(0, 0.01, seeds)
        for seed in range(seeds):
            value = mean + noise[seed]
            rows.append({"experiment": "table2", "dataset": "stackoverflow-1", "method": method,
                         "seed": seed, "status": "ok", "error": "", "mAP": value,
                         "AUC": value, "p_variant": variant, "source": "synthetic stand-in"})
    return pd.DataFrame(rows)


def test_method_under_test_is_compared_with_every_baseline_paired_and_holm(clean_registry,
                                                                            plugin_file):
    plugins.load_plugins([plugins.resolve(str(plugin_file))])
    means = {"text-CNN": 0.5, "GRU": 0.45, "AugCNN": 0.4, "TF-IDF+LR": 0.6, "AugLR": 0.55,
             "MyNB": 0.58, "AugMyNB": 0.52}
    records = _records(means)
    columns = list(means)
    pairs = comparison_pairs(columns)
    assert pairs[:3] == [("AugCNN", "text-CNN"), ("AugLR", "TF-IDF+LR"), ("AugMyNB", "MyNB")]
    baselines = ["text-CNN", "GRU", "AugCNN", "TF-IDF+LR", "AugLR"]
    assert pairs[3:] == [("MyNB", b) for b in baselines] + [("AugMyNB", b) for b in baselines]
    frame = comparisons_frame(records, "table2", ["stackoverflow-1"], pairs, metrics=("mAP",))
    assert len(frame) == len(pairs) and (frame.test == "paired").all() and (frame.n == 5).all()
    mine = frame[(frame.method == "MyNB") & (frame.reference == "GRU")].iloc[0]
    values = records.set_index(["method", "seed"])["mAP"]
    assert mine.delta == pytest.approx((values["MyNB"] - values["GRU"]).mean())
    ranked = frame.sort_values("p_value")  # Holm over the whole table's rows
    assert ranked.p_value.notna().all()
    assert ranked.p_holm.iloc[0] == pytest.approx(min(1.0, len(frame) * ranked.p_value.iloc[0]))
    tex = results_table_latex(records, "table2", ["stackoverflow-1"], columns,
                              caption_facts=SimpleNamespace(text=lambda: "facts"))
    assert r"MyNB$^{*}$" in tex and r"AugMyNB$^{*}$" in tex and r"GRU$^{*}$" not in tex


def test_entry_point_plugins_load_and_fail_with_one_line(clean_registry, monkeypatch,
                                                         plugin_file):
    monkeypatch.syspath_prepend(str(plugin_file.parent))

    def fake(value: str):
        return SimpleNamespace(name="mine", value=value, dist=SimpleNamespace(name="my-dist"),
                               load=lambda: __import__(value))

    monkeypatch.setattr(plugins, "entry_points", lambda group: [fake("mine")])
    monkeypatch.setattr(plugins, "_entry_points_loaded", False)
    plugins.load_entry_points()
    assert registry.get_method("MyNB").origin == "mine"
    monkeypatch.setattr(plugins, "entry_points", lambda group: [fake("absent_module_xyz")])
    monkeypatch.setattr(plugins, "_entry_points_loaded", False)
    with pytest.raises(plugins.UserError, match=r"entry point mine = absent_module_xyz "
                       r"\(package my-dist\) in group addes_bench.methods: ModuleNotFoundError"):
        plugins.load_entry_points()
    sys.modules.pop("mine", None)


def test_editing_a_plugin_makes_new_jobs_and_keeps_the_built_in_ones(clean_registry,
                                                                     plugin_file, tmp_path):
    from bench.runner import Job, job_key

    plugins.load_plugins([plugins.resolve(str(plugin_file))])
    ctx = RunContext("stackoverflow", SMOKE, tmp_path, tmp_path)
    jobs = [Job("stackoverflow-1", "MyNB", 0), Job("stackoverflow-1", "text-CNN", 0)]
    before = [job_key(job, ctx) for job in jobs]
    plugin_file.write_text(plugin_file.read_text() + "\n# edited\n")
    after = [job_key(job, ctx) for job in jobs]
    assert before[0] != after[0] and before[1] == after[1]


def test_table3_is_made_only_when_the_run_trains_the_default_generator():
    from bench.experiments import experiments_of, selected_experiments

    suite = experiments_of("stackoverflow")
    names = {tuple(m) if m else None: [e.name for e in selected_experiments(suite, m)]
             for m in (None, ["text-CNN"], ["AugCNN"], ["ADDES"], ["ADDES-W"])}
    assert "table3" in names[None] and "table3" in names[("AugCNN",)]
    assert "table3" in names[("ADDES",)]
    assert "table3" not in names[("text-CNN",)] and "table3" not in names[("ADDES-W",)]


def test_registered_generators_are_the_variants_artifacts_can_train():
    """A generator registered without an implementation (or the reverse) fails here."""
    from bench import artifacts

    assert set(registry.all_generators()) == set(artifacts.VARIANTS)
    assert registry.default_generator() == next(iter(registry.all_generators()))


def test_an_opt_in_variant_runs_only_when_named():
    """ADDES+ trains 3-4x longer than ADDES: the default grids leave it out, --methods runs it."""
    fig7 = EXPERIMENTS["fig7"]
    assert "ADDES+" not in {j.param_dict["variant"] for j in expand(fig7, SMOKE)}
    named = expand(fig7, SMOKE, ["ADDES+"])
    assert named and {j.param_dict["variant"] for j in named} == {"ADDES+"}
    # Table 2 gets its own columns ("AugCNN (ADDES+)", ...) only when named, beside ADDES's
    table2 = EXPERIMENTS["table2"]
    assert "ADDES+" not in {j.param_dict.get("variant") for j in expand(table2, SMOKE)}
    named = expand(table2, SMOKE, ["text-CNN", "AugCNN", "ADDES+"])
    assert {(j.method, j.param_dict.get("variant")) for j in named} == {
        ("text-CNN", None), ("AugCNN", "ADDES"), ("AugCNN", "ADDES-tied"), ("AugCNN", "ADDES+"),
        ("AugGCN", "ADDES+"), ("AugLR", "ADDES+")}


def test_addes_plus_g_is_named_opt_in_and_its_jobs_carry_coupled_d_s_labels(clean_registry):
    """ADDES+G (issue 13's "all four"): its Table 2 / Figure 7 jobs carry label sampling
    "coupled" by name; ADDES's jobs keep the suite's defaults (their keys unchanged)."""
    spec = registry.all_generators()["ADDES+G"]
    assert spec.opt_in and spec.in_tables and not spec.in_paper
    table2 = EXPERIMENTS["table2"]
    assert "ADDES+G" not in {j.param_dict.get("variant") for j in expand(table2, SMOKE)}
    named = expand(table2, SMOKE, ["text-CNN", "AugCNN", "ADDES+G"])
    assert {(j.method, j.param_dict.get("variant"), j.param_dict.get("label_sampling"))
            for j in named} == {
        ("text-CNN", None, None), ("AugCNN", "ADDES", "resample"), ("AugCNN", "ADDES-tied", "tied"),
        ("AugCNN", "ADDES+G", "coupled"), ("AugGCN", "ADDES+G", "coupled"),
        ("AugLR", "ADDES+G", "coupled")}
    fig7 = {j.param_dict["variant"]: j.param_dict["label_sampling"]
            for j in expand(EXPERIMENTS["fig7"], SMOKE, ["ADDES", "ADDES+G"])}
    assert fig7 == {"ADDES": "resample", "ADDES+G": "coupled"}
    with pytest.raises(ValueError, match="not among"):
        registry.register_generator("ADDES-bad", "x", params={"label_samplin": "coupled"})


def test_addes_tied_draws_tied_d_s_from_the_published_generator_in_one_plan(tmp_path):
    """ADDES-tied: default Table 2 columns whose jobs carry label sampling "tied" (titles at
    temperature 1.5; the default jobs carry no temperature) and whose D_s
    comes from the published ADDES generator (one generator per seed in a run's plan, not two;
    the D_s sets differ)."""
    from bench.plan import plan_artifacts, plan_jobs
    from bench.runner import RunContext

    spec = registry.all_generators()["ADDES-tied"]
    assert not spec.opt_in and spec.in_tables and not spec.in_paper
    table2 = EXPERIMENTS["table2"]
    default = {(j.method, j.param_dict.get("variant")) for j in expand(table2, SMOKE)}
    assert {("AugCNN", "ADDES"), ("AugCNN", "ADDES-tied"), ("AugLR", "ADDES-tied")} <= default
    assert "ADDES-tied" in {j.param_dict["variant"] for j in expand(EXPERIMENTS["fig7"], SMOKE)}
    # text only (its titles are sampled at a temperature): never a Table 4 column
    assert spec.modalities == ("text",)
    assert "ADDES-tied" not in {j.param_dict.get("variant")
                                for j in expand(EXPERIMENTS["table4"], SMOKE)}
    named = expand(table2, SMOKE, ["AugCNN", "ADDES-tied"])
    assert {(j.method, j.param_dict["variant"], j.param_dict["label_sampling"],
             j.param_dict.get("temperature")) for j in named} == {
        ("AugCNN", "ADDES", "resample", None), ("AugCNN", "ADDES-tied", "tied", 1.5),
        ("AugGCN", "ADDES-tied", "tied", 1.5), ("AugLR", "ADDES-tied", "tied", 1.5)}
    ctx = RunContext("stackoverflow", SMOKE, tmp_path / "run", tmp_path / "cache")
    planned = plan_jobs(ctx, [table2], ["AugCNN", "ADDES-tied"])
    kinds = [a.name for a in plan_artifacts(planned, SMOKE).values()]
    seeds = {(p.job.dataset, p.job.seed) for p in planned}
    assert kinds.count("text ADDES generator") == len(seeds)  # shared by both variants
    assert len(kinds) == 3 * len(seeds)  # and two D_s per generator: resample, tied
