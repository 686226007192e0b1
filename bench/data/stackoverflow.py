"""Stack Overflow questions: real data first, a documented synthetic stand-in otherwise.

Where the data comes from, in order: `--data-dir DIR`, `$ADDES_DATA/stackoverflow`,
`./data/stackoverflow/`. A folder may hold
  (a) Kaggle StackSample `Questions.csv` + `Tags.csv` (read in chunks, Id and Title only), or
  (b) `labeled.tsv` (`title<TAB>['tag', ...]`) and optionally `unlabeled.tsv` (`title`).
With no folder, `synthetic_corpus` generates the stand-in described in its docstring.

A corpus is a table of labeled questions (title, tags over the 25 kept tags) plus a list of
titles without tags, which only ever join D_u.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from addes.tokens import tokenize
from bench.data.stamps import content_stamps
from bench.errors import UserError
from bench.io import atomic_save, load_cached

N_TAGS = 25  # Section 5.1: "after filtering out rare tags, we obtain a tag set of size 25"
CHUNK_ROWS = 200_000
_SNIFF_BYTES = 4 << 20


@dataclass(frozen=True)
class Corpus:
    """Labeled questions (titles + multi-hot tags over `tags`) and untagged extra titles."""

    titles: tuple[str, ...]
    labels: np.ndarray  # uint8 [n, len(tags)]
    tags: tuple[str, ...]
    extra_unlabeled: tuple[str, ...]
    source: str  # "synthetic stand-in" or "real: <folder>"


# ---------------------------------------------------------------------------------------------
# locating data


def find_data_dir(data_dir: str | os.PathLike | None, suite: str = "stackoverflow") -> Path | None:
    """The folder to read, or None for the synthetic stand-in. An explicit path must exist;
    else $ADDES_DATA/<suite>, then ./data/<suite>."""
    if data_dir is not None:
        path = Path(data_dir)
        if not path.is_dir():
            raise UserError(f"--data-dir {path}: no such folder")
        return path
    env = os.environ.get("ADDES_DATA")
    for candidate in ([Path(env) / suite] if env else []) + [Path("data") / suite]:
        if candidate.is_dir():
            return candidate
    return None


def load_corpus(data_dir: Path | None, cache_dir: Path, seed: int = 0) -> Corpus:
    """Read (and cache) the corpus of `data_dir`, or generate the stand-in when it is None."""
    if data_dir is None:
        return synthetic_corpus(n_questions=60_000, seed=seed)
    sources = _source_files(data_dir)
    key = hashlib.sha1(content_stamps(sources).encode()).hexdigest()[:16]
    cached = cache_dir / f"corpus-{key}.npz"
    corpus = load_cached(cached, valid_corpus, (Corpus,))  # torn: rebuilt, never trusted
    if corpus is not None:
        return corpus
    if sources[0].name == "Questions.csv":
        titles, tag_lists = _read_stacksample(*sources)
        extra: list[str] = []
    else:
        titles, tag_lists = _read_labeled_tsv(sources[0])
        extra = _read_unlabeled_tsv(sources[1]) if len(sources) > 1 else []
    corpus = keep_top_tags(titles, tag_lists, extra, source=f"real: {data_dir.name}",
                            origin=str(sources[0]))
    atomic_save(corpus, cached, (Corpus,))
    return corpus


def valid_corpus(obj: object) -> bool:
    return (isinstance(obj, Corpus) and isinstance(obj.labels, np.ndarray)
            and obj.labels.shape == (len(obj.titles), len(obj.tags)))


def _source_files(data_dir: Path) -> list[Path]:
    questions, tags = data_dir / "Questions.csv", data_dir / "Tags.csv"
    if questions.exists() or tags.exists():
        for p in (questions, tags):
            if not p.exists():
                raise UserError(f"{p}: missing (StackSample needs both Questions.csv and Tags.csv)")
        return [questions, tags]
    labeled = data_dir / "labeled.tsv"
    if not labeled.exists():
        raise UserError(
            f"{data_dir}: no Stack Overflow data "
            "(expected Questions.csv + Tags.csv, or labeled.tsv)"
        )
    unlabeled = data_dir / "unlabeled.tsv"
    return [labeled, unlabeled] if unlabeled.exists() else [labeled]


# ---------------------------------------------------------------------------------------------
# readers


def _encoding_of(path: Path) -> str:
    """utf-8-sig when the first 4 MiB decode as UTF-8, else latin-1 (the full StackSample)."""
    head = path.read_bytes()[:_SNIFF_BYTES] if path.stat().st_size < _SNIFF_BYTES else _head(path)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UserError(f"{path}: UTF-16 text; save it as UTF-8")
    if b"\x00" in head:
        raise UserError(f"{path}: not a text file (NUL bytes: binary data or UTF-16/32?)")
    try:
        head.decode("utf-8")
        return "utf-8-sig"
    except UnicodeDecodeError as err:
        # a multi-byte character cut at the sniff boundary is still UTF-8
        return "utf-8-sig" if err.start >= len(head) - 3 else "latin-1"


def _head(path: Path) -> bytes:
    with path.open("rb") as f:
        return f.read(_SNIFF_BYTES)


def _check_nonempty(path: Path) -> None:
    if path.stat().st_size == 0:
        raise UserError(f"{path}: empty file")


def read_csv_chunks(path: Path, columns: list[str], **kwargs):
    """pandas chunks of `columns`; missing columns and parse failures become UserErrors."""
    _check_nonempty(path)
    encoding = _encoding_of(path)
    try:
        header = pd.read_csv(path, nrows=0, encoding=encoding, **kwargs).columns
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: cannot parse ({str(err).splitlines()[0]})") from None
    missing = [c for c in columns if c not in header]
    if missing:
        found = ", ".join(map(str, header))
        found = found if len(found) <= 80 else found[:77] + "..."
        raise UserError(f"{path}: missing column(s) {', '.join(missing)} (found: {found!r})")
    try:
        yield from pd.read_csv(path, usecols=columns, encoding=encoding, chunksize=CHUNK_ROWS,
                               dtype=str, keep_default_na=False, **kwargs)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as err:
        raise UserError(f"{path}: cannot parse ({str(err).splitlines()[0]})") from None


def _read_stacksample(questions: Path, tags: Path) -> tuple[list[str], list[list[str]]]:
    """Questions.csv (Id, Title; bodies never loaded) joined with Tags.csv (Id, Tag)."""
    tag_map: dict[str, list[str]] = {}
    for chunk in read_csv_chunks(tags, ["Id", "Tag"]):
        for qid, tag in zip(chunk["Id"], chunk["Tag"], strict=True):
            tag_map.setdefault(qid, []).append(tag.strip().lower())
    titles, tag_lists = [], []
    for chunk in read_csv_chunks(questions, ["Id", "Title"]):
        for qid, title in zip(chunk["Id"], chunk["Title"], strict=True):
            if qid in tag_map:
                titles.append(title)
                tag_lists.append(tag_map[qid])
    return titles, tag_lists


def parse_tag_list(text: str, where: str) -> list[str]:
    """`['tag', ...]` (a Python list literal of strings) -> tags, or a UserError at `where`."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        value = None
    if not isinstance(value, list | tuple) or not all(isinstance(t, str) for t in value):
        raise UserError(f"{where}: tag list does not parse: {text[:60]!r}")
    return [t.strip().lower() for t in value]


