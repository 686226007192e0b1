"""The data contract: shared cached splits, sizes, and no label leaks."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from bench.data.splits import load_split
from bench.errors import UserError
from bench.scales import get_scale


def test_split_holds_only_inexact_labels_for_training_side(smoke_split):
    s = smoke_split
    assert s.y_s.shape == (len(s.labeled), len(s.inexact)) == (200, 24)
    assert s.val_y_s.shape[1] == 24 and s.test_y_t.shape == (len(s.test), 1)
    assert s.targets == ("javascript",) and "javascript" not in s.inexact
    public = {k for k in vars(s) if not k.startswith("_")}
    assert public == {"dataset", "scale", "source", "labeled", "y_s", "unlabeled", "val",
                      "val_y_s", "test", "test_y_t", "graph"}


def test_split_is_cached_and_shared(cache_dir, smoke_split, monkeypatch):
    import bench.data.splits as splits

    monkeypatch.setattr(splits, "build_corpus_split", lambda *a, **k: pytest.fail("rebuilt"))
    again = load_split("stackoverflow-1", get_scale("smoke"), None, cache_dir)
    np.testing.assert_array_equal(again.labeled.x, smoke_split.labeled.x)


def test_both_datasets_share_the_partition(smoke_split, smoke_split2):
    assert smoke_split.labeled.texts == smoke_split2.labeled.texts
    assert smoke_split.test.texts == smoke_split2.test.texts
    assert smoke_split2.targets == ("javascript", "c#", "php", "java")


def test_varying_labeled_size_keeps_test_and_validation(cache_dir, smoke_split):
    small = load_split("stackoverflow-1", get_scale("smoke"), None, cache_dir, n_labeled=100)
    assert len(small.labeled) == 100
    assert small.test.texts == smoke_split.test.texts and small.val.texts == smoke_split.val.texts


def test_vocabulary_comes_from_training_side_only(smoke_split):
    from addes.tokens import tokenize

    train_tokens = {t for part in (smoke_split.labeled, smoke_split.val, smoke_split.unlabeled)
                    for text in part.texts for t in tokenize(text)}
    assert set(smoke_split.labeled.vocab[4:]) <= train_tokens


def _write_small_corpus(folder):
    """60 labeled titles: every third javascript + jquery, the rest c#."""
    (folder / "labeled.tsv").write_text(
        "title\ttags\n" + "".join(f"title {i} about js\t['javascript', 'jquery']\n"
                                  if i % 3 == 0 else f"title {i} about c#\t['c#']\n"
                                  for i in range(60)), encoding="utf-8")


def test_sizes_are_capped_to_small_real_data(tmp_path, caplog):
    _write_small_corpus(tmp_path)
    split = load_split("stackoverflow-1", get_scale("smoke"), tmp_path, tmp_path / "cache")
    assert split.sizes["n_test"] == 36 and split.sizes["n_val"] == 6
    assert split.sizes["n_labeled"] == 18 and split.sizes["n_unlabeled"] == 0
    assert "capped" in caplog.text


def test_only_a_users_relations_file_warns_of_tags_outside_the_classes(tmp_path, caplog):
    _write_small_corpus(tmp_path)
    mine = tmp_path / "mine.json"
    mine.write_text(json.dumps({"javascript": ["jquery", "no-such-tag"]}), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="bench"):
        load_split("stackoverflow-1", get_scale("smoke"), tmp_path, tmp_path / "shipped")
        assert "not among" not in caplog.text  # the shipped file's angularjs, node.js, ...
        load_split("stackoverflow-1", get_scale("smoke"), tmp_path, tmp_path / "mine", mine)
    assert "mine.json: relation tags not among" in caplog.text and "no-such-tag" in caplog.text


def test_unknown_target_tag_is_a_user_error(tmp_path):
    (tmp_path / "labeled.tsv").write_text("title\ttags\nsome title\t['c#']\n", encoding="utf-8")
    with pytest.raises(UserError, match="javascript"):
        load_split("stackoverflow-1", get_scale("smoke"), tmp_path, tmp_path / "cache")


def test_oracle_accessor_is_the_only_way_to_hidden_labels(smoke_split):
    hidden = smoke_split.oracle_target_labels("labeled")
    assert hidden.shape == (200, 1) and set(np.unique(hidden)) <= {0.0, 1.0}
    scrambled = smoke_split.with_scrambled_oracle(seed=1)
    assert not np.array_equal(scrambled.oracle_target_labels("labeled"), hidden)
    np.testing.assert_array_equal(scrambled.y_s, smoke_split.y_s)
