"""Fuzzing the text loaders and the relations parser: no input crashes them with anything but
bench.errors.UserError (a one-line message for the user), and what they return is well formed.

Counts of examples run are printed at the end of the module (pytest -s) and kept in EXAMPLES;
each loader test also asserts that a reasonable share of its inputs was accepted.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from addes.tokens import TOKEN_PATTERN, tokenize
from bench.data import stackoverflow as so
from bench.data.splits import load_relations
from bench.errors import UserError

N = int(os.environ.get("BENCH_FUZZ_EXAMPLES", "100"))  # per file-reading test
FAST_N = 5 * N  # per pure-function test
EXAMPLES: Counter = Counter()
OK: Counter = Counter()  # inputs accepted (not a UserError), per target (EXAMPLES' names)
SETTINGS = dict(deadline=None, database=None,
                derandomize=not os.environ.get("BENCH_FUZZ_RANDOM"),  # reproducible by default
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

TAGS = ["javascript", "c#", "php", "java", "jquery", "python", "html", "css", ".net", "c++"]
CELL = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", " ", '"', "'", "\t", "\n", "\r\n", ",", "[", "]", "\\", "\x00", "é",
                     "\ufeff", "#", "NaN", "None", "nan", "[]", "['']"]),
    st.lists(st.sampled_from(TAGS), max_size=4).map(repr),
    st.lists(st.text(max_size=8), max_size=3).map(repr),
)
SEP = st.sampled_from(["\t", ",", ";", " ", "\t\t"])
NEWLINE = st.sampled_from(["\n", "\r\n", "\r"])
ENCODING = st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "utf-16", "cp1252"])


@st.composite
def table_bytes(draw, header: list[str]) -> bytes:
    """A delimited table: usually the right header, sometimes not; random cells, separators,
    line ends and encodings, or raw bytes."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=300))
    if draw(st.booleans()):  # well-formed rows around real tags, the odd cell corrupted
        good = {"title": st.text(max_size=30) | st.sampled_from(["how to c# .net", "jquery ??"]),
                "tags": st.lists(st.sampled_from(TAGS), min_size=1, max_size=3).map(repr),
                "Id": st.integers(0, 20).map(str), "Title": st.text(max_size=30),
                "Tag": st.sampled_from(TAGS)}
        rows = draw(st.lists(st.tuples(*(good[c] | CELL if draw(st.integers(0, 20)) == 0
                                         else good[c] for c in header)), max_size=40))
        lines = ["\t".join(header) if header != ["Id", "Title"] and header != ["Id", "Tag"]
                 else ",".join(header)]
        sep = "\t" if lines[0].count("\t") or len(header) == 1 else ","
        lines += [sep.join(row) for row in rows]
        return ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass")
    cols = draw(st.one_of(st.just(header), st.lists(st.sampled_from(
        [*header, "Title", "tag", "x", "", "title\ttags"]), max_size=4)))
    sep, nl = draw(SEP), draw(NEWLINE)
    rows = draw(st.lists(st.lists(CELL, min_size=0, max_size=len(cols) + 1), max_size=12))
    text = nl.join([sep.join(cols), *(sep.join(row) for row in rows)])
    if draw(st.booleans()):
        text += nl
    try:
        return text.encode(draw(ENCODING))
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


_ROOT = tempfile.TemporaryDirectory(prefix="bench-fuzz-")


def _tmpdir() -> Path:
    return Path(tempfile.mkdtemp(dir=_ROOT.name))


def fuzz(name: str, n: int, *strategies, min_accepted: float | None = None):
    """Turn `check(*inputs)` into a test that runs it on n generated inputs and then, when
    `min_accepted` is given, asserts that at least that share of them was accepted (a loader
    that rejects everything with a UserError would otherwise pass). The shares seen with the
    default (derandomized) inputs are at least twice each threshold."""
    def wrap(check):
        def test():
            @settings(max_examples=n, **SETTINGS)
            @given(st.tuples(*strategies))
            def one(inputs):
                EXAMPLES[name] += 1
                check(*inputs)

            one()
            share = OK[name] / max(1, EXAMPLES[name])
            assert min_accepted is None or share >= min_accepted, (
                f"{name}: only {OK[name]} of {EXAMPLES[name]} generated inputs accepted "
                f"({share:.0%} < {min_accepted:.0%})")

        test.__name__, test.__doc__ = check.__name__, check.__doc__
        return test
    return wrap


def _expect_only_user_error(name: str, fn, *args):
    try:
        result = fn(*args)
        OK[name] += 1
        return result
    except UserError as err:
        assert "\n" not in str(err), str(err)  # the CLI prints it on one line
        return None