def _read_labeled_tsv(path: Path) -> tuple[list[str], list[list[str]]]:
    titles, tag_lists = [], []
    chunks = read_csv_chunks(path, ["title", "tags"], sep="\t", quoting=csv.QUOTE_MINIMAL)
    row = 2  # 1-based file line of the first data row
    for chunk in chunks:
        for title, tags in zip(chunk["title"], chunk["tags"], strict=True):
            tag_lists.append(parse_tag_list(tags, f"{path}, row {row}"))
            titles.append(title)
            row += 1
    return titles, tag_lists


def _read_unlabeled_tsv(path: Path) -> list[str]:
    return [t for chunk in read_csv_chunks(path, ["title"], sep="\t") for t in chunk["title"]]


def keep_top_tags(
    titles: list[str], tag_lists: list[list[str]], extra: list[str], source: str, origin: str,
    keep: int | tuple[str, ...] = N_TAGS,
) -> Corpus:
    """Keep the `keep` most frequent tags (ties by name; the paper: 25, Section 5.1), or the
    tags `keep` lists, in its order; drop questions with none of them."""
    counts = Counter(t for tags in tag_lists for t in set(tags))
    if isinstance(keep, int):
        top = tuple(t for t, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:keep])
    else:
        top = tuple(keep)
    index = {t: j for j, t in enumerate(top)}
    keep_titles, rows = [], []
    for title, tags in zip(titles, tag_lists, strict=True):
        hits = {index[t] for t in tags if t in index}
        if hits and title.strip():
            keep_titles.append(title)
            row = np.zeros(len(top), np.uint8)
            row[list(hits)] = 1
            rows.append(row)
    if not rows:
        kept = f"the {keep} most frequent tags" if isinstance(keep, int) else "the listed tags"
        raise UserError(f"{origin}: no questions left after keeping {kept}")
    if not any(tokenize(t) for t in keep_titles):
        raise UserError(f"{origin}: every title is empty after tokenising (punctuation only?)")
    extra = [t for t in extra if t.strip()]
    return Corpus(tuple(keep_titles), np.stack(rows), top, tuple(extra), source)


