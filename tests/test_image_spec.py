"""`run_all.py --dataset SPEC.toml` with an image spec (`[data] images = folder` + a labels
file naming each image by a path column): validation, reading and resizing the images, and
the image suite's grid on a dataset it has never seen (word images rendered here by the
suite's own renderer; the shared MJSynth sample at quick scale when ../shared is present)."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from bench.cli import main
from bench.data.mjsynth import load_image, word_from_name
from bench.data.render import HEIGHT, WIDTH, image_rng, render_word
from bench.data.spec import load_spec
from bench.data.splits import load_split, register_spec
from bench.scales import get_scale

SHARED_MJ = (Path(__file__).resolve().parents[2] / "shared" / "data" / "mjsynth-sample" / "mnt"
             / "ramdisk" / "max" / "90kDICT32px")
WORDS = ("tree", "rose", "stone", "river", "seat", "tea", "rat", "star", "sort", "rest",
         "toast", "oats", "vine", "note")
N_LABELED, N_EXTRA = 80, 16
FAST = ["--scale", "smoke", "--jobs", "1", "--threads", "1", "--seeds", "1"]

README = Path(__file__).resolve().parents[1] / "README.md"
# the README's image spec example, verbatim: every test here runs it (or a change of it)
GOOD = README.read_text().split("### Image specs", 1)[1].split("```toml\n", 1)[1].split("```")[0]


def _word(name: str) -> str:
    """The word of a rendered image's file name (sub/007_tree.png -> tree)."""
    return Path(name).stem.split("_", 1)[1]


def _letters(word: str) -> str:
    return "|".join(sorted(set(word)))


@pytest.fixture(scope="session")
def rendered(tmp_path_factory) -> Path:
    """N_LABELED + N_EXTRA word images by the suite's renderer, saved as PNG of mixed sizes
    and modes (every third one RGB at 2x: the reader converts and resizes), with labels.csv
    (path, the word's letters) and extra.csv (paths only: they join D_u)."""
    root = tmp_path_factory.mktemp("images")
    (root / "images" / "sub").mkdir(parents=True)
    rows = []
    for i in range(N_LABELED + N_EXTRA):
        rng = image_rng(11, i)
        word = WORDS[rng.integers(len(WORDS))]
        image = Image.fromarray((render_word(word, rng) * 255).astype(np.uint8))
        if i % 3 == 0:
            image = image.convert("RGB").resize((2 * WIDTH, 2 * HEIGHT))
        name = f"sub/{i:03d}_{word}.png"
        image.save(root / "images" / name)
        rows.append((name, _letters(word)))
    pd.DataFrame(rows[:N_LABELED], columns=["file", "letters"]).to_csv(root / "labels.csv",
                                                                      index=False)
    pd.DataFrame([r[0] for r in rows[N_LABELED:]], columns=["file"]).to_csv(root / "extra.csv",
                                                                           index=False)
    return root


@pytest.fixture
def folder(rendered, tmp_path) -> Path:
    """A copy of the rendered dataset that a test may change."""
    shutil.copytree(rendered, tmp_path / "data")
    return tmp_path / "data"


def _drop(text: str, start: str) -> str:
    """The spec without its line that starts with `start`."""
    return "".join(line for line in text.splitlines(keepends=True)
                   if not line.startswith(start))


def _spec(folder: Path, text: str) -> Path:
    path = folder / "spec.toml"
    path.write_text(text)
    return path


# ---- malformed image specs: one line naming file and field, exit 2, nothing written ----------


def _break_image(folder: Path, how: str) -> None:
    target = folder / "images" / pd.read_csv(folder / "labels.csv").file.iloc[5]
    if how == "missing":
        target.unlink()
    elif how == "garbage":
        target.write_bytes(b"not a png at all")
    elif how == "empty":
        target.write_bytes(b"")
    elif how == "truncated":
        target.write_bytes(target.read_bytes()[:60])