# ---------------------------------------------------------------------------------------------


@fuzz("parse_tag_list", FAST_N, st.one_of(st.text(max_size=80), CELL), min_accepted=0.35)
def test_parse_tag_list(text):
    tags = _expect_only_user_error("parse_tag_list", so.parse_tag_list, text, "f.tsv, row 2")
    if tags is not None:
        assert all(isinstance(t, str) and t == t.strip().lower() for t in tags)


@fuzz("tokenize", FAST_N, st.text(max_size=200))
def test_tokenize(text):
    import re

    tokens = tokenize(text)
    assert all(isinstance(t, str) and t and re.fullmatch(TOKEN_PATTERN, t) for t in tokens)
    assert tokenize(" ".join(tokens)) == tokens  # tokens survive a round trip


@fuzz("labeled.tsv reader", N, table_bytes(["title", "tags"]), min_accepted=0.2)
def test_labeled_tsv_reader(body):
    folder = _tmpdir()
    (folder / "labeled.tsv").write_bytes(body)
    result = _expect_only_user_error("labeled.tsv reader", so._read_labeled_tsv,
                                     folder / "labeled.tsv")
    if result is not None:
        titles, tag_lists = result
        assert len(titles) == len(tag_lists)
        assert all(isinstance(t, str) for t in titles)


@fuzz("unlabeled.tsv reader", N, table_bytes(["title"]), min_accepted=0.3)
def test_unlabeled_tsv_reader(body):
    folder = _tmpdir()
    (folder / "unlabeled.tsv").write_bytes(body)
    titles = _expect_only_user_error("unlabeled.tsv reader", so._read_unlabeled_tsv,
                                     folder / "unlabeled.tsv")
    assert titles is None or all(isinstance(t, str) for t in titles)


@fuzz("StackSample reader", N, table_bytes(["Id", "Title"]), table_bytes(["Id", "Tag"]),
      min_accepted=0.05)
def test_stacksample_reader(questions, tags):
    folder = _tmpdir()
    (folder / "Questions.csv").write_bytes(questions)
    (folder / "Tags.csv").write_bytes(tags)
    result = _expect_only_user_error("StackSample reader", so._read_stacksample,
                                     folder / "Questions.csv", folder / "Tags.csv")
    if result is not None:
        titles, tag_lists = result
        assert len(titles) == len(tag_lists)


@fuzz("corpus loader (labeled + unlabeled)", N, table_bytes(["title", "tags"]),
      st.one_of(st.none(), table_bytes(["title"])), min_accepted=0.08)
def test_whole_corpus_loader(labeled, unlabeled):
    """Readers + tag filtering + the corpus cache, as --data-dir uses them."""
    folder = _tmpdir()
    (folder / "labeled.tsv").write_bytes(labeled)
    if unlabeled is not None:
        (folder / "unlabeled.tsv").write_bytes(unlabeled)
    corpus = _expect_only_user_error("corpus loader (labeled + unlabeled)", so.load_corpus,
                                     folder, folder / "cache")
    if corpus is not None:
        assert corpus.labels.shape == (len(corpus.titles), len(corpus.tags))
        assert corpus.labels.sum(axis=1).min() >= 1
        assert any(tokenize(t) for t in corpus.titles)
        again = so.load_corpus(folder, folder / "cache")  # from the cache: the same corpus
        assert again.titles == corpus.titles


JSON = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.one_of(st.text(max_size=10), st.sampled_from(["javascript", "_comment", "C#"])),
        children, max_size=4),
    max_leaves=12)


RELATIONS = st.one_of(
    JSON.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(st.sampled_from(TAGS + ["_note"]),
                    st.lists(st.sampled_from(TAGS + ["nothing"]), max_size=3))
    .map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=100),
    st.text(max_size=60).map(lambda t: t.encode("utf-8", "surrogatepass")))


@fuzz("relations parser", N, RELATIONS, min_accepted=0.25)
def test_relations_parser(body):
    path = _tmpdir() / "relations.json"
    path.write_bytes(body)
    relations = _expect_only_user_error("relations parser", load_relations, path)
    if relations is not None:
        assert all(isinstance(k, str) and isinstance(v, list) for k, v in relations.items())


@pytest.fixture(scope="module", autouse=True)
def _report_counts():
    yield
    print(f"\nfuzz examples run: {sum(EXAMPLES.values())} ({dict(EXAMPLES)}); accepted: {dict(OK)}")
    _ROOT.cleanup()