# ---------------------------------------------------------------------------------------------
# the synthetic stand-in

STANDIN_TAGS = (
    "c#", "javascript", "java", "php", "python", "jquery", "c++", "html", "objective-c",
    "asp.net", ".net", "ruby-on-rails", "c", "ios", "mysql", "android", "ruby", "json",
    "vb.net", "iphone", "arrays", "css", "ajax", "django", "r",
)

# topic -> (prevalence, language tag or None, {related tag: probability}, topic words)
_TOPICS: dict[str, tuple[float, str | None, dict[str, float], tuple[str, ...]]] = {
    "javascript": (0.19, "javascript", {"jquery": 0.30, "html": 0.15, "css": 0.10, "ajax": 0.12,
                                        "json": 0.10}, (
        "function", "dom", "event", "onclick", "callback", "document", "undefined", "var",
        "promise", "window", "element", "div", "click", "selector", "prototype", "closure",
        "async", "addeventlistener", "innerhtml", "getelementbyid", "settimeout", "browser",
        "script", "object", "this", "handler", "animate", "append", "$(this)", "chrome")),
    "csharp": (0.13, "c#", {"asp.net": 0.25, ".net": 0.30, "vb.net": 0.05, "json": 0.05}, (
        "linq", "wpf", "winforms", "visual", "studio", "datagridview", "entity", "framework",
        "namespace", "assembly", "delegate", "generic", "ienumerable", "task", "await",
        "textbox", "combobox", "listbox", "xaml", "nuget", "dll", "mvc", "razor", "webforms")),
    "java": (0.13, "java", {"android": 0.30, "arrays": 0.08, "json": 0.06}, (
        "jvm", "spring", "hibernate", "swing", "eclipse", "maven", "jar", "arraylist", "hashmap",
        "interface", "servlet", "jsp", "thread", "exception", "nullpointerexception", "jframe",
        "jpanel", "tomcat", "junit", "activity", "intent", "fragment", "gradle", "bean")),
    "php": (0.11, "php", {"mysql": 0.35, "html": 0.08, "ajax": 0.06, "arrays": 0.08,
                          "json": 0.05}, (
        "laravel", "wordpress", "codeigniter", "echo", "$_post", "$_get", "session", "pdo",
        "mysqli", "query", "form", "submit", "apache", "htaccess", "include", "cookie",
        "foreach", "plugin", "symfony", "upload", "server", "page", "database", "row")),
    "python": (0.09, "python", {"django": 0.25, "arrays": 0.06, "json": 0.05}, (
        "list", "dict", "pandas", "numpy", "import", "module", "pip", "tuple", "lambda",
        "comprehension", "dataframe", "flask", "script", "def", "self", "matplotlib", "regex")),
    "cpp": (0.08, "c++", {"c": 0.15, "arrays": 0.08}, (
        "pointer", "template", "class", "vector", "std", "stl", "compiler", "g++", "qt",
        "reference", "constructor", "destructor", "boost", "segmentation", "fault", "header",
        "overload", "operator", "memory", "cout")),
    "c": (0.04, "c", {"arrays": 0.15}, (
        "pointer", "malloc", "struct", "printf", "scanf", "char", "gcc", "segmentation",
        "fault", "linux", "memory", "bits", "buffer")),
    "objc": (0.07, "objective-c", {"ios": 0.45, "iphone": 0.40}, (
        "xcode", "uitableview", "uiview", "nsstring", "viewcontroller", "cocoa", "delegate",
        "storyboard", "navigation", "app", "simulator", "nsarray", "uibutton", "swift")),
    "ruby": (0.06, "ruby", {"ruby-on-rails": 0.70}, (
        "rails", "gem", "activerecord", "controller", "model", "migration", "rake", "erb",
        "bundler", "rspec", "hash", "block", "route", "devise")),
    "r": (0.03, "r", {"arrays": 0.05}, (
        "ggplot", "dataframe", "plot", "vector", "matrix", "dplyr", "factor", "column",
        "apply", "statistics", "regression")),
    "web": (0.05, None, {"html": 0.8, "css": 0.6, "jquery": 0.10, "php": 0.05}, (
        "layout", "style", "margin", "padding", "flexbox", "font", "background", "position",
        "table", "image", "responsive", "bootstrap", "div", "center", "border", "header")),
}
_SHARED_WORDS = (
    "how", "to", "get", "the", "a", "in", "with", "using", "value", "error", "file", "string",
    "data", "list", "not", "working", "from", "of", "for", "on", "is", "array", "create",
    "set", "why", "does", "change", "add", "remove", "return", "find", "use", "best", "way",
    "when", "multiple", "new", "call", "output", "input", "loop", "convert", "check", "type",
)
_SHARED_TAGS = ("json", "arrays", "mysql")
_NOISE_WORDS = tuple(f"w{i}" for i in range(400))
_TAG_WORDS = {  # words a related tag brings into a title, beyond its own name
    "jquery": ("jquery", "$.ajax", "selector", "plugin", ".each", "datatables"),
    "html": ("html", "tag", "form", "input", "table", "div"),
    "css": ("css", "style", "class", "width", "color"),
    "ajax": ("ajax", "request", "post", "response", "xmlhttprequest"),
    "json": ("json", "parse", "serialize", "object", "api"),
    "asp.net": ("asp.net", "mvc", "webforms", "iis", "gridview"),
    ".net": (".net", "framework", "assembly", "clr"),
    "vb.net": ("vb.net", "visual", "basic"),
    "android": ("android", "activity", "layout", "emulator", "apk"),
    "arrays": ("array", "arrays", "index", "element", "sort"),
    "mysql": ("mysql", "query", "table", "select", "join", "database"),
    "django": ("django", "template", "view", "orm", "model"),
    "c": ("c", "pointer", "malloc"),
    "ios": ("ios", "app", "uikit"),
    "iphone": ("iphone", "ipad", "device"),
    "ruby-on-rails": ("rails", "ruby-on-rails", "controller", "activerecord"),
    "php": ("php", "echo"),
}


