"""The class graph G over W = S ∪ T (paper Sections 3, 4.2.2 and 5.3.1).

Node order is always the inexact classes S first, then the target classes T, matching the
stacking [W_s; W_t] of Eq. 16. Pure numpy.

- Eq. 17: A_ij = P(l_i | l_j) = M_ij / N_j among inexact classes, counted on D_l.
- Eq. 18: A_ts = A_st = 1 when inexact class s is in the prior-knowledge related set R_t.
- Eq. 19: P(y_t(i) = 1 | y_s, G) = 1 iff some inexact class j with y_s(j) = 1 links to i.
- Eq. 15: the propagation matrix D̃^{-1} Ã with Ã = A + I.
- ADDES-W (Section 5.6): Eq. 17 over all of W from the TRUE labels (an oracle graph).

Deviation, documented: Eq. 17 would put P(l_j | l_j) = 1 on the diagonal, and Eq. 15 then adds
I again; we keep A's diagonal at 0 so that Ã = A + I has exactly one self-loop per node.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np


def conditional_cooccurrence(labels: np.ndarray) -> np.ndarray:
    """Eq. 17: A_ij = M_ij / N_j, with M the pair counts and N_j the count of class j.

    labels: binary [n, k]. Columns of classes that never occur are 0; the diagonal is 0.
    """
    y = np.asarray(labels, dtype=np.float64)
    counts = y.T @ y  # M_ij
    n_j = np.diag(counts).copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(n_j[None, :] > 0, counts / n_j[None, :], 0.0)
    np.fill_diagonal(a, 0.0)
    return a


def prior_links(
    inexact: Sequence[str], targets: Sequence[str], relations: Mapping[str, Sequence[str]]
) -> tuple[np.ndarray, list[str]]:
    """Eq. 18: the binary target x inexact link matrix R [|T|, |S|] from a relations mapping.

    Returns the matrix and the relation entries that name no inexact class (for one warning).
    Raises ValueError when a target class is left with no link at all: Eq. 19 could then never
    predict it.
    """
    s_index = {name: j for j, name in enumerate(inexact)}
    links = np.zeros((len(targets), len(inexact)), dtype=bool)
    absent: list[str] = []
    for i, target in enumerate(targets):
        for related in relations.get(target, ()):
            if related in s_index:
                links[i, s_index[related]] = True
            else:
                absent.append(f"{target}: {related}")
    unlinked = [t for t, row in zip(targets, links, strict=True) if not row.any()]
    if unlinked:
        raise ValueError(
            f"target class(es) {', '.join(unlinked)} have no related inexact class in the graph"
        )
    return links, absent


@dataclass(frozen=True, eq=False)
class ClassGraph:
    """The class graph: node names, the correlation matrix A, and the Eq. 18 target links."""

    classes: tuple[str, ...]
    n_inexact: int
    adjacency: np.ndarray  # A, [|W|, |W|], S first then T
    target_links: np.ndarray  # R, bool [|T|, |S|], Eq. 18; drives Eq. 19

    @property
    def inexact(self) -> tuple[str, ...]:
        return self.classes[: self.n_inexact]

    @property
    def targets(self) -> tuple[str, ...]:
        return self.classes[self.n_inexact :]

    @property
    def n_target(self) -> int:
        return len(self.classes) - self.n_inexact

    @classmethod
    def from_inexact_labels(
        cls,
        y_s: np.ndarray,
        inexact: Sequence[str],
        targets: Sequence[str],
        target_links: np.ndarray,
    ) -> ClassGraph:
        """Eq. 17 among S (counted on D_l's y_s) plus the Eq. 18 links between T and S."""
        n_s, n_t = len(inexact), len(targets)
        a = np.zeros((n_s + n_t, n_s + n_t))
        a[:n_s, :n_s] = conditional_cooccurrence(y_s)
        a[n_s:, :n_s] = target_links
        a[:n_s, n_s:] = target_links.T
        return cls(tuple(inexact) + tuple(targets), n_s, a, np.asarray(target_links, bool))

    def reweighted_by_true_labels(self, y_all: np.ndarray) -> ClassGraph:
        """ADDES-W: A from Eq. 17 over all of W using TRUE labels [n, |W|] (oracle only).

        The Eq. 18 links are kept for Eq. 19, which ADDES-W does not change.
        """
        return ClassGraph(self.classes, self.n_inexact, conditional_cooccurrence(y_all),
                          self.target_links)

    def estimate_targets(self, y_s: np.ndarray) -> np.ndarray:
        """Eq. 19: ŷ_t(i) = 1 iff an inexact class j with y_s(j) = 1 links to target i.

        y_s: binary [n, |S|] -> float32 [n, |T|] of 0/1 (these build D_e).
        """
        hits = np.asarray(y_s, dtype=np.float64) @ self.target_links.T.astype(np.float64)
        return (hits > 0).astype(np.float32)

    def propagation_matrix(self) -> np.ndarray:
        """Eq. 15's D̃^{-1} Ã with Ã = A + I (row-normalised, float32 [|W|, |W|])."""
        a_tilde = self.adjacency + np.eye(len(self.classes))
        return (a_tilde / a_tilde.sum(axis=1, keepdims=True)).astype(np.float32)
