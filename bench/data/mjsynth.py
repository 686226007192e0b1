"""Loader for the real MJSynth / Synth90k word images (Jaderberg et al. 2014; paper Section 5.4).

Layout read from `--data-dir DIR`:
  - the data set's own annotation_{train,val,test}.txt (any subset), found in DIR or a
    subfolder (e.g. DIR/mnt/ramdisk/max/90kDICT32px as the official archive unpacks), with
    lines `./<d>/<d>/<n>_<Word>_<lexicon index>.jpg <lexicon index>`, paths relative to the
    annotation file; the word is taken from the file name (466_MONIKER_49537.jpg -> MONIKER);
  - otherwise any folder tree of `*_<word>_*.jpg` files.

Decisions, documented:
  - Lowercase policy: the paper "filter[s] out images that contain characters other than the
    lower case alphabet". MJSynth renders each word in the case its file name shows, so we keep
    only words that are ALREADY lowercase a-z and drop the rest (about 65% of MJSynth, e.g.
    MONIKER and Ecclesiastics); lowercasing them instead would keep images of capitals, which
    the paper excludes. The number dropped is reported.
  - Sampling: the full set has ~9 million lines, so annotations are streamed and the sample is
    the bottom-k of a seeded hash of each kept image's path. It is reproducible, independent of
    line order, and prefix-stable (the first m of a larger sample are the sample of size m), so
    the test and validation parts stay fixed when only |D_l| changes. A few spare candidates
    are drawn; only sampled images are opened.
  - Unreadable, missing or truncated images are skipped, counted and reported (warning).
  - Images: grayscale (PIL "L", ITU-R 601-2 luma), resized with PIL to 100 x 32 (width x
    height, the input size of Jaderberg et al.'s networks and of SDANN), float32 in [0, 1],
    the range of the ADDES decoder's sigmoid output.
  - The tensors are cached, keyed by the source files' contents, n and the seed.
"""

from __future__ import annotations

import hashlib
import heapq
import logging
import os
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from bench.data.render import HEIGHT, WIDTH
from bench.data.stamps import content_stamps
from bench.errors import UserError
from bench.io import atomic_save, load_cached

log = logging.getLogger("bench")

ANNOTATION_FILES = ("annotation_train.txt", "annotation_val.txt", "annotation_test.txt")
LOADER_VERSION = 1
MAX_SEARCH_DEPTH = 5
_LOWER_WORD = re.compile(r"[a-z]+")
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass(frozen=True, eq=False)
class WordImages:
    """Sampled word images and what happened on the way."""

    x: np.ndarray  # float32 [n, 1, 32, 100] in [0, 1]
    words: tuple[str, ...]
    source: str  # the folder the images came from
    n_listed: int  # image entries seen in the annotations (or folder)
    n_dropped: int  # entries whose word is not lowercase a-z only
    n_unreadable: int  # sampled images that could not be read (skipped)


def word_from_name(name: str) -> str | None:
    """The word of an MJSynth file name (`466_MONIKER_49537.jpg` -> "MONIKER"), or None."""
    parts = Path(name).stem.split("_")
    return "_".join(parts[1:-1]) if len(parts) >= 3 else None


def find_annotations(data_dir: Path) -> list[Path]:
    """The annotation files of the shallowest folder under data_dir that has any.

    Breadth-first to MAX_SEARCH_DEPTH, not descending into the numbered image folders.
    """
    queue = deque([(Path(data_dir), 0)])
    while queue:
        folder, depth = queue.popleft()
        found = [folder / name for name in ANNOTATION_FILES if (folder / name).is_file()]
        if found:
            return found
        if depth < MAX_SEARCH_DEPTH:
            with os.scandir(folder) as entries:
                subdirs = sorted(e.name for e in entries
                                 if e.is_dir(follow_symlinks=True) and not e.name.isdigit())
            queue.extend((folder / name, depth + 1) for name in subdirs)
    return []


