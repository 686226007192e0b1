"""A text or image dataset described by a small TOML file: `run_all.py --dataset spec.toml`.

    name = "so-python"                  # run folder <out>/<name>-<scale>, captions, report
    [data]
    files = ["labeled.tsv"]             # .csv .tsv .jsonl .parquet, relative to the spec
    unlabeled_files = ["unlabeled.tsv"] # optional: texts without labels, they join D_u
    text_column = "title"
    labels_column = "tags"
    labels_format = "list"              # "list": ['a', 'b'] literal | "delimited"
    delimiter = "|"                     # only with labels_format = "delimited"
    [classes]
    targets = ["python"]                # T: the fine classes to learn without their labels
    keep = 25                           # the k most frequent classes, or a list of names
    relations = "auto"                  # Eq. 18: "auto", a JSON file, or an inline table
    [sizes]                             # optional, else the scale's sizes; per scale:
    quick = {labeled = 2000, unlabeled = 2000, val = 300, test = 3000}

Instead of files, `[data] reader = "stackoverflow"` names a built-in reader (READERS): the
suite's own data (StackSample, the shared sample's TSVs, or the stand-in sized by the scale,
`--data-dir` as for `--suite`) with its 25 most frequent tags; `relations` may then be left
out (the suite's relations file). The paper's four datasets are such specs, shipped in
`bench/data/specs/` (`shipped_specs`): the suite reads them with this same loader. A reader
keeps the suite's source id in job and split keys (not the spec's fingerprint), so a shipped
spec's keys are those the suite had before it was a spec.

An image spec names a folder instead of texts: `[data] images = "folder"` and
`path_column = "file"` (paths relative to the folder) in place of `text_column`; its images
are read by the MJSynth reader's `load_image` (grayscale, resized to 100 x 32, float32 in
[0, 1]; `read_images`). Its relations are a file or inline, never "auto" (that reads target
names in texts; label co-occurrence with a target would read target labels: a leak), and D_e
gets Eq. 19's targets; it runs the image suite's experiments.

Every field is checked before any data are read; a bad one is a `UserError` naming the
file, the field and the problem (the CLI prints it in one line and exits with 2).
A spec with files gives a `Corpus` (`read_corpus`; an image spec's "titles" are its image
paths, each checked to exist and open as an image) that the suite splits with
`bench.data.splits.build_corpus_split`.
"""

from __future__ import annotations

import functools
import hashlib
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from bench.data import stackoverflow
from bench.data.mjsynth import load_image
from bench.data.render import HEIGHT, WIDTH
from bench.data.stamps import content_stamp
from bench.data.wordgraph import LETTERS
from bench.errors import UserError
from bench.io import atomic_save, load_cached
from bench.scales import Scale

SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl",
            ".parquet": "parquet"}
SIZE_KEYS = ("labeled", "unlabeled", "val", "test")
SCALE_NAMES = ("smoke", "quick", "paper")
_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_.+-]{0,63}")
_TOP = {"name", "data", "classes", "sizes"}
_DATA = {"reader", "files", "unlabeled_files", "text_column", "labels_column", "labels_format",
         "delimiter", "images", "path_column"}
# built-in readers -> modality: "stackoverflow" (bench.data.stackoverflow: StackSample, the
# shared sample's TSVs, or the stand-in) and "mjsynth" (bench.data.image_split: images and the
# word list's forest graph). A reader is also the suite its shipped specs belong to.
READERS = {"stackoverflow": "text", "mjsynth": "image"}
# modality -> the suite whose experiments (and first dataset's grid) a spec of files runs
SUITE_OF = {modality: reader for reader, modality in READERS.items()}
SHIPPED_DIR = Path(__file__).with_name("specs")  # the paper's datasets, <name>.toml
_CLASSES = {"targets", "keep", "relations", "aliases"}
SPEC_VERSION = 1  # part of a spec's fingerprint: bump when the corpus it gives changes