def synthetic_corpus(n_questions: int, seed: int = 0) -> Corpus:
    """A deterministic Stack-Overflow-like corpus (the embedded default; not evidence).

    Generative model, per question: draw a latent topic by prevalence (javascript 19%); tag it
    with its language with probability 0.85 (so some jquery-only questions are javascript);
    add each related tag of the topic independently (its probability x 1.3, at most 0.9:
    libraries and frameworks tied to languages); with probability 0.12 add one cross-language
    tag (json, arrays, mysql); a question with no tag keeps its topic's first
    related tag. The title has 5-15 tokens: 35% words of
    the topic (drawn whatever the tags are, so a good model can beat Eq. 19), 25% words of
    the drawn tags (sometimes the tag's own name), 30% shared programming words, 10% noise.
    Averages about 1.8 tags per question; javascript on about 16% of them.
    """
    rng = np.random.default_rng(seed)
    names = list(_TOPICS)
    prevalence = np.array([_TOPICS[t][0] for t in names])
    tag_index = {t: j for j, t in enumerate(STANDIN_TAGS)}
    titles: list[str] = []
    labels = np.zeros((n_questions, len(STANDIN_TAGS)), np.uint8)
    topics = rng.choice(len(names), size=n_questions, p=prevalence / prevalence.sum())
    for q, topic_id in enumerate(topics):
        _, language, related, words = _TOPICS[names[topic_id]]
        tags = [language] if language and rng.random() < 0.85 else []
        tags += [t for t, p in related.items() if rng.random() < min(0.9, 1.3 * p)]
        if rng.random() < 0.12:  # a cross-language tag (json, arrays, ...) on any topic
            tags.append(_SHARED_TAGS[int(rng.integers(len(_SHARED_TAGS)))])
        tags = list(dict.fromkeys(tags))
        if not tags:
            tags = [next(iter(related))]
        labels[q, [tag_index[t] for t in tags]] = 1
        n_tokens = int(rng.integers(5, 16))
        pools = (words, tuple(w for t in tags for w in _TAG_WORDS.get(t, (t,))), _SHARED_WORDS,
                 _NOISE_WORDS)
        choice = rng.choice(4, size=n_tokens, p=(0.35, 0.25, 0.30, 0.10))
        titles.append(" ".join(pools[c][int(rng.integers(len(pools[c])))] for c in choice))
    return Corpus(tuple(titles), labels, STANDIN_TAGS, (), "synthetic stand-in")