def _annotation_entries(files: list[Path]) -> Iterator[tuple[str | None, Path]]:
    for file in files:
        with file.open(encoding="utf-8", errors="replace") as lines:
            for line in lines:
                fields = line.split()
                if fields:
                    yield word_from_name(fields[0]), file.parent / fields[0]


def _folder_entries(data_dir: Path) -> Iterator[tuple[str | None, Path]]:
    for root, dirs, names in os.walk(data_dir):
        dirs.sort()
        for name in sorted(names):
            if name.lower().endswith(_IMAGE_SUFFIXES):
                yield word_from_name(name), Path(root) / name


def load_image(path: Path) -> np.ndarray:
    """One image as float32 [32, 100] in [0, 1]; raises OSError (or PIL's errors) if unreadable."""
    with Image.open(path) as image:
        grey = image.convert("L").resize((WIDTH, HEIGHT), Image.Resampling.BILINEAR)
    return np.asarray(grey, np.float32) / 255.0


def _sample_key(seed: int, path: Path) -> int:
    digest = hashlib.blake2b(f"{seed}|{path.as_posix()}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _source_stamp(data_dir: Path) -> tuple[list[Path], str]:
    annotations = find_annotations(data_dir)
    files = annotations or sorted(p for _, p in _folder_entries(data_dir))
    return annotations, content_stamps(files)


def load_mjsynth(data_dir: Path, n: int, cache_dir: Path, seed: int) -> WordImages:
    """Up to n lowercase-word images sampled reproducibly from data_dir (cached)."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise UserError(f"{data_dir}: MJSynth data folder not found")
    annotations, stamp = _source_stamp(data_dir)
    key = hashlib.sha1(f"{stamp}|{n}|{seed}|{LOADER_VERSION}".encode()).hexdigest()[:16]
    cached = Path(cache_dir) / "mjsynth" / f"images-{key}.npz"
    images = load_cached(cached, lambda obj: isinstance(obj, WordImages), (WordImages,))
    if images is not None:  # a torn cache file is rebuilt, never trusted
        return images
    images = _read_sample(data_dir, annotations, n, seed)
    atomic_save(images, cached, (WordImages,))
    return images


def _read_sample(data_dir: Path, annotations: list[Path], n: int, seed: int) -> WordImages:
    entries = _annotation_entries(annotations) if annotations else _folder_entries(data_dir)
    k = n + max(16, n // 50)  # spares for unreadable images
    heap: list[tuple[int, str, str]] = []  # max-heap on the key: (-key, path, word)
    n_listed = n_dropped = 0
    for word, path in entries:
        n_listed += 1
        if word is None or not _LOWER_WORD.fullmatch(word):
            n_dropped += 1
            continue
        item = (-_sample_key(seed, path.relative_to(data_dir)), str(path), word)
        if len(heap) < k:
            heapq.heappush(heap, item)
        elif item > heap[0]:
            heapq.heapreplace(heap, item)
    where = ", ".join(str(p) for p in annotations) if annotations else f"{data_dir} (image files)"
    if not heap:
        raise UserError(f"{where}: no image with a lowercase a-z word among {n_listed} entries")
    pixels, words, unreadable = [], [], []
    for _, path, word in sorted(heap, reverse=True):
        if len(words) == n:
            break
        try:
            pixels.append(load_image(Path(path)))
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            unreadable.append(path)
            continue
        words.append(word)
    if unreadable:
        log.warning("%s: skipped %d unreadable image(s), e.g. %s", where, len(unreadable),
                    ", ".join(unreadable[:3]))
    log.info("%s: %d entries, %d dropped (word not lowercase a-z), %d images sampled",
             where, n_listed, n_dropped, len(words))
    x = np.stack(pixels)[:, None] if pixels else np.empty((0, 1, HEIGHT, WIDTH), np.float32)
    return WordImages(x, tuple(words), str(data_dir), n_listed, n_dropped, len(unreadable))