@dataclass(frozen=True)
class DataSpec:
    """A validated dataset spec (paths absolute)."""

    path: Path
    name: str
    targets: tuple[str, ...]
    reader: str | None = None  # a built-in reader (READERS) instead of files
    files: tuple[Path, ...] = ()
    unlabeled_files: tuple[Path, ...] = ()
    text_column: str = ""  # a text spec's texts; an image spec's image paths (path_column)
    images: Path | None = None  # an image spec's folder: the paths are relative to it
    labels_column: str = ""
    labels_format: str = "list"  # "list" | "delimited"
    delimiter: str | None = None
    keep: int | tuple[str, ...] = stackoverflow.N_TAGS
    # "auto", a file, inline, or None (a reader's spec: the run's relations file, --relations)
    relations: str | Path | dict[str, list[str]] | None = None
    aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)  # for "auto"
    sizes: dict[str, dict[str, int]] = field(default_factory=dict)  # scale -> {key: n}

    @property
    def modality(self) -> str:
        if self.reader:
            return READERS[self.reader]
        return "image" if self.images is not None else "text"

    @property
    def graph_from_words(self) -> bool:
        """Whether G comes from the MJSynth reader's word list (its random forest), not from
        Eq. 18's relations: the shipped MJSynth specs; an image spec of files uses relations."""
        return self.reader is not None and self.modality == "image"

    def fingerprint(self) -> str:
        """A file spec's source id in job and split keys (a reader's spec uses the reader's):
        the spec's text and each data file's content stamp (an image spec's: each image its
        labels files name too): what a split depends on, wherever the files lie."""
        h = hashlib.sha1(f"v{SPEC_VERSION}|".encode())
        h.update(self.path.read_bytes())
        stamps = "".join(f"|{content_stamp(p)}" for p in self.files + self.unlabeled_files)
        h.update(stamps.encode())
        if self.images is not None:
            h.update(_listed_images_stamp(self, stamps).encode())
        return h.hexdigest()[:16]

    def sizes_for(self, scale: str) -> dict[str, int]:
        """The Scale fields the spec sets for `scale` (may be empty): n_labeled, n_unlabeled,
        n_val, n_test, or for an image spec the image suite's mj_n_labeled, ..."""
        merged = {**self.sizes.get("", {}), **self.sizes.get(scale, {})}
        prefix = "mj_n_" if self.modality == "image" else "n_"
        return {f"{prefix}{k}": v for k, v in merged.items()}


_IMAGE_STAMPS: dict[str, str] = {}  # per process: the labels files' stamps -> their images'


def _listed_images_stamp(spec: DataSpec, file_stamps: str) -> str:
    """The stamps of the images an image spec's labels files name (not of everything under
    its folder, which may hold the run's own output), computed once per labels files."""
    key = f"{spec.images}|{spec.text_column}|{file_stamps}"
    if key not in _IMAGE_STAMPS:
        names = [name for path in spec.files + spec.unlabeled_files
                 for name, _, _ in _rows(path, spec, labeled=False)]
        _IMAGE_STAMPS[key] = "".join(f"|{n}={content_stamp(spec.images / n)}" for n in names)
    return _IMAGE_STAMPS[key]


# ---------------------------------------------------------------------------------------------
# reading and validating the spec file