def _edit_labels(folder: Path, column: str, value: str) -> None:
    labels = pd.read_csv(folder / "labels.csv")
    labels.loc[7, column] = value
    labels.to_csv(folder / "labels.csv", index=False)


BAD = [  # (how to change GOOD, how to change the data, text expected in the one-line error)
    (lambda s: s.replace('images = "images"', 'images = "nope"'), None,
     "data.images: "),
    (lambda s: s.replace('images = "images"', "images = 3"), None,
     "data.images: must be a folder name"),
    (lambda s: _drop(s, "path_column ="), None, "data.path_column: required"),
    (lambda s: s.replace('path_column = "file"', 'path_column = "file"\ntext_column = "t"'),
     None, "data.text_column: not used with data.images"),
    (lambda s: _drop(s, "images ="), None,
     "data.path_column: only used with data.images"),
    (lambda s: s.replace('relations = {e = ["i", "v", "n"]}', 'relations = "auto"'), None,
     'classes.relations: "auto" reads the target names in texts'),
    (lambda s: _drop(s, "relations ="), None,
     "classes.relations: required"),
    (lambda s: s.replace('"e"]', '"q"]').replace("{e =", "{q ="), None,
     "classes.targets: q not among"),
    (lambda s: s.replace('path_column = "file"', 'path_column = "path"'), None,
     "missing column(s) path"),
    (lambda s: s.replace('"extra.csv"', '"extra.txt"'), None, "unsupported file type '.txt'"),
    (lambda s: s.replace("[classes]", '[classes]\naliases = {e = ["E"]}'), None,
     "classes.aliases: only used with"),
    (lambda s: s, lambda f: _break_image(f, "missing"), "row 7: file: image "),
    (lambda s: s, lambda f: _break_image(f, "garbage"), "not a readable image"),
    (lambda s: s, lambda f: _break_image(f, "empty"), "not a readable image"),
    (lambda s: s, lambda f: _break_image(f, "truncated"), "not a readable image"),
    (lambda s: s, lambda f: _edit_labels(f, "file", "../../outside.png"), "no such file"),
    (lambda s: s, lambda f: _edit_labels(f, "file", ""), "row 9: file: empty image path"),
    (lambda s: s, lambda f: (f / "extra.csv").write_text("file\nnope.png\n"),
     "extra.csv, row 2: file: image"),
]


