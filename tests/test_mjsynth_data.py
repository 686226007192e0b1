"""The MJSynth suite's data: renderer, real Synth90k loader, word graph and image splits."""

from __future__ import annotations

import io
import logging

import joblib
import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import roc_auc_score

from bench.data.image_split import SYNTHETIC_SOURCE, build_image_split
from bench.data.mjsynth import load_mjsynth, word_from_name
from bench.data.render import BUILTIN_WORDS, cached_render_set, load_word_list, render_set
from bench.data.wordgraph import LETTERS, build_word_graph, letter_labels
from bench.errors import UserError
from tests.conftest import shared

WORDS = ("apple", "house", "river", "stone", "quiet", "zebra")


# --- renderer ------------------------------------------------------------------------------


def test_render_is_deterministic_and_image_i_ignores_n():
    x6, w6 = render_set(WORDS, 6, seed=3)
    x6b, w6b = render_set(WORDS, 6, seed=3)
    x3, w3 = render_set(WORDS, 3, seed=3)
    np.testing.assert_array_equal(x6, x6b)
    assert w6 == w6b
    np.testing.assert_array_equal(x3, x6[:3])
    assert w3 == w6[:3]
    assert not np.array_equal(render_set(WORDS, 3, seed=4)[0], x3)


def test_rendered_images_shape_range_and_content():
    x, words = render_set(BUILTIN_WORDS, 12, seed=0)
    assert x.shape == (12, 1, 32, 100) and x.dtype == np.float32
    assert x.min() >= 0.0 and x.max() <= 1.0
    assert all(w in BUILTIN_WORDS for w in words)
    assert (x.reshape(12, -1).std(axis=1) > 0.03).all(), "a rendered image is blank"
    diffs = [np.abs(x[i] - x[j]).mean() for i in range(12) for j in range(i + 1, 12)]
    assert min(diffs) > 0.02


def test_rendered_set_is_cached(tmp_path):
    first = cached_render_set(WORDS, 4, 1, tmp_path)
    assert len(list((tmp_path / "rendered").iterdir())) == 1
    second = cached_render_set(WORDS, 4, 1, tmp_path)
    np.testing.assert_array_equal(first[0], second[0])
    assert first[1] == second[1]


def test_word_list_keeps_lowercase_words(tmp_path):
    path = tmp_path / "words.list"
    path.write_text("apple\nHouse\nriver2\n\nstone\napple\n", encoding="utf-8")
    assert load_word_list(path)[0] == ("apple", "stone")
    with pytest.raises(UserError, match="not found"):
        load_word_list(tmp_path / "missing.list")
    assert load_word_list(None)[0]


# --- real loader ---------------------------------------------------------------------------


def _jpeg(word: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (60 + 5 * len(word), 31), (200, 180, 40)).save(buffer, format="JPEG")
    return buffer.getvalue()