def load_spec(path: Path) -> DataSpec:
    """Parse and validate `path`; every problem is a one-line UserError naming the field."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: dataset spec not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: dataset spec cannot be read ({err})") from None
    except tomllib.TOMLDecodeError as err:
        raise UserError(f"{path}: not valid TOML ({err})") from None

    def fail(field_name: str, problem: str):
        raise UserError(f"{path}: {field_name}: {problem}")

    _unknown(raw, _TOP, "", fail)
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        fail("name", "required: lower-case letters, digits, '.', '_', '+', '-' (at most 64), "
             f"got {name!r}")
    shipped = path.resolve().parent == SHIPPED_DIR.resolve()
    if not shipped and name in shipped_names():
        fail("name", f"{name!r} is a shipped dataset; choose another name")
    data = _table(raw, "data", fail, required=True)
    _unknown(data, _DATA, "data.", fail)
    classes = _table(raw, "classes", fail, required=True)
    _unknown(classes, _CLASSES, "classes.", fail)
    if "reader" in data:
        reader = _reader(data, classes, fail)
        targets = _names(classes.get("targets"), "classes.targets", fail)
        if READERS[reader] == "image" and not set(targets) <= set(LETTERS):
            fail("classes.targets", f"reader {reader!r} labels images by their word's letters: "
                 f"targets must be letters a-z, got {list(targets)}")
        relations = (None if classes.get("relations") is None
                     else _relations(path, classes["relations"], targets, fail))
        return DataSpec(path=path.resolve(), name=name, targets=targets, reader=reader,
                        relations=relations,
                        aliases=_aliases(classes.get("aliases", {}), targets, relations, fail),
                        sizes=_sizes(raw.get("sizes", {}), fail))
    files = _files(path, data, "files", fail, required=True)
    unlabeled = _files(path, data, "unlabeled_files", fail, required=False)
    images = _images(path, data, fail)
    item_column = "path_column" if images else "text_column"
    columns = {k: _string(data, k, f"data.{k}", fail) for k in (item_column, "labels_column")}
    labels_format = data.get("labels_format", "list")
    if labels_format not in ("list", "delimited"):
        fail("data.labels_format", f"must be \"list\" or \"delimited\", got {labels_format!r}")
    delimiter = data.get("delimiter")
    if labels_format == "delimited" and (not isinstance(delimiter, str) or not delimiter):
        fail("data.delimiter", "required with labels_format = \"delimited\" (a non-empty string)")
    if labels_format == "list" and delimiter is not None:
        fail("data.delimiter", "only used with labels_format = \"delimited\"")
    targets = _names(classes.get("targets"), "classes.targets", fail)
    keep = _keep(classes.get("keep", stackoverflow.N_TAGS), targets, fail)
    relations = _relations(path, classes.get("relations"), targets, fail)
    if images and relations == "auto":
        fail("classes.relations", "\"auto\" reads the target names in texts; an image spec "
             "names its relations (a JSON file or an inline table {target = [class, ...]})")
    aliases = _aliases(classes.get("aliases", {}), targets, relations, fail)
    sizes = _sizes(raw.get("sizes", {}), fail)
    return DataSpec(path=path.resolve(), name=name, targets=targets, files=files,
                    unlabeled_files=unlabeled, text_column=columns[item_column], images=images,
                    labels_column=columns["labels_column"], labels_format=labels_format,
                    delimiter=delimiter, keep=keep, relations=relations, aliases=aliases,
                    sizes=sizes)


def shipped_names() -> frozenset[str]:
    """The names of the shipped specs (their file names), without parsing them."""
    return frozenset(p.stem for p in SHIPPED_DIR.glob("*.toml"))


@functools.cache
def shipped_specs() -> tuple[DataSpec, ...]:
    """The paper's datasets, read from `bench/data/specs/*.toml` by `load_spec`; in the order
    of READERS (their suites), then by name."""
    specs = [load_spec(p) for p in SHIPPED_DIR.glob("*.toml")]
    return tuple(sorted(specs, key=lambda s: (list(READERS).index(s.reader), s.name)))


def _reader(data: dict, classes: dict, fail) -> str:
    """[data] reader: a built-in reader, which reads its own files and keeps its own classes
    (so the fields for files, columns and `keep` do not apply)."""
    reader = data["reader"]
    if not isinstance(reader, str) or reader not in READERS:
        fail("data.reader", f"unknown reader {reader!r} (readers: {', '.join(READERS)})")
    extra = sorted(set(data) - {"reader"}) + (["keep"] if "keep" in classes else [])
    if extra:
        where = "classes." if extra[0] == "keep" else "data."
        fail(where + extra[0], f"not used with reader = {reader!r} (it reads its own data and "
             f"keeps its own classes)")
    if READERS[reader] == "image" and set(classes) - {"targets"}:
        fail("classes." + sorted(set(classes) - {"targets"})[0],
             f"not used with reader {reader!r} (it takes targets only: letters, its graph "
             "comes from the word list, --word-list)")
    return reader


def _unknown(table: dict, known: set[str], prefix: str, fail) -> None:
    extra = sorted(set(table) - known)
    if extra:
        fail(prefix + extra[0], f"unknown field (known: {', '.join(sorted(known))})")


def _table(raw: dict, key: str, fail, required: bool) -> dict:
    value = raw.get(key)
    if value is None and required:
        fail(key, f"missing table [{key}]")
    if value is not None and not isinstance(value, dict):
        fail(key, f"must be a table [{key}], got {type(value).__name__}")
    return value or {}


def _string(table: dict, key: str, field_name: str, fail) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value.strip():
        fail(field_name, f"required: a non-empty string, got {value!r}")
    return value


def _files(spec_path: Path, data: dict, key: str, fail, required: bool) -> tuple[Path, ...]:
    value = data.get(key, None if required else [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or (required and not value) or not all(
            isinstance(v, str) and v for v in value):
        fail(f"data.{key}", f"must be a {'non-empty ' if required else ''}list of file names, "
             f"got {value!r}")
    paths = []
    for name in value:
        p = Path(name) if Path(name).is_absolute() else spec_path.parent / name
        if p.suffix.lower() not in SUFFIXES:
            fail(f"data.{key}", f"{name}: unsupported file type {p.suffix or '(none)'!r} "
                 f"(use {', '.join(SUFFIXES)})")
        if not p.is_file():
            fail(f"data.{key}", f"{p}: no such file")
        paths.append(p.resolve())
    return tuple(paths)


def _images(spec_path: Path, data: dict, fail) -> Path | None:
    """[data] images: the folder of an image spec (its labels files name the images by a
    path_column relative to it); an image spec has no text_column, a text spec no
    path_column."""
    if "images" not in data:
        if "path_column" in data:
            fail("data.path_column", "only used with data.images (an image spec's folder)")
        return None
    value = data["images"]
    if not isinstance(value, str) or not value.strip():
        fail("data.images", f"must be a folder name, got {value!r}")
    folder = Path(value) if Path(value).is_absolute() else spec_path.parent / value
    if not folder.is_dir():
        fail("data.images", f"{folder}: no such folder")
    if "text_column" in data:
        fail("data.text_column", "not used with data.images (an image spec names its images "
             "by data.path_column)")
    return folder.resolve()


def _names(value: Any, field_name: str, fail) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(
            isinstance(v, str) and v.strip() for v in value):
        fail(field_name, f"must be a non-empty list of class names, got {value!r}")
    names = tuple(v.strip().lower() for v in value)
    if len(set(names)) != len(names):
        fail(field_name, f"duplicate class names in {list(names)}")
    return names


def _keep(value: Any, targets: tuple[str, ...], fail) -> int | tuple[str, ...]:
    if isinstance(value, bool) or not isinstance(value, int | list):
        fail("classes.keep", f"must be a number of classes or a list of names, got {value!r}")
    if isinstance(value, int):
        if value <= len(targets):
            fail("classes.keep", f"{value} classes leave none besides the {len(targets)} "
                 "target(s); keep more")
        return value
    names = _names(value, "classes.keep", fail)
    missing = [t for t in targets if t not in names]
    if missing:
        fail("classes.keep", f"does not list the target(s) {', '.join(missing)}")
    if len(names) <= len(targets):
        fail("classes.keep", "lists no class besides the targets")
    return names


def _relations(spec_path: Path, value: Any, targets: tuple[str, ...], fail):
    if value is None:
        fail("classes.relations", "required: \"auto\", a relations file, or an inline table "
             "{target = [related class, ...]}")
    if value == "auto":
        return "auto"
    if isinstance(value, str):
        p = Path(value) if Path(value).is_absolute() else spec_path.parent / value
        if not p.is_file():
            fail("classes.relations", f"{p}: no such file (or write \"auto\")")
        from bench.data.splits import load_relations

        try:
            load_relations(p)
        except UserError as err:
            fail("classes.relations", str(err))
        return p.resolve()
    if not isinstance(value, dict):
        fail("classes.relations", f"must be \"auto\", a file name or a table, got {value!r}")
    inline = {}
    for target, related in value.items():
        if target.lower() not in targets:
            fail(f"classes.relations.{target}", f"not a target (targets: {', '.join(targets)})")
        inline[target.lower()] = list(_names(related, f"classes.relations.{target}", fail))
    return inline


def _aliases(value: Any, targets, relations, fail) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, dict):
        fail("classes.aliases", f"must be a table {{target = [\"alias\", ...]}}, got {value!r}")
    if value and relations != "auto":
        fail("classes.aliases", "only used with relations = \"auto\"")
    out = {}
    for target, names in value.items():
        if target.lower() not in targets:
            fail(f"classes.aliases.{target}", f"not a target (targets: {', '.join(targets)})")
        out[target.lower()] = _names(names, f"classes.aliases.{target}", fail)
    return out


def _sizes(value: Any, fail) -> dict[str, dict[str, int]]:
    """[sizes] labeled = ..., or per scale: quick = {labeled = ...}; "" holds the common ones."""
    if not isinstance(value, dict):
        fail("sizes", f"must be a table, got {value!r}")
    out: dict[str, dict[str, int]] = {"": {}}
    for key, v in value.items():
        if isinstance(v, dict):
            if key not in SCALE_NAMES:
                fail(f"sizes.{key}", f"unknown scale (scales: {', '.join(SCALE_NAMES)})")
            out[key] = {k: _size(f"sizes.{key}.{k}", k, n, fail) for k, n in v.items()}
        else:
            out[""][key] = _size(f"sizes.{key}", key, v, fail)
    return out


def _size(field_name: str, key: str, value: Any, fail) -> int:
    if key not in SIZE_KEYS:
        fail(field_name, f"unknown size (sizes: {', '.join(SIZE_KEYS)}; or a scale's table)")
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        fail(field_name, f"must be a positive integer, got {value!r}")
    return value


# ---------------------------------------------------------------------------------------------
# reading the data


def read_corpus(spec: DataSpec, scale: Scale, data_dir: Path | None,
                cache_dir: Path) -> stackoverflow.Corpus:
    """A text spec's corpus: its files' (`spec_corpus`), or the stackoverflow reader's, from
    `data_dir` (StackSample or the shared sample's TSVs) or else the stand-in."""
    if spec.reader is None:
        return spec_corpus(spec, cache_dir)
    if data_dir is not None:
        return stackoverflow.load_corpus(data_dir, cache_dir)
    # one stand-in size per scale, so every |D_l| of Figure 6 shares the test set
    from bench.data.splits import SPLIT_SEED

    n_needed = (scale.n_test + scale.n_val + max(scale.labeled_sweep + (scale.n_labeled,))
                + scale.n_unlabeled)
    return stackoverflow.synthetic_corpus(n_needed, seed=SPLIT_SEED % 1000)


def spec_corpus(spec: DataSpec, cache_dir: Path) -> stackoverflow.Corpus:
    """A file spec's corpus (cached by fingerprint): texts with multi-hot labels over the kept
    classes, and unlabeled texts that only join D_u."""
    cached = cache_dir / f"corpus-spec-{spec.name}-{spec.fingerprint()}.npz"
    corpus = load_cached(cached, stackoverflow.valid_corpus, (stackoverflow.Corpus,))
    if corpus is not None:
        return corpus
    texts: list[str] = []
    label_lists: list[list[str]] = []
    for path in spec.files:
        for text, labels, where in _rows(path, spec, labeled=True):
            texts.append(_checked_image(spec, text, where) if spec.images else text)
            label_lists.append(_parse_labels(labels, spec, where))
    extra = [_checked_image(spec, t, where) if spec.images else t
             for path in spec.unlabeled_files for t, _, where in _rows(path, spec, labeled=False)]
    corpus = stackoverflow.keep_top_tags(texts, label_lists, extra,
                                         f"real: {spec.name} ({spec.path.name})",
                                         origin=str(spec.path), keep=spec.keep)
    missing = [t for t in spec.targets if t not in corpus.tags]
    if missing:
        raise UserError(f"{spec.path}: classes.targets: {', '.join(missing)} not among the "
                        f"{len(corpus.tags)} kept classes of the data")
    atomic_save(corpus, cached, (stackoverflow.Corpus,))
    return corpus


# what PIL raises for a file that is not a readable image (truncated, garbage, too large)
IMAGE_ERRORS = (OSError, SyntaxError, ValueError, Image.DecompressionBombError)


def _first_line(err: Exception) -> str:
    """An exception's message in one line (its type's name when it has none)."""
    return str(err).splitlines()[0] if str(err) else type(err).__name__


def _checked_image(spec: DataSpec, name: str, where: str) -> str:
    """An image spec's path cell, checked: the file exists under the images folder and PIL
    recognises it as an image (a full decode comes with the split: `read_images`)."""
    if not name.strip():
        raise UserError(f"{where}: {spec.text_column}: empty image path")
    path = spec.images / name
    if not path.is_file():
        raise UserError(f"{where}: {spec.text_column}: image {path}: no such file")
    try:
        with Image.open(path) as image:
            image.verify()
    except IMAGE_ERRORS as err:
        raise UserError(f"{where}: {spec.text_column}: image {path}: not a readable image "
                        f"({_first_line(err)})") from None
    return name


def read_images(spec: DataSpec, names: tuple[str, ...]) -> np.ndarray:
    """An image spec's images as the image suite's inputs, float32 [n, 1, 32, 100] in [0, 1]:
    grayscale and resized whatever their size, by the MJSynth reader's `load_image`."""
    pixels = []
    for name in names:
        try:
            pixels.append(load_image(spec.images / name))
        except IMAGE_ERRORS as err:
            raise UserError(f"{spec.path}: data.images: {spec.images / name}: cannot be read "
                            f"({_first_line(err)})") from None
    return (np.stack(pixels)[:, None] if pixels
            else np.empty((0, 1, HEIGHT, WIDTH), np.float32))


def _rows(path: Path, spec: DataSpec, labeled: bool) -> Iterator[tuple[str, Any, str]]:
    """(text, raw labels or None, "file, row n") of a data file."""
    columns = [spec.text_column] + ([spec.labels_column] if labeled else [])
    kind = SUFFIXES[path.suffix.lower()]
    if kind in ("csv", "tsv"):
        chunks = stackoverflow.read_csv_chunks(path, columns, **({"sep": "\t"} if kind == "tsv"
                                                                else {}))
        first_row = 2  # header is line 1
    else:
        chunks, first_row = iter([_read_whole(path, kind, columns)]), 1
    row = first_row
    for chunk in chunks:
        labels = chunk[spec.labels_column] if labeled else [None] * len(chunk)
        for text, raw in zip(chunk[spec.text_column], labels, strict=True):
            yield (text if isinstance(text, str) else ""), raw, f"{path}, row {row}"
            row += 1


def _read_whole(path: Path, kind: str, columns: list[str]) -> pd.DataFrame:
    try:
        if kind == "parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_json(path, lines=True, dtype=False)
    except ImportError as err:
        raise UserError(f"{path}: reading Parquet needs pyarrow or fastparquet "
                        f"(pip install pyarrow) ({str(err).splitlines()[0]})") from None
    except (ValueError, OSError) as err:
        raise UserError(f"{path}: cannot parse ({str(err).splitlines()[0]})") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise UserError(f"{path}: missing column(s) {', '.join(missing)} "
                        f"(found: {', '.join(map(str, frame.columns))[:80]!r})")
    return frame


def _parse_labels(raw: Any, spec: DataSpec, where: str) -> list[str]:
    """A row's labels: a list literal (or a real list, JSON lines / Parquet) or a delimited
    string, lower-cased and stripped."""
    if isinstance(raw, list | tuple | np.ndarray):
        return [str(v).strip().lower() for v in raw if str(v).strip()]
    raw = "" if raw is None else str(raw)
    if spec.labels_format == "delimited":
        return [v.strip().lower() for v in raw.split(spec.delimiter) if v.strip()]
    return stackoverflow.parse_tag_list(raw, where)