@pytest.mark.parametrize("change, data, message", BAD, ids=[m for _, _, m in BAD])
def test_malformed_image_spec_one_line_exit_2_nothing_written(folder, change, data, message,
                                                              capsys):
    spec = _spec(folder, change(GOOD))
    if data is not None:
        data(folder)
    out = folder / "out"
    argv = ["--dataset", str(spec), *FAST, "--experiments", "table4", "--methods", "SDANN",
            "--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("error: ") and message in err[0], err[0]
    assert str(folder) in err[0]  # names the file (the spec or the labels file)
    assert not out.exists()


@pytest.mark.parametrize("option, message", [
    (["--target-estimate", "soft"], "--target-estimate soft: needs the MJSynth word forest"),
    (["--word-list", "words.txt"], "--dataset: not with --word-list"),
    (["--data-dir", "."], "--dataset: not with --data-dir"),
])
def test_options_of_the_mjsynth_reader_are_refused(folder, option, message, capsys):
    """An image spec's D_e is Eq. 19's 0/1 estimate and its graph comes from its relations:
    the word forest's target estimates and word list do not apply, nor a reader's folder."""
    out = folder / "out"
    assert main(["--dataset", str(_spec(folder, GOOD)), *FAST, *option, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not out.exists()


# ---- reading ---------------------------------------------------------------------------------


def test_image_spec_split_resizes_and_keeps_labels(folder, tmp_path):
    """Every image becomes the suite's [1, 32, 100] grayscale float input (an RGB image at 2x
    is converted and resized by the MJSynth reader's load_image); the inexact labels are the
    labels file's, the test targets too; the extra images join D_u; G is Eq. 17 on D_l with
    the spec's Eq. 18 links, so D_e's targets are Eq. 19 over them."""
    spec = load_spec(_spec(folder, GOOD))
    assert spec.modality == "image" and not spec.graph_from_words
    assert spec.sizes_for("smoke") == {"mj_n_labeled": 24, "mj_n_unlabeled": 16,
                                       "mj_n_val": 8, "mj_n_test": 24}
    register_spec(spec)
    relations = tmp_path / "rel.json"
    relations.write_text('{"e": ["i", "v", "n"]}')
    scale = replace(get_scale("smoke"), **spec.sizes_for("smoke"))
    split = load_split("my-words", scale, None, tmp_path / "cache", relations)
    assert split.sizes == {"n_labeled": 24, "n_unlabeled": 16, "n_val": 8, "n_test": 24}
    assert split.modality == "image" and split.labeled.x.shape == (24, 1, HEIGHT, WIDTH)
    assert split.labeled.x.dtype == np.float32 and 0 <= split.labeled.x.min() <= 1
    name = split.labeled.texts[0]
    assert np.array_equal(split.labeled.x[0, 0], load_image(folder / "images" / name))
    extra = set(pd.read_csv(folder / "extra.csv").file)
    assert set(split.unlabeled.texts) == extra
    for part, inputs in (("labeled", split.labeled), ("test", split.test)):
        words = [_word(n) for n in inputs.texts]
        truth = np.array([[float("e" in w)] for w in words], np.float32)
        got = split.test_y_t if part == "test" else split.oracle_target_labels("labeled")
        assert np.array_equal(got, truth)
    s = list(split.inexact)
    assert "e" not in s and set(s) <= set("".join(WORDS))
    expected = np.array([[float(any(c in w for c in "ivn"))] for w in
                         map(_word, split.labeled.texts)])
    assert np.array_equal(split.estimated_targets(split.y_s), expected)  # Eq. 19


def test_user_spec_with_the_mjsynth_reader_gives_the_suites_split(tmp_path):
    """`[data] reader = "mjsynth"` with MJSynth-1's target builds MJSynth-1's split (the
    renderer's stand-in here): the same images, labels and word-forest graph."""
    spec = load_spec(_spec(tmp_path, 'name = "my-mj"\n[data]\nreader = "mjsynth"\n'
                                     '[classes]\ntargets = ["e"]\n'))
    assert spec.modality == "image" and spec.graph_from_words
    register_spec(spec)
    scale = replace(get_scale("smoke"), mj_n_labeled=24, mj_n_unlabeled=16, mj_n_val=8,
                    mj_n_test=40)
    ours = load_split("my-mj", scale, None, tmp_path / "cache")
    suite = load_split("mjsynth-1", scale, None, tmp_path / "cache")
    for part in ("labeled", "unlabeled", "val", "test"):
        assert np.array_equal(getattr(ours, part).x, getattr(suite, part).x)
    assert np.array_equal(ours.y_s, suite.y_s) and np.array_equal(ours.test_y_t, suite.test_y_t)
    assert ours.graph.classes == suite.graph.classes
    assert np.array_equal(ours.estimated_targets(ours.y_s, "soft"),
                          suite.estimated_targets(suite.y_s, "soft"))


# ---- end to end ------------------------------------------------------------------------------


def test_image_spec_runs_the_image_grid_at_smoke_scale(folder, capsys):
    """Table 4's SDANN and AugCNN (an ADDES generator on the spec's images, D_e from Eq. 19)
    and Figure 5 on the spec, through the MJSynth suite's experiments; a rerun trains nothing."""
    spec = _spec(folder, GOOD)
    out = folder / "out"
    argv = ["--dataset", str(spec), *FAST, "--experiments", "table4,fig5",
            "--methods", "SDANN,AugCNN", "--out", str(out)]
    assert main(argv) == 0
    run = out / "my-words-smoke"
    records = pd.read_csv(run / "records.csv")
    assert (records.status == "ok").all() and set(records.dataset) == {"my-words"}
    assert set(records.method) == {"SDANN", "AugCNN"} and set(records.experiment) == {"table4"}
    assert records.n_labeled.iloc[0] == 24 and records.n_test.iloc[0] == 24
    assert records.source.iloc[0] == "real: my-words (spec.toml)"
    report = (run / "report.md").read_text()
    assert "### Table 4" in report and "| my-words" in report and "MJSynth-1 " not in report
    assert "e = 1 (top)" in report and (run / "figures" / "fig5.png").stat().st_size > 2_000
    assert (run / "relations.json").exists()  # the inline relations, as for a text spec
    stamps = {p.name: p.stat().st_mtime_ns for p in (run / "records").iterdir()}
    assert main(argv) == 0
    assert {p.name: p.stat().st_mtime_ns for p in (run / "records").iterdir()} == stamps


@pytest.mark.slow
def test_image_spec_runs_every_image_experiment_at_smoke_scale(folder):
    """The whole image grid: Table 4 (every registered image method), Figures 4, 5, 6(b), 8."""
    out = folder / "out"
    assert main(["--dataset", str(_spec(folder, GOOD)), "--scale", "smoke", "--jobs", "1",
                 "--threads", "1", "--out", str(out)]) == 0
    run = out / "my-words-smoke"
    records = pd.read_csv(run / "records.csv")
    assert (records.status == "ok").all()
    assert set(records.experiment) == {"table4", "fig4", "fig6-mj", "fig8-mj"}
    assert {"SDANN", "ML-GCN", "Semi-CNN", "Zero-shot", "AugCNN", "AugGCN",
            "NoisyOR-CNN"} <= set(records[records.experiment == "table4"].method)
    for fig in ("fig4", "fig5", "fig6-mj", "fig8-mj"):
        assert (run / "figures" / f"{fig}.png").stat().st_size > 2_000


@pytest.mark.slow
@pytest.mark.skipif(not SHARED_MJ.is_dir(), reason="../shared MJSynth sample absent")
def test_shared_mjsynth_sample_as_an_image_spec_at_quick_scale(tmp_path):
    """The 803 real MJSynth images as a user's image spec (labels: the lower-cased word's
    letters, every word kept), T = {e}, at quick scale: SDANN and AugCNN of Table 4."""
    rows = []
    for line in (SHARED_MJ / "annotation_val.txt").read_text().splitlines():
        path = line.split()[0]
        letters = sorted({c for c in (word_from_name(path) or "").lower() if c.isalpha()})
        if letters:
            rows.append((path, "|".join(letters)))
    pd.DataFrame(rows, columns=["file", "letters"]).to_csv(tmp_path / "labels.csv", index=False)
    spec = _spec(tmp_path, GOOD.replace('"images"', f'"{SHARED_MJ}"', 1).replace(
        'unlabeled_files = ["extra.csv"]', "").replace(
        'relations = {e = ["i", "v", "n"]}', 'relations = {e = ["r", "s", "d"]}').replace(
        "smoke = {labeled = 24, unlabeled = 16, val = 8, test = 24}",
        "quick = {labeled = 300, unlabeled = 150, val = 80, test = 270}"))
    out = tmp_path / "out"
    assert main(["--dataset", str(spec), "--scale", "quick", "--experiments", "table4",
                 "--methods", "SDANN,AugCNN", "--jobs", "1", "--threads", "1", "--seeds", "1",
                 "--out", str(out)]) == 0
    records = pd.read_csv(out / "my-words-quick" / "records.csv")
    assert (records.status == "ok").all() and set(records.method) == {"SDANN", "AugCNN"}
    assert records.n_labeled.iloc[0] == 300 and records.n_unlabeled.iloc[0] == 150
