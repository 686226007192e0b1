"""Splits of the MJSynth suite (paper Section 5.4): word images labelled by letter presence.

MJSynth-1 has the target class T = {e}, MJSynth-2 T = {a, c, e}; the inexact classes S are the
other letters in alphabetical order, and the class order is S then T, as for the text suite.
Images come from real Synth90k data (mjsynth.py) when a folder is given, else from the built-in
MJSynth-style renderer (render.py). G is built on the word list (wordgraph.py).

Partition: the images arrive in a seeded random order that is prefix-stable (rendered image i
does not depend on n; the real sample is a bottom-k of a seeded hash), and the parts are taken
test, validation, D_l, D_u in that order, so sweeping |D_l| (Figure 6) keeps test and
validation fixed.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from addes.data import Inputs
from bench.data.mjsynth import load_mjsynth
from bench.data.render import cached_render_set, load_word_list
from bench.data.splits import SPLIT_SEED, Split
from bench.data.wordgraph import LETTERS, build_word_graph, letter_labels
from bench.errors import UserError

log = logging.getLogger("bench")

SYNTHETIC_SOURCE = "synthetic stand-in (built-in renderer)"


def _capped_sizes(n_avail: int, n_test: int, n_val: int, n_labeled: int,
                  n_unlabeled: int) -> tuple[int, int, int, int]:
    """The sizes asked for when the data has enough images; else test at most half of the
    images, validation at most 10%, and what remains shared by D_l and D_u in the ratio asked,
    so that the semi-supervised methods and ADDES still get unlabeled images (giving D_l all
    of it left the 279 usable images of the real sample with an empty D_u)."""
    if n_avail >= n_test + n_val + n_labeled + n_unlabeled:
        return n_test, n_val, n_labeled, n_unlabeled
    test = min(n_test, n_avail // 2)
    val = min(n_val, n_avail // 10)
    rest = n_avail - test - val
    labeled = min(n_labeled, round(rest * n_labeled / max(1, n_labeled + n_unlabeled)))
    return test, val, labeled, min(n_unlabeled, rest - labeled)


def build_image_split(
    dataset: str,
    targets: tuple[str, ...],
    *,
    n_labeled: int,
    n_unlabeled: int,
    n_val: int,
    n_test: int,
    data_dir: Path | None,
    word_list: Path | None,
    cache_dir: Path,
    scale_name: str,
) -> Split:
    """The split of `dataset` with target letters `targets` (D_l, D_u, val, test and G)."""
    bad = [t for t in targets if t not in LETTERS]
    if bad or not targets:
        raise UserError(f"{dataset}: target classes must be letters a-z, got {targets!r}")
    vocabulary, vocabulary_name = load_word_list(word_list)
    log.info("%s: word corpus for the graph: %s (%d words)", dataset, vocabulary_name,
             len(vocabulary))
    requested = (n_test, n_val, n_labeled, n_unlabeled)
    if data_dir is None:
        x, words = cached_render_set(vocabulary, sum(requested), SPLIT_SEED, cache_dir)
        source = SYNTHETIC_SOURCE
    else:
        images = load_mjsynth(data_dir, sum(requested), cache_dir, SPLIT_SEED)
        x, words, source = images.x, images.words, f"real: {Path(data_dir).name}"
    sizes = _capped_sizes(len(words), *requested)
    if sizes != requested:
        log.warning("%s: data smaller than scale %r asks; sizes capped to test %d, val %d, "
                    "D_l %d, D_u %d (asked %s)", source, scale_name, *sizes,
                    "/".join(map(str, requested)))
    n_te, n_va, n_l, n_u = sizes
    if min(n_te, n_va, n_l) <= 0:
        raise UserError(f"{source}: only {len(words)} usable images, too few to split")

    graph = build_word_graph(vocabulary, targets, seed=SPLIT_SEED)
    order = [LETTERS.index(c) for c in graph.classes]
    labels = letter_labels(words)[:, order]
    n_s = graph.n_inexact
    bounds = np.cumsum([0, n_te, n_va, n_l, n_u])
    part = {name: slice(int(a), int(b)) for name, a, b in
            zip(("test", "val", "labeled", "unlabeled"), bounds[:-1], bounds[1:], strict=True)}

    def inputs(name: str) -> Inputs:
        return Inputs(x[part[name]], tuple(words[part[name]]), None)

    test_y_t = labels[part["test"], n_s:]
    empty = [t for t, col in zip(targets, test_y_t.T, strict=True) if col.sum() == 0]
    if empty:
        raise UserError(f"{source}: target class(es) {', '.join(empty)} have no positive "
                        f"example in the {n_te}-image test set")
    return Split(
        dataset=dataset, scale=scale_name, source=source,
        labeled=inputs("labeled"), y_s=labels[part["labeled"], :n_s],
        unlabeled=inputs("unlabeled"),
        val=inputs("val"), val_y_s=labels[part["val"], :n_s],
        test=inputs("test"), test_y_t=test_y_t,
        graph=graph,
        _hidden_y_t={name: labels[part[name], n_s:] for name in ("labeled", "val", "unlabeled")},
    )
