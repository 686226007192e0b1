"""The word-corpus class graph of the MJSynth suite (paper Section 5.4.1).

Each image shows one word, so its labels are the 26 letter-presence indicators and two letters
co-occur in an image exactly when they appear together in a word. Following the paper:
  - A comes from Eq. 17 (`conditional_cooccurrence`) over the word corpus (YAWL in the paper),
    across ALL 26 letters, so target <-> inexact edges are corpus statistics too (no Eq. 18);
  - p(y_t | y_s, G) comes from a random forest trained on the corpus to predict the target
    letters from the presence of the other letters; its 0/1 predictions build D_e (in place of
    Eq. 19) and its probabilities serve as ADDES's soft prior.
Forest settings (the paper gives none): scikit-learn RandomForestClassifier, 100 trees,
max_depth 12, min_samples_leaf 5, seeded, trained on a seeded sample of at most 50k words (a
few seconds on one core; the letter statistics are stable well before that).
`target_links` (R, kept for code that reads it) is A's T x S block binarised at 0.5:
target t links to inexact letter s when P(t | s) >= 0.5 in the corpus.

How the forest's output becomes D_e's target labels (`target_estimate`, a job parameter;
issue 17): "hard" (the paper's reading, the default) thresholds the probability at 0.5;
"soft" keeps the probability itself as a soft target (the classifiers' BCE accepts it); and
"prevalence" thresholds each target at the quantile of the forest's probabilities over the
corpus sample that marks as many corpus words as truly contain the letter (the 0.5 threshold
marks 87% of words for "e", whose corpus prevalence is about 66%, and almost none for "c").
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.tree import DecisionTreeClassifier
from sklearn.tree._tree import Tree  # the class of a fitted tree's `tree_`

from addes.graph import ClassGraph, conditional_cooccurrence

LETTERS = tuple(string.ascii_lowercase)
MAX_FOREST_WORDS = 50_000
TARGET_ESTIMATES = ("hard", "soft", "prevalence")


def letter_labels(words: Sequence[str]) -> np.ndarray:
    """Letter presence: float32 [n, 26], column j = 1 when letter j occurs in the word."""
    labels = np.zeros((len(words), len(LETTERS)), np.float32)
    for i, word in enumerate(words):
        for char in set(word):
            j = ord(char) - ord("a")
            if 0 <= j < 26:
                labels[i, j] = 1.0
    return labels


@dataclass(frozen=True, eq=False)
class WordGraph(ClassGraph):
    """A ClassGraph whose p(y_t | y_s, G) is a random forest fitted on the word corpus."""

    forest: RandomForestClassifier
    # per target: the probability threshold that marks the corpus prevalence of the letter
    prevalence_thresholds: np.ndarray

    def target_probabilities(self, y_s: np.ndarray) -> np.ndarray:
        """p(y_t = 1 | y_s): float32 [n, |T|] from the forest."""
        proba = self.forest.predict_proba(np.asarray(y_s, np.float32))
        classes = self.forest.classes_
        if self.n_target == 1:  # scikit-learn drops the output axis for a single target
            proba, classes = [proba], [classes]
        columns = []
        for labels, p in zip(classes, proba, strict=True):
            positive = np.flatnonzero(np.asarray(labels) == 1)
            columns.append(p[:, positive[0]] if positive.size else np.zeros(len(p)))
        return np.stack(columns, axis=1).astype(np.float32)

    def estimate_targets(self, y_s: np.ndarray, mode: str = "hard") -> np.ndarray:
        """D_e's target labels for inexact labels y_s: the forest's 0/1 labels ("hard"), its
        probabilities ("soft"), or 0/1 at the corpus-prevalence thresholds ("prevalence")."""
        if mode not in TARGET_ESTIMATES:
            raise ValueError(f"target_estimate must be one of {', '.join(TARGET_ESTIMATES)}, "
                             f"got {mode!r}")
        p = self.target_probabilities(y_s)
        if mode == "soft":
            return p
        threshold = 0.5 if mode == "hard" else self.prevalence_thresholds
        return (p >= threshold).astype(np.float32)

    def reweighted_by_true_labels(self, y_all: np.ndarray) -> WordGraph:
        """ADDES-W: Eq. 17 from TRUE labels over all of W; the forest is kept."""
        return replace(self, adjacency=conditional_cooccurrence(y_all))


# the classes a cached graph (of a split or a generator) may hold; addes.codec builds no
# others when it loads one
GRAPH_TYPES = (ClassGraph, WordGraph, RandomForestClassifier, DecisionTreeClassifier, Tree)


def build_word_graph(
    words: Sequence[str],
    targets: Sequence[str],
    seed: int,
    max_forest_words: int = MAX_FOREST_WORDS,
) -> WordGraph:
    """The graph over S (the other letters, alphabetical) then T, from a lowercase word list."""
    unknown = [t for t in targets if t not in LETTERS]
    if unknown:
        raise ValueError(f"target class(es) {', '.join(unknown)} are not letters a-z")
    inexact = tuple(c for c in LETTERS if c not in targets)
    order = [LETTERS.index(c) for c in inexact + tuple(targets)]
    labels = letter_labels(words)[:, order]
    n_s = len(inexact)
    adjacency = conditional_cooccurrence(labels)
    rng = np.random.default_rng(seed)
    sample = labels[rng.permutation(len(labels))[:max_forest_words]]
    y = sample[:, n_s:].astype(np.int64)
    forest = RandomForestClassifier(n_estimators=100, max_depth=12, min_samples_leaf=5,
                                    random_state=seed, n_jobs=1)
    forest.fit(sample[:, :n_s], y[:, 0] if y.shape[1] == 1 else y)
    links = adjacency[n_s:, :n_s] >= 0.5
    graph = WordGraph(inexact + tuple(targets), n_s, adjacency, links, forest,
                      np.full(len(targets), 0.5, np.float32))
    thresholds = prevalence_thresholds(graph.target_probabilities(sample[:, :n_s]),
                                       sample[:, n_s:].mean(axis=0))
    return replace(graph, prevalence_thresholds=thresholds)


def prevalence_thresholds(probabilities: np.ndarray, prevalence: np.ndarray) -> np.ndarray:
    """Per column, the threshold t with mean(p >= t) as close to `prevalence` as the distinct
    probability values allow (the forest's probabilities come in steps, so ties decide)."""
    thresholds = []
    for p, rate in zip(probabilities.T, prevalence, strict=True):
        ordered = np.sort(p)
        values = np.unique(ordered)
        marked = 1.0 - np.searchsorted(ordered, values, side="left") / len(p)  # mean(p >= v)
        thresholds.append(values[int(np.argmin(np.abs(marked - rate)))])
    return np.asarray(thresholds, np.float32)
