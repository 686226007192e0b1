"""A text dataset described by a small TOML file: `run_all.py --dataset spec.toml`.

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

Every field is checked before any data are read; a bad one is a `UserError` naming the
file, the field and the problem (the CLI prints it in one line and exits with 2).
A spec gives a `Corpus` (`spec_corpus`) that the suite splits exactly as it splits the
paper's Stack Overflow data (`bench.data.splits.build_text_split`).
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.data import stackoverflow
from bench.errors import UserError
from bench.io import atomic_save, load_cached

SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl",
            ".parquet": "parquet"}
SIZE_KEYS = ("labeled", "unlabeled", "val", "test")
SCALE_NAMES = ("smoke", "quick", "paper")
_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_.+-]{0,63}")
_TOP = {"name", "data", "classes", "sizes"}
_DATA = {"files", "unlabeled_files", "text_column", "labels_column", "labels_format",
         "delimiter"}
_CLASSES = {"targets", "keep", "relations", "aliases"}
SPEC_VERSION = 1  # part of a spec's fingerprint: bump when the corpus it gives changes


@dataclass(frozen=True)
class DataSpec:
    """A validated dataset spec (paths absolute)."""

    path: Path
    name: str
    files: tuple[Path, ...]
    unlabeled_files: tuple[Path, ...]
    text_column: str
    labels_column: str
    labels_format: str  # "list" | "delimited"
    delimiter: str | None
    targets: tuple[str, ...]
    keep: int | tuple[str, ...]
    relations: str | Path | dict[str, list[str]]  # "auto", a file, or inline
    aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)  # for "auto"
    sizes: dict[str, dict[str, int]] = field(default_factory=dict)  # scale -> {key: n}

    def fingerprint(self) -> str:
        """The spec's text and each data file's size and mtime: what a split depends on."""
        h = hashlib.sha1(f"v{SPEC_VERSION}|{self.path.resolve()}|".encode())
        h.update(self.path.read_bytes())
        for p in self.files + self.unlabeled_files:
            st = p.stat()
            h.update(f"|{p.resolve()}:{st.st_size}:{st.st_mtime_ns}".encode())
        return h.hexdigest()[:16]

    def sizes_for(self, scale: str) -> dict[str, int]:
        """{n_labeled, n_unlabeled, n_val, n_test} the spec sets for `scale` (may be empty)."""
        merged = {**self.sizes.get("", {}), **self.sizes.get(scale, {})}
        return {f"n_{k}": v for k, v in merged.items()}


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
    from bench.data.splits import SHIPPED_DATASETS  # they keep their names

    if name in SHIPPED_DATASETS:
        fail("name", f"{name!r} is a shipped dataset; choose another name")
    data = _table(raw, "data", fail, required=True)
    _unknown(data, _DATA, "data.", fail)
    files = _files(path, data, "files", fail, required=True)
    unlabeled = _files(path, data, "unlabeled_files", fail, required=False)
    columns = {k: _string(data, k, f"data.{k}", fail) for k in ("text_column", "labels_column")}
    labels_format = data.get("labels_format", "list")
    if labels_format not in ("list", "delimited"):
        fail("data.labels_format", f"must be \"list\" or \"delimited\", got {labels_format!r}")
    delimiter = data.get("delimiter")
    if labels_format == "delimited" and (not isinstance(delimiter, str) or not delimiter):
        fail("data.delimiter", "required with labels_format = \"delimited\" (a non-empty string)")
    if labels_format == "list" and delimiter is not None:
        fail("data.delimiter", "only used with labels_format = \"delimited\"")
    classes = _table(raw, "classes", fail, required=True)
    _unknown(classes, _CLASSES, "classes.", fail)
    targets = _names(classes.get("targets"), "classes.targets", fail)
    keep = _keep(classes.get("keep", stackoverflow.N_TAGS), targets, fail)
    relations = _relations(path, classes.get("relations"), targets, fail)
    aliases = _aliases(classes.get("aliases", {}), targets, relations, fail)
    sizes = _sizes(raw.get("sizes", {}), fail)
    return DataSpec(path=path.resolve(), name=name, files=files, unlabeled_files=unlabeled,
                    text_column=columns["text_column"], labels_column=columns["labels_column"],
                    labels_format=labels_format, delimiter=delimiter, targets=targets, keep=keep,
                    relations=relations, aliases=aliases, sizes=sizes)


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


def spec_corpus(spec: DataSpec, cache_dir: Path) -> stackoverflow.Corpus:
    """The spec's corpus (cached by fingerprint): texts with multi-hot labels over the kept
    classes, and unlabeled texts that only join D_u."""
    cached = cache_dir / f"corpus-spec-{spec.name}-{spec.fingerprint()}.npz"
    corpus = load_cached(cached, stackoverflow.valid_corpus, (stackoverflow.Corpus,))
    if corpus is not None:
        return corpus
    texts: list[str] = []
    label_lists: list[list[str]] = []
    for path in spec.files:
        for text, labels, where in _rows(path, spec, labeled=True):
            texts.append(text)
            label_lists.append(_parse_labels(labels, spec, where))
    extra = [t for path in spec.unlabeled_files for t, _, _ in _rows(path, spec, labeled=False)]
    corpus = stackoverflow.keep_top_tags(texts, label_lists, extra,
                                         f"real: {spec.name} ({spec.path.name})",
                                         origin=str(spec.path), keep=spec.keep)
    missing = [t for t in spec.targets if t not in corpus.tags]
    if missing:
        raise UserError(f"{spec.path}: classes.targets: {', '.join(missing)} not among the "
                        f"{len(corpus.tags)} kept classes of the data")
    atomic_save(corpus, cached, (stackoverflow.Corpus,))
    return corpus


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
