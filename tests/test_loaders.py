"""The Stack Overflow loaders on fixtures written here, and on the ../shared samples."""

from __future__ import annotations

import numpy as np
import pytest

from addes.tokens import build_vocab, encode, tokenize
from bench.data.stackoverflow import load_corpus, parse_tag_list, synthetic_corpus
from bench.errors import UserError
from tests.conftest import shared

TAGS = ["javascript", "c#", "php", "java", "jquery"]


def _write_stacksample(folder, encoding="utf-8-sig"):
    questions = (
        'Id,OwnerUserId,CreationDate,ClosedDate,Score,Title,Body\n'
        '1,5,2008-08-01T13:57:07Z,NA,26,"Quotes ""inside"", commas, and café","<p>body\n'
        'spanning, lines</p>"\n'
        '2,NA,2008-08-01T14:00:00Z,NA,3,Plain title about c# and .NET,"<p>x</p>"\n'
        '3,7,2008-08-02T10:00:00Z,NA,1,No kept tags here,"<p>y</p>"\n'
    )
    tags = "Id,Tag\n1,javascript\n1,jquery\n2,c#\n3,fortran\n"
    (folder / "Questions.csv").write_bytes(questions.encode(encoding))
    (folder / "Tags.csv").write_bytes(tags.encode(encoding))


def test_tokenizer_keeps_programming_tokens_whole():
    assert tokenize("C# vs C++ on .NET, node.js & ASP.NET; objective-c?") == [
        "c#", "vs", "c++", "on", ".net", "node.js", "asp.net", "objective-c"]


def test_vocab_is_frequency_ranked_after_specials_and_encode_pads():
    vocab = build_vocab(["a b b", "b c"], max_size=6)
    assert vocab[4:] == ("b", "a")
    ids = encode(["b zzz"], vocab, max_len=4)
    np.testing.assert_array_equal(ids, [[4, 1, 0, 0]])


@pytest.mark.parametrize("encoding", ["utf-8-sig", "latin-1"])
def test_stacksample_reader_handles_quotes_newlines_and_encodings(tmp_path, encoding):
    _write_stacksample(tmp_path, encoding)
    corpus = load_corpus(tmp_path, tmp_path / "cache")
    # only 4 distinct tags here, so all are "the 25 most frequent" and no question is dropped
    assert corpus.titles == ('Quotes "inside", commas, and café', "Plain title about c# and .NET",
                             "No kept tags here")
    assert set(corpus.tags) == {"javascript", "jquery", "c#", "fortran"}
    row = dict(zip(corpus.tags, corpus.labels[0], strict=True))
    assert row["javascript"] == 1 and row["jquery"] == 1 and row["c#"] == 0


def test_corpus_is_cached_and_second_load_reads_the_cache(tmp_path, monkeypatch):
    _write_stacksample(tmp_path)
    first = load_corpus(tmp_path, tmp_path / "cache")
    import bench.data.stackoverflow as so

    monkeypatch.setattr(so, "_read_stacksample", lambda *a: pytest.fail("re-parsed"))
    assert load_corpus(tmp_path, tmp_path / "cache").titles == first.titles


@pytest.mark.parametrize("same_size", [True, False])
def test_corpus_cache_is_rebuilt_after_a_source_file_changes(tmp_path, same_size):
    """The cache is keyed by each source file's contents: an edited Tags.csv (of the same
    size, or not) is read again, not served from the cache."""
    import os

    _write_stacksample(tmp_path)
    first = load_corpus(tmp_path, tmp_path / "cache")
    assert dict(zip(first.tags, first.labels[1], strict=True))["c#"] == 1
    tags = tmp_path / "Tags.csv"
    stat = tags.stat()
    body = tags.read_bytes().replace(b"2,c#", b"2,js" if same_size else b"2,javascript")
    tags.write_bytes(body)
    os.utime(tags, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # a later edit
    assert (tags.stat().st_size == stat.st_size) == same_size
    again = load_corpus(tmp_path, tmp_path / "cache")
    row = dict(zip(again.tags, again.labels[1], strict=True))
    assert "c#" not in row and row["js" if same_size else "javascript"] == 1


def test_labeled_tsv_with_unlabeled_titles(tmp_path):
    (tmp_path / "labeled.tsv").write_text(
        "title\ttags\n"
        "How to use $.ajax?\t['javascript', 'jquery']\n"
        '"A ""quoted"" title, with comma"\t[\'php\']\n', encoding="utf-8")
    (tmp_path / "unlabeled.tsv").write_text("title\nsome other title\nücode\n", encoding="utf-8")
    corpus = load_corpus(tmp_path, tmp_path / "cache")
    assert corpus.titles == ("How to use $.ajax?", 'A "quoted" title, with comma')
    assert corpus.extra_unlabeled == ("some other title", "ücode")


@pytest.mark.parametrize("text", ["['a', 'b'", "javascript, jquery", "[1, 2]", "{'a': 1}"])
def test_bad_tag_list_is_a_user_error_naming_the_row(text):
    with pytest.raises(UserError, match="row 7"):
        parse_tag_list(text, "labeled.tsv, row 7")


def test_synthetic_corpus_is_deterministic_and_shaped_like_the_paper():
    a, b = synthetic_corpus(3000, seed=1), synthetic_corpus(3000, seed=1)
    assert a.titles == b.titles and (a.labels == b.labels).all()
    assert len(a.tags) == 25
    assert 1.5 < a.labels.sum(1).mean() < 2.1
    js = a.labels[:, a.tags.index("javascript")].mean()
    assert 0.13 < js < 0.22


def test_shared_stacksample_format_sample(tmp_path):
    corpus = load_corpus(shared("stacksample-format"), tmp_path)
    assert 20 <= len(corpus.titles) <= 99 and len(corpus.tags) <= 25


def test_shared_real_tsv_sample(tmp_path):
    corpus = load_corpus(shared("stackoverflow-real"), tmp_path)
    assert len(corpus.tags) == 25 and {"javascript", "c#", "php", "java"} <= set(corpus.tags)
    assert len(corpus.titles) > 5000 and len(corpus.extra_unlabeled) == 20000


def test_data_copied_elsewhere_keeps_its_keys_and_an_edit_does_not(tmp_path):
    """Keys stamp the data's contents, not its path or mtime: the shared sample re-created
    with the same bytes (or copied to another folder) keeps every cached split and record;
    an edit of the same size changes them."""
    import os
    import shutil

    from bench.data.splits import file_stamp
    from bench.runner import _source_id

    (tmp_path / "a").mkdir()
    _write_stacksample(tmp_path / "a")
    shutil.copytree(tmp_path / "a", tmp_path / "b")  # new paths, new mtimes, same bytes
    for p in (tmp_path / "b").iterdir():
        os.utime(p, ns=(p.stat().st_atime_ns, p.stat().st_mtime_ns + 5_000_000_000))
    assert _source_id(tmp_path / "a") == _source_id(tmp_path / "b")
    assert file_stamp(tmp_path / "a" / "Tags.csv") == file_stamp(tmp_path / "b" / "Tags.csv")
    tags = tmp_path / "b" / "Tags.csv"
    tags.write_bytes(tags.read_bytes().replace(b"2,c#", b"2,js"))  # same size
    assert _source_id(tmp_path / "a") != _source_id(tmp_path / "b")
    assert file_stamp(tmp_path / "a" / "Tags.csv") != file_stamp(tags)
