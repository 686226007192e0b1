"""Noisy-OR over source classifiers: the reference a practitioner writes first (not in the paper).

A classifier is trained for the inexact classes S only (on D_l's y_s; no target label, true or
estimated, is read), and each target class t combines the probabilities of its Eq. 18 related
classes R_t as a noisy-OR:

    p(t | x) = 1 - prod_{s in R_t} (1 - p(s | x)),

the probabilistic reading of Eq. 19 ("t holds iff some related s holds") with every link of
strength 1. It uses exactly what Zero-shot GCN uses (y_s and the T <-> S links), so it is the
bar a graph transfer method has to clear. The source classifier is any estimator of this
package that learns the columns after `graph.n_inexact`: it is given a graph whose S are its
"targets" (text-CNN, TF-IDF+LR, SDANN).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from addes.data import Inputs
from addes.graph import ClassGraph


def noisy_or(p_sources: np.ndarray, links: np.ndarray) -> np.ndarray:
    """p(t | x) = 1 - prod_{s in R_t} (1 - p(s | x)).

    p_sources: [n, |S|] probabilities; links: bool [|T|, |S|] (Eq. 18's R). Returns [n, |T|],
    computed as 1 - exp(sum log(1 - p)) so that many links do not underflow.
    """
    log_miss = np.log1p(-np.clip(np.asarray(p_sources, dtype=np.float64), 0.0, 1.0 - 1e-12))
    return -np.expm1(log_miss @ np.asarray(links, dtype=np.float64).T)


def source_graph(graph: ClassGraph) -> ClassGraph:
    """The graph as a source classifier sees it: the classes S, all of them its outputs."""
    n_s = graph.n_inexact
    return ClassGraph(graph.inexact, 0, graph.adjacency[:n_s, :n_s],
                      np.zeros((n_s, 0), dtype=bool))


class NoisyOR:
    """Source classifiers on S, combined per target by a noisy-OR over R_t (Eq. 18)."""

    def __init__(self, source: Callable[[], object]):
        self.source = source  # builds an unfitted estimator (fit / predict_proba contract)

    def fit(self, X: Inputs, Y: np.ndarray, *, graph: ClassGraph, unlabeled: Inputs | None = None,
            val: tuple[Inputs, np.ndarray] | None = None) -> NoisyOR:
        n_s = graph.n_inexact
        y_s = np.asarray(Y[:, :n_s])  # the target columns are never read
        val_s = None if val is None else (val[0], np.asarray(val[1][:, :n_s]))
        self.links_ = graph.target_links
        self.estimator_ = self.source().fit(X, y_s, graph=source_graph(graph), val=val_s)
        return self

    def predict_proba(self, X: Inputs) -> np.ndarray:
        return noisy_or(self.estimator_.predict_proba(X), self.links_)
