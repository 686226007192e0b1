"""`run_all.py --dataset SPEC.toml`: spec validation, the "auto" relations, and end-to-end runs
on a dataset the suite has never seen (a fixture written here; the shared Stack Overflow sample
with other targets when ../shared is present)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.cli import main
from bench.data import auto_relations
from bench.data.spec import load_spec, spec_corpus
from bench.data.splits import build_corpus_split, labeled_training_rows, register_spec
from bench.data.stackoverflow import synthetic_corpus
from bench.errors import UserError
from bench.metrics import METRICS
from bench.scales import get_scale

SHARED_SO = Path(__file__).resolve().parents[2] / "shared" / "data" / "stackoverflow-real"
FAST = ["--scale", "smoke", "--experiments", "table2", "--methods", "TF-IDF+LR",
        "--jobs", "1", "--threads", "1"]


def _write_data(folder: Path, n: int = 1500) -> None:
    """A tiny dataset in the formats a spec reads: CSV with "|"-delimited labels, and JSON
    lines with real lists (from the synthetic stand-in's generative model)."""
    corpus = synthetic_corpus(n, seed=3)
    tags = [[corpus.tags[j] for j in np.flatnonzero(row)] for row in corpus.labels]
    pd.DataFrame({"text": corpus.titles, "labels": ["|".join(t) for t in tags]}).to_csv(
        folder / "items.csv", index=False)
    pd.DataFrame({"body": corpus.titles[:300], "cats": tags[:300]}).to_json(
        folder / "items.jsonl", orient="records", lines=True)
    pd.DataFrame({"text": corpus.titles[:200]}).to_csv(folder / "extra.tsv", sep="\t",
                                                       index=False)


GOOD = '''name = "tiny"
[data]
files = ["items.csv"]
unlabeled_files = ["extra.tsv"]
text_column = "text"
labels_column = "labels"
labels_format = "delimited"
delimiter = "|"
[classes]
targets = ["python"]
keep = 25
relations = "auto"
[sizes]
smoke = {labeled = 300, unlabeled = 300, val = 100, test = 400}
'''


@pytest.fixture
def folder(tmp_path):
    _write_data(tmp_path)
    return tmp_path


def _spec(folder: Path, text: str, name: str = "spec.toml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


# ---- malformed specs: one line naming file and field, exit 2, nothing written ---------------

BAD = [  # (how to change GOOD, text expected in the one-line error)
    (lambda s: "colour = 1\n" + s, "colour: unknown field"),
    (lambda s: s.replace('name = "tiny"', ""), "name: required"),
    (lambda s: s.replace('"tiny"', '"Tiny Data"'), "name: required: lower-case"),
    (lambda s: s.replace('"tiny"', "3"), "name: required"),
    (lambda s: s.replace('"tiny"', '"stackoverflow-1"'), "name: 'stackoverflow-1' is a shipped"),
    (lambda s: s.replace("[data]", "[dta]"), "dta: unknown field"),
    (lambda s: s.replace('files = ["items.csv"]', "files = []"), "data.files: must be a non-empty"),
    (lambda s: s.replace('"items.csv"', '"nope.csv"'), "data.files: "),
    (lambda s: s.replace('"items.csv"', '"items.xlsx"'), "unsupported file type '.xlsx'"),
    (lambda s: s.replace('"extra.tsv"', "7"), "data.unlabeled_files: must be a list"),
    (lambda s: s.replace('text_column = "text"', ""), "data.text_column: required"),
    (lambda s: s.replace('labels_column = "labels"', 'labels_column = ""'),
     "data.labels_column: required"),
    (lambda s: s.replace('"delimited"', '"csv"'), "data.labels_format: must be"),
    (lambda s: s.replace('delimiter = "|"', ""), "data.delimiter: required with"),
    (lambda s: s.replace('delimiter = "|"', 'delimiter = ""'), "data.delimiter: required with"),
    (lambda s: s.replace('labels_format = "delimited"', 'labels_format = "list"'),
     "data.delimiter: only used"),
    (lambda s: s.replace("sep = 1", "").replace("[data]", "[data]\nsep = 1"), "data.sep: unknown"),
    (lambda s: s.replace('targets = ["python"]', "targets = []"), "classes.targets: must be"),
    (lambda s: s.replace('targets = ["python"]', 'targets = "python"'), "classes.targets: must"),
    (lambda s: s.replace('targets = ["python"]', 'targets = ["python", "Python"]'),
     "classes.targets: duplicate"),
    (lambda s: s.replace("keep = 25", "keep = 1"), "classes.keep: 1 classes leave none"),
    (lambda s: s.replace("keep = 25", "keep = true"), "classes.keep: must be a number"),
    (lambda s: s.replace("keep = 25", 'keep = ["django", "c"]'),
     "classes.keep: does not list the target(s) python"),
    (lambda s: s.replace("keep = 25", 'keep = ["python"]'), "classes.keep: lists no class"),
    (lambda s: s.replace('relations = "auto"', ""), "classes.relations: required"),
    (lambda s: s.replace('relations = "auto"', 'relations = "rel.json"'),
     "classes.relations: "),
    (lambda s: s.replace('relations = "auto"', "relations = 3"), "classes.relations: must be"),
    (lambda s: s.replace('relations = "auto"', 'relations = {java = ["android"]}'),
     "classes.relations.java: not a target"),
    (lambda s: s.replace('relations = "auto"', 'relations = {python = "django"}'),
     "classes.relations.python: must be a non-empty list"),
    (lambda s: s.replace('relations = "auto"', 'relations = {python = ["django"]}\n'
                         'aliases = {python = ["py"]}'), "classes.aliases: only used with"),
    (lambda s: s.replace("[classes]", "[classes]\naliases = {java = [\"j\"]}"),
     "classes.aliases.java: not a target"),
    (lambda s: s.replace("smoke = {", "huge = {"), "sizes.huge: unknown scale"),
    (lambda s: s.replace("labeled = 300,", "labeled = -3,"), "sizes.smoke.labeled: must be a"),
    (lambda s: s.replace("labeled = 300,", "labelled = 300,"), "sizes.smoke.labelled: unknown"),
    (lambda s: s.replace("[sizes]", "[sizes]\ntest = 1.5"), "sizes.test: must be a positive"),
    (lambda s: s.replace("keep = 25", "keep = 25 25"), "not valid TOML"),
    (lambda s: "name = \n", "not valid TOML"),
    # data-stage problems: still one line naming the file, exit 2, nothing written
    (lambda s: s.replace('"text"', '"txt"', 1), "missing column(s) txt"),
    (lambda s: s.replace('targets = ["python"]', 'targets = ["fortran"]'),
     "classes.targets: fortran not among the 25 kept classes"),
]


@pytest.mark.parametrize("change, message", BAD, ids=[m for _, m in BAD])
def test_malformed_spec_one_line_exit_2_nothing_written(folder, change, message, capsys):
    spec = _spec(folder, change(GOOD))
    out = folder / "out"
    assert main(["--dataset", str(spec), *FAST, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("error: ") and message in err[0], err[0]
    assert str(folder) in err[0]  # names the file (the spec or the data file)
    assert not out.exists()


def test_spec_file_missing_and_option_clashes(folder, capsys):
    assert main(["--dataset", str(folder / "none.toml"), *FAST]) == 2
    assert "dataset spec not found" in capsys.readouterr().err
    spec = _spec(folder, GOOD)
    for extra in (["--suite", "stackoverflow"], ["--data-dir", str(folder)],
                  ["--relations", str(spec)], ["--dry-run"]):
        assert main(["--dataset", str(spec), *FAST, *extra]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "--dataset: not with" in err[0]


def test_label_row_that_does_not_parse_names_file_and_row(folder, capsys):
    spec = _spec(folder, GOOD.replace('"items.csv"', '"items.tsv"').replace(
        'labels_format = "delimited"\ndelimiter = "|"\n', ""))
    (folder / "items.tsv").write_text("text\tlabels\nok title\t['a']\nbad title\t[oops\n")
    assert main(["--dataset", str(spec), *FAST, "--out", str(folder / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert f"{folder / 'items.tsv'}, row 3: tag list does not parse" in err
    assert not (folder / "out").exists()


def test_parquet_without_pyarrow_is_a_clear_error(folder, capsys, monkeypatch):
    def no_engine(*args, **kwargs):
        raise ImportError("Unable to find a usable engine; tried using: 'pyarrow'")

    monkeypatch.setattr(pd, "read_parquet", no_engine)
    (folder / "items.parquet").write_bytes(b"PAR1")
    spec = _spec(folder, GOOD.replace('"items.csv"', '"items.parquet"'))
    assert main(["--dataset", str(spec), *FAST, "--out", str(folder / "out")]) == 2
    assert "reading Parquet needs pyarrow" in capsys.readouterr().err


# ---- reading the data ------------------------------------------------------------------------


def test_formats_keep_list_and_inline_relations(folder, tmp_path):
    spec = load_spec(_spec(folder, '''name = "tiny-json"
[data]
files = ["items.jsonl"]
text_column = "body"
labels_column = "cats"
[classes]
targets = ["javascript"]
keep = ["javascript", "jquery", "html", "css", "java"]
relations = {javascript = ["jquery", "html"]}
'''))
    corpus = spec_corpus(spec, tmp_path / "cache")
    assert corpus.tags == ("javascript", "jquery", "html", "css", "java")
    assert len(corpus.titles) > 50 and corpus.extra_unlabeled == ()
    path = auto_relations.resolve(spec, corpus, get_scale("smoke"), tmp_path / "run")
    assert json.loads(path.read_text())["javascript"] == ["jquery", "html"]
    again = spec_corpus(spec, tmp_path / "cache")  # from the cache
    assert again.titles == corpus.titles


# ---- relations "auto" ------------------------------------------------------------------------


def test_propose_finds_the_planted_link_and_reports_evidence():
    rng = np.random.default_rng(0)
    n = 600
    y_s = rng.random((n, 3)) < 0.3  # sources: numpy (linked), ajax, css
    texts = [("how to use python with numpy" if y_s[i, 0] and rng.random() < 0.5
              else "a generic question about code") for i in range(n)]
    links = auto_relations.propose(texts, y_s, ["numpy", "ajax", "css"], ["python"], {})
    assert [(k.source, k.target, k.weak) for k in links] == [("numpy", "python", False)]
    assert links[0].lift > 2 and "numpy -> python" in links[0].line()
    oracle = {("numpy", "python"), ("css", "python")}
    assert auto_relations.precision_recall(links, oracle) == (1.0, 0.5)


def test_propose_aliases_weak_fallback_and_no_mention():
    texts = ["jvm crash", "jvm tuning", "css margin", "other", "other", "other"]
    y_s = np.array([[1, 0], [0, 0], [0, 1], [0, 0], [1, 0], [0, 0]], bool)
    links = auto_relations.propose(texts, y_s, ["android", "css"], ["java"], {"java": ["jvm"]})
    assert [(k.source, k.weak) for k in links] == [("android", True)]  # too few mentions
    with pytest.raises(UserError, match="no text mentions target 'java'"):
        auto_relations.propose(texts, y_s, ["android", "css"], ["java"], {})


def test_auto_uses_only_d_l_and_validation_rows(folder, tmp_path):
    spec = load_spec(_spec(folder, GOOD))
    register_spec(spec)
    corpus = spec_corpus(spec, tmp_path)
    scale = get_scale("smoke")
    rows = labeled_training_rows(corpus, scale)
    split = build_corpus_split(corpus, load_spec_dataset(spec), scale, {"python": ["django"]},
                             "inline")
    assert sorted(corpus.titles[i] for i in rows) == sorted(
        split.labeled.texts + split.val.texts)


def load_spec_dataset(spec):
    from bench.data.splits import DATASETS

    return DATASETS[spec.name]


# ---- end to end ------------------------------------------------------------------------------


def _run_fixture(folder: Path, experiments: str, methods: str) -> tuple[list[str], Path]:
    spec = _spec(folder, GOOD)
    out = folder / "out"
    argv = ["--dataset", str(spec), "--scale", "smoke", "--experiments", experiments,
            "--methods", methods, "--jobs", "1", "--threads", "1", "--seeds", "1",
            "--out", str(out)]
    assert main(argv) == 0
    return argv, out / "tiny-smoke"


def test_fixture_spec_runs_end_to_end_and_resumes(folder, capsys):
    argv, run = _run_fixture(folder, "table2", "text-CNN,TF-IDF+LR")
    err = capsys.readouterr().err
    assert "auto relations" in err and "-> python" in err and "oracle analysis" in err
    records = pd.read_csv(run / "records.csv")
    assert set(records.dataset) == {"tiny"} and (records.status == "ok").all()
    assert set(records.method) == {"text-CNN", "TF-IDF+LR"}
    assert records.n_labeled.iloc[0] == 300 and records.n_test.iloc[0] == 400
    assert records.source.iloc[0] == "real: tiny (spec.toml)"
    assert json.loads((run / "relations-auto.json").read_text())["python"]
    oracle = json.loads((run / "relations-auto-oracle.json").read_text())
    assert 0 <= oracle["precision"] <= 1
    report = (run / "report.md").read_text()
    assert "tiny" in report and "TF-IDF+LR" in report
    assert "StackOverflow-1" not in report  # no paper block of datasets this run does not have
    assert "## Relations (auto)" in report and "-> python" not in report.split("## Relations")[0]
    assert "| python |" in report.split("## Relations (auto)")[1] and "Oracle analysis" in report
    stamps = {p.name: p.stat().st_mtime_ns for p in (run / "records").iterdir()}
    assert main(argv) == 0  # a rerun trains nothing: every record is reused as it is
    assert {p.name: p.stat().st_mtime_ns for p in (run / "records").iterdir()} == stamps


@pytest.mark.slow
def test_fixture_spec_runs_generator_experiments(folder):
    _, run = _run_fixture(folder, "table2,fig3", "AugCNN")
    records = pd.read_csv(run / "records.csv")
    assert (records.status == "ok").all() and set(records.experiment) == {"table2", "fig3"}
    assert set(records.dataset) == {"tiny"}


@pytest.mark.skipif(not SHARED_SO.is_dir(), reason="../shared data absent")
@pytest.mark.parametrize("name, targets, linked", [
    ("so-python", '["python"]', {"python"}),
    ("so-c", '["c++", "c"]', {"c++", "c"}),
])
def test_shared_stackoverflow_with_other_targets(tmp_path, name, targets, linked, capsys):
    _shared_run(tmp_path, name, targets, linked, capsys, "smoke")


@pytest.mark.skipif(not SHARED_SO.is_dir(), reason="../shared data absent")
def test_shared_stackoverflow_python_at_quick_scale(tmp_path, capsys):
    _shared_run(tmp_path, "so-python", '["python"]', {"python"}, capsys, "quick")


def _shared_run(tmp_path, name, targets, linked, capsys, scale):
    spec = _spec(tmp_path, f'''name = "{name}"
[data]
files = ["{SHARED_SO / 'labeled.tsv'}"]
unlabeled_files = ["{SHARED_SO / 'unlabeled.tsv'}"]
text_column = "title"
labels_column = "tags"
[classes]
targets = {targets}
relations = "auto"
[sizes]  # the smoke models on more texts: the auto relations need some evidence
smoke = {{labeled = 2000, unlabeled = 500, val = 300, test = 1000}}
''')
    out = tmp_path / "out"
    argv = ["--dataset", str(spec), *FAST, "--seeds", "1", "--out", str(out)]
    argv[argv.index("smoke")] = scale
    assert main(argv) == 0
    run = out / f"{name}-{scale}"
    proposed = json.loads((run / "relations-auto.json").read_text())
    assert set(k for k in proposed if not k.startswith("_")) == linked
    records = pd.read_csv(run / "records.csv")
    assert (records.status == "ok").all() and set(records.dataset) == {name}
    assert "oracle analysis" in capsys.readouterr().err


def test_readme_example_spec_is_valid(tmp_path):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    example = readme.split("## Bring your own data", 1)[1].split("```toml\n", 1)[1].split("```")[0]
    (tmp_path / "labeled.tsv").write_text("title\ttags\nx\t['python']\n")
    (tmp_path / "unlabeled.tsv").write_text("title\ny\n")
    spec = load_spec(_spec(tmp_path, example))
    assert spec.name == "so-python" and spec.targets == ("python",) and spec.relations == "auto"
    assert spec.sizes_for("quick") == {"n_labeled": 2000, "n_unlabeled": 2000, "n_val": 300,
                                       "n_test": 3000}


@pytest.mark.skipif(not SHARED_SO.is_dir(), reason="../shared data absent")
def test_spec_of_stackoverflow_1_gives_the_suites_split(tmp_path):
    """A spec with the paper's StackOverflow-1 settings builds the split the suite builds
    from the same folder: one partition, vocabulary, labels and graph."""
    from bench.data.splits import DEFAULT_RELATIONS, load_split

    spec = load_spec(_spec(tmp_path, f'''name = "so-1-spec"
[data]
files = ["{SHARED_SO / 'labeled.tsv'}"]
unlabeled_files = ["{SHARED_SO / 'unlabeled.tsv'}"]
text_column = "title"
labels_column = "tags"
[classes]
targets = ["javascript"]
relations = "{DEFAULT_RELATIONS}"
'''))
    register_spec(spec)
    scale = get_scale("smoke")
    ours = load_split(spec.name, scale, None, tmp_path / "cache", spec.relations)
    suite = load_split("stackoverflow-1", scale, SHARED_SO, tmp_path / "cache", DEFAULT_RELATIONS)
    for part in ("labeled", "unlabeled", "val", "test"):
        assert getattr(ours, part).texts == getattr(suite, part).texts
        np.testing.assert_array_equal(getattr(ours, part).x, getattr(suite, part).x)
    for name in ("y_s", "val_y_s", "test_y_t"):
        np.testing.assert_array_equal(getattr(ours, name), getattr(suite, name))
    assert ours.inexact == suite.inexact and ours.targets == suite.targets
    np.testing.assert_array_equal(ours.graph.target_links, suite.graph.target_links)
    np.testing.assert_array_equal(ours.graph.adjacency, suite.graph.adjacency)


# ---- the paper's datasets as shipped specs; a user's spec naming a built-in reader ----------


def test_shipped_specs_parse_and_are_the_suites_datasets():
    """bench/data/specs/*.toml: each parses with the user's loader, is named after its file,
    names a reader, and together they are the suites (the paper's targets, Section 5)."""
    from bench.data.spec import SHIPPED_DIR, shipped_specs
    from bench.data.splits import DATASETS, SUITES

    files = sorted(SHIPPED_DIR.glob("*.toml"))
    assert [p.stem for p in files] == ["mjsynth-1", "mjsynth-2", "stackoverflow-1",
                                       "stackoverflow-2"]
    for path in files:
        spec = load_spec(path)
        assert spec.name == path.stem and spec.reader in ("stackoverflow", "mjsynth")
        assert spec.relations is None and spec.sizes_for("quick") == {}  # --relations, scale
        assert DATASETS[spec.name] == spec
    assert SUITES == {"stackoverflow": ("stackoverflow-1", "stackoverflow-2"),
                      "mjsynth": ("mjsynth-1", "mjsynth-2")}
    targets = {s.name: s.targets for s in shipped_specs()}
    assert targets == {"stackoverflow-1": ("javascript",),
                       "stackoverflow-2": ("javascript", "c#", "php", "java"),
                       "mjsynth-1": ("e",), "mjsynth-2": ("a", "c", "e")}
    assert {s.name: s.modality for s in shipped_specs()} == {
        "stackoverflow-1": "text", "stackoverflow-2": "text", "mjsynth-1": "image",
        "mjsynth-2": "image"}


def test_readme_reader_example_is_valid(tmp_path):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Bring your own data", 1)[1].split("\n## ", 1)[0]
    example = section.split("```toml\n")[2].split("```")[0]
    spec = load_spec(_spec(tmp_path, example))
    assert spec.reader == "stackoverflow" and spec.targets == ("java", "php")
    assert spec.relations is None and spec.files == ()


READER_SPEC = '''name = "my-so"
[data]
reader = "stackoverflow"
[classes]
targets = ["javascript", "c#", "php", "java"]
'''


def _same_split(ours, suite) -> None:
    for part in ("labeled", "unlabeled", "val", "test"):
        assert getattr(ours, part).texts == getattr(suite, part).texts
        np.testing.assert_array_equal(getattr(ours, part).x, getattr(suite, part).x)
    for name in ("y_s", "val_y_s", "test_y_t"):
        np.testing.assert_array_equal(getattr(ours, name), getattr(suite, name))
    for part in ("labeled", "unlabeled", "val"):
        np.testing.assert_array_equal(ours.oracle_target_labels(part),
                                      suite.oracle_target_labels(part))
    assert ours.inexact == suite.inexact and ours.targets == suite.targets
    np.testing.assert_array_equal(ours.graph.target_links, suite.graph.target_links)
    np.testing.assert_array_equal(ours.graph.adjacency, suite.graph.adjacency)


@pytest.mark.parametrize("data_dir", [None, SHARED_SO], ids=["stand-in", "shared sample"])
def test_user_spec_with_the_stackoverflow_reader_gives_the_suites_split(tmp_path, data_dir):
    """A user's spec naming reader "stackoverflow" with StackOverflow-2's targets and no
    relations (so the shipped file) builds the suite's split, from the stand-in or a folder,
    and its jobs keep the suite's source id (not the spec's fingerprint)."""
    if data_dir is not None and not data_dir.is_dir():
        pytest.skip("../shared data absent")
    from bench.data.splits import DEFAULT_RELATIONS, load_split
    from bench.runner import RunContext

    spec = load_spec(_spec(tmp_path, READER_SPEC))
    assert spec.reader == "stackoverflow" and spec.relations is None
    register_spec(spec)
    scale = get_scale("smoke")
    ours = load_split(spec.name, scale, data_dir, tmp_path / "cache", DEFAULT_RELATIONS)
    suite = load_split("stackoverflow-2", scale, data_dir, tmp_path / "cache", DEFAULT_RELATIONS)
    assert ours.dataset == "my-so" and suite.dataset == "stackoverflow-2"
    _same_split(ours, suite)
    contexts = [RunContext(name, scale, tmp_path, tmp_path, data_dir, dataset_spec=s)
                for name, s in (("my-so", spec), ("stackoverflow", None))]
    assert contexts[0].source_id == contexts[1].source_id


def test_reader_spec_runs_with_the_suites_numbers(tmp_path, capsys):
    """`--dataset` with a reader spec (StackOverflow-1's targets) runs, and its test metrics
    are the suite's own StackOverflow-1 numbers for the same method and seed."""
    spec = _spec(tmp_path, READER_SPEC.replace('"javascript", "c#", "php", "java"',
                                               '"javascript"'))
    out = tmp_path / "out"
    assert main(["--dataset", str(spec), *FAST, "--seeds", "1", "--out", str(out)]) == 0
    assert main(["--suite", "stackoverflow", *FAST, "--seeds", "1", "--out", str(out)]) == 0
    ours = pd.read_csv(out / "my-so-smoke" / "records.csv")
    suite = pd.read_csv(out / "stackoverflow-smoke" / "records.csv")
    suite = suite[suite.dataset == "stackoverflow-1"]
    assert set(ours.dataset) == {"my-so"} and len(ours) == len(suite) == 1
    assert (ours.status == "ok").all()
    metrics = list(METRICS)
    assert (ours[metrics].to_numpy() == suite[metrics].to_numpy()).all()
    assert "synthetic stand-in" in capsys.readouterr().err


READER_BAD = [  # (how to change READER_SPEC, text expected in the one-line error)
    (lambda s: s.replace('"stackoverflow"', '"stackexchange"'), "data.reader: unknown reader"),
    (lambda s: s.replace('"stackoverflow"', "1"), "data.reader: unknown reader"),
    (lambda s: s.replace('reader = "stackoverflow"', 'reader = "stackoverflow"\nfiles = ["x.csv"]'),
     "data.files: not used with reader"),
    (lambda s: s.replace("[classes]", "[classes]\nkeep = 10"), "classes.keep: not used with"),
    (lambda s: s.replace('"stackoverflow"', '"mjsynth"'),
     "classes.targets: reader 'mjsynth' labels images by their word's letters"),
    (lambda s: s.replace('"stackoverflow"', '"mjsynth"').replace(
        '"javascript", "c#", "php", "java"', '"e"') + 'relations = {e = ["a"]}\n',
     "classes.relations: not used with reader 'mjsynth'"),
    (lambda s: s + 'aliases = {java = ["j"]}\n', "classes.aliases: only used with"),
    (lambda s: s + 'relations = {go = ["x"]}\n', "classes.relations.go: not a target"),
]


@pytest.mark.parametrize("change, message", READER_BAD, ids=[m for _, m in READER_BAD])
def test_malformed_reader_spec_one_line_exit_2(tmp_path, change, message, capsys):
    spec = _spec(tmp_path, change(READER_SPEC))
    out = tmp_path / "out"
    assert main(["--dataset", str(spec), *FAST, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err
    assert not out.exists()


def test_data_dir_only_with_a_reader_spec(folder, tmp_path, capsys):
    """--data-dir is the reader's folder (here the shared sample's format, labeled.tsv); a
    spec that names files refuses it."""
    assert main(["--dataset", str(_spec(folder, GOOD)), *FAST, "--data-dir", str(folder)]) == 2
    assert "--dataset: not with --data-dir" in capsys.readouterr().err
    corpus = synthetic_corpus(1500, seed=3)
    tags = [str([corpus.tags[j] for j in np.flatnonzero(row)]) for row in corpus.labels]
    data = tmp_path / "so-sample"
    data.mkdir()
    pd.DataFrame({"title": corpus.titles, "tags": tags}).to_csv(data / "labeled.tsv", sep="\t",
                                                                 index=False)
    out = tmp_path / "out"
    spec = _spec(tmp_path, READER_SPEC)
    assert main(["--dataset", str(spec), *FAST, "--seeds", "1", "--data-dir", str(data),
                 "--out", str(out)]) == 0
    records = pd.read_csv(out / "my-so-smoke-so-sample" / "records.csv")
    assert (records.status == "ok").all() and set(records.source) == {"real: so-sample"}