def _write_synth90k(root, with_annotation=True):
    """A tiny dataset in the official layout: 4 good images, 1 corrupt, 1 truncated, and
    2 words that are not lowercase a-z."""
    folder = root / "mnt" / "ramdisk" / "max" / "90kDICT32px"
    shard = folder / "1" / "2"
    shard.mkdir(parents=True)
    names = []
    words = ("apple", "house", "river", "stone", "broken", "cut", "HELLO", "abc1")
    for i, word in enumerate(words):
        name = f"{i}_{word}_{100 + i}.jpg"
        data = _jpeg(word)
        if word == "broken":
            data = b"not a jpeg at all"
        elif word == "cut":
            data = data[: len(data) // 2]
        (shard / name).write_bytes(data)
        names.append(f"./1/2/{name} {100 + i}")
    if with_annotation:
        (folder / "annotation_train.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
    return root


def test_word_from_name():
    assert word_from_name("466_MONIKER_49537.jpg") == "MONIKER"
    assert word_from_name("odd.jpg") is None


@pytest.mark.parametrize("with_annotation", [True, False])
def test_loader_reads_samples_and_skips_bad_images(tmp_path, caplog, with_annotation):
    root = _write_synth90k(tmp_path / "data", with_annotation)
    with caplog.at_level(logging.WARNING, logger="bench"):
        images = load_mjsynth(root, 10, tmp_path / "cache", seed=0)
    assert images.x.shape == (4, 1, 32, 100) and images.x.dtype == np.float32
    assert 0.0 <= images.x.min() and images.x.max() <= 1.0
    assert sorted(images.words) == ["apple", "house", "river", "stone"]
    assert (images.n_listed, images.n_dropped, images.n_unreadable) == (8, 2, 2)
    assert "unreadable" in caplog.text
    again = load_mjsynth(root, 10, tmp_path / "cache", seed=0)
    assert again.words == images.words
    assert load_mjsynth(root, 2, tmp_path / "cache", seed=0).words == images.words[:2]


def test_loader_rejects_missing_or_empty_folder(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load_mjsynth(tmp_path / "nope", 5, tmp_path, seed=0)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no image"):
        load_mjsynth(tmp_path / "empty", 5, tmp_path, seed=0)


def test_loader_on_shared_sample(tmp_path):
    images = load_mjsynth(shared("mjsynth-sample"), 1000, tmp_path, seed=0)
    assert images.n_listed == 803
    assert images.n_dropped + len(images.words) + images.n_unreadable == 803
    assert all(w.isalpha() and w.islower() for w in images.words)
    assert images.x.shape[1:] == (1, 32, 100)
    assert images.x.reshape(len(images.x), -1).std(axis=1).min() > 0.01


# --- word graph ----------------------------------------------------------------------------


def test_word_graph_eq17_by_hand():
    graph = build_word_graph(("ab", "abc", "c"), ("c",), seed=0)
    assert graph.classes == tuple(c for c in LETTERS if c != "c") + ("c",)
    a, i = graph.adjacency, graph.classes.index
    assert a[i("a"), i("b")] == 1.0  # P(a | b) = 2 / 2
    assert a[i("c"), i("a")] == 0.5  # P(c | a) = 1 / 2: a target <-> inexact edge
    assert a[i("b"), i("c")] == 0.5  # P(b | c) = 1 / 2
    assert a[i("z"), i("a")] == 0.0 and a[i("a"), i("a")] == 0.0
    assert graph.target_links[0, i("a")]  # P(c | a) >= 0.5


def test_word_graph_forest_shapes_and_pickle(tmp_path):
    graph = build_word_graph(BUILTIN_WORDS, ("a", "c", "e"), seed=0)
    y_s = letter_labels(BUILTIN_WORDS[:20])[:, [LETTERS.index(c) for c in graph.inexact]]
    p, e = graph.target_probabilities(y_s), graph.estimate_targets(y_s)
    assert p.shape == e.shape == (20, 3) and e.dtype == np.float32
    assert ((p >= 0) & (p <= 1)).all() and set(np.unique(e)) <= {0.0, 1.0}
    joblib.dump(graph, tmp_path / "g.joblib")
    again = joblib.load(tmp_path / "g.joblib")
    np.testing.assert_array_equal(again.estimate_targets(y_s), e)
    oracle = again.reweighted_by_true_labels(np.ones((3, 26)))
    assert oracle.target_probabilities(y_s).shape == (20, 3)


def test_word_graph_predicts_e_on_held_out_yawl():
    words, _ = load_word_list(shared("wordlists", "yawl_word.list"))
    rng = np.random.default_rng(0)
    order = rng.permutation(len(words))
    train = [words[i] for i in order[:20_000]]
    held_out = [words[i] for i in order[-5_000:]]
    graph = build_word_graph(train, ("e",), seed=0)
    labels = letter_labels(held_out)[:, [LETTERS.index(c) for c in graph.classes]]
    y_s, y_e = labels[:, :-1], labels[:, -1]
    assert roc_auc_score(y_e, graph.target_probabilities(y_s)[:, 0]) > 0.7
    assert (graph.estimate_targets(y_s)[:, 0] == y_e).mean() > max(y_e.mean(), 1 - y_e.mean())


# --- image splits --------------------------------------------------------------------------


def _split(tmp_path, targets=("a", "c", "e"), **sizes):
    kw = dict(n_labeled=40, n_unlabeled=30, n_val=20, n_test=60) | sizes
    return build_image_split(f"mjsynth-{len(targets)}", targets, data_dir=None, word_list=None,
                             cache_dir=tmp_path, scale_name="smoke", **kw)


def test_image_split_shapes_and_fixed_test_set(tmp_path):
    split = _split(tmp_path)
    assert split.source == SYNTHETIC_SOURCE and split.modality == "image"
    assert split.targets == ("a", "c", "e") and len(split.inexact) == 23
    assert split.inexact == tuple(sorted(split.inexact))
    assert split.sizes == {"n_labeled": 40, "n_unlabeled": 30, "n_val": 20, "n_test": 60}
    assert split.labeled.x.shape == (40, 1, 32, 100)
    assert split.y_s.shape == (40, 23) and split.y_s.dtype == np.float32
    assert split.val_y_s.shape == (20, 23) and split.test_y_t.shape == (60, 3)
    assert (split.test_y_t.sum(axis=0) > 0).all()
    assert split.oracle_target_labels("unlabeled").shape == (30, 3)
    assert split.estimated_targets(split.y_s).shape == (40, 3)
    # the letters of each image's word are its labels
    word = split.labeled.texts[0]
    assert split.oracle_target_labels("labeled")[0, 2] == float("e" in word)
    bigger = _split(tmp_path, n_labeled=80)
    np.testing.assert_array_equal(bigger.test.x, split.test.x)
    np.testing.assert_array_equal(bigger.val.x, split.val.x)


def test_image_split_needs_test_positives(tmp_path):
    word_list = tmp_path / "words.list"
    word_list.write_text("\n".join(WORDS[:-1]) + "\n", encoding="utf-8")  # no 'z' anywhere
    with pytest.raises(UserError, match="no positive"):
        build_image_split("mjsynth-1", ("z",), n_labeled=10, n_unlabeled=0, n_val=5, n_test=10,
                          data_dir=None, word_list=word_list, cache_dir=tmp_path,
                          scale_name="smoke")


def test_image_split_on_shared_sample(tmp_path):
    split = build_image_split("mjsynth-1", ("e",), n_labeled=50, n_unlabeled=50, n_val=20,
                              n_test=100, data_dir=shared("mjsynth-sample"), word_list=None,
                              cache_dir=tmp_path, scale_name="smoke")
    assert split.source == "real: mjsynth-sample"
    assert split.sizes == {"n_labeled": 50, "n_unlabeled": 50, "n_val": 20, "n_test": 100}
    assert split.y_s.shape == (50, 25) and (split.test_y_t.sum(axis=0) > 0).all()


@pytest.mark.parametrize("n_avail", [20, 279, 3000])
def test_capped_sizes_leave_unlabeled_images(n_avail):
    """Data smaller than the scale: test <= half, D_l and D_u share what remains as asked."""
    from bench.data.image_split import _capped_sizes

    test, val, labeled, unlabeled = _capped_sizes(n_avail, 1000, 300, 1500, 1500)
    assert test + val + labeled + unlabeled <= n_avail
    assert test <= n_avail // 2 and min(val, labeled, unlabeled) > 0
    assert abs(labeled - unlabeled) <= 1
