"""Semantic class-name vectors learned from the suite's own text (no download).

Zero-shot GCN (Wang et al. 2018) feeds its GCN word embeddings of the class names (GloVe);
nothing may be downloaded here, so the vectors are learned from the titles the method may see
(D_l + D_u): a word-word co-occurrence matrix counted within titles, positive pointwise mutual
information (Levy & Goldberg 2014), and a truncated SVD (scikit-learn), rows U * sqrt(Sigma).
A class name that is not one token of the corpus (e.g. "ruby-on-rails" written "ruby on
rails") is the mean of its parts' vectors; a name none of whose parts occurs gets a zero
vector. Rows are L2-normalised (as GloVe inputs are in the original's preprocessing).

For the image suite's letter classes, `letter_bigram_vectors` gives each letter the PPMI of
its neighbours in the words of the corpus its graph comes from (which letter precedes it,
which follows it, word boundaries included), also L2-normalised.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from scipy import sparse
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import CountVectorizer

MAX_WORDS = 5000  # corpus words kept besides the class names (most frequent first)


def ppmi(counts: sparse.spmatrix) -> sparse.csr_matrix:
    """PPMI_ij = max(0, log(C_ij * sum(C) / (sum_j C_ij * sum_i C_ij))) of a symmetric count
    matrix, sparse."""
    c = sparse.csr_matrix(counts, dtype=np.float64)
    total = c.sum()
    row = np.asarray(c.sum(axis=1)).ravel()
    coo = c.tocoo()
    pmi = np.log(coo.data * total / (row[coo.row] * row[coo.col]))
    keep = pmi > 0
    return sparse.csr_matrix((pmi[keep], (coo.row[keep], coo.col[keep])), shape=c.shape)


def class_name_vectors(texts: Sequence[str], class_names: Sequence[str], dim: int,
                       token_pattern: str, seed: int = 0) -> np.ndarray:
    """[|W|, dim] float32: PPMI + truncated SVD vectors of the class names over `texts`."""
    parts = {name: [name, *[p for p in re.split(r"[-.\s]+", name) if p]] for name in class_names}
    counter = CountVectorizer(token_pattern=token_pattern, lowercase=True, binary=True,
                              max_features=MAX_WORDS)
    counter.fit(texts)
    words = set(counter.vocabulary_) | {p for ps in parts.values() for p in ps}
    vectorizer = CountVectorizer(token_pattern=token_pattern, lowercase=True, binary=True,
                                 vocabulary=sorted(words))
    occurrences = vectorizer.fit_transform(texts)  # [n_titles, n_words], 0/1
    counts = (occurrences.T @ occurrences).tolil()
    counts.setdiag(0)  # a word with itself in the same title is no context
    matrix = ppmi(counts.tocsr())
    k = min(dim, matrix.shape[0] - 1)
    embedding = TruncatedSVD(k, algorithm="randomized", n_iter=7, random_state=seed).fit(matrix)
    word_vectors = embedding.transform(matrix) / np.sqrt(embedding.singular_values_)
    index = vectorizer.vocabulary_
    out = np.zeros((len(class_names), dim))
    for i, name in enumerate(class_names):
        rows = [index[name]] if occurrences[:, index[name]].nnz else [
            index[p] for p in parts[name][1:] if occurrences[:, index[p]].nnz]
        if rows:
            out[i, :k] = word_vectors[rows].mean(axis=0)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return (out / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def letter_bigram_vectors(words: Sequence[str], letters: Sequence[str]) -> np.ndarray:
    """[len(letters), 2 * 27] float32: per letter, the PPMI of its left and right neighbours
    (a-z or a word boundary) over the bigrams of `words`, L2-normalised; a letter that never
    occurs gets a zero vector."""
    alphabet = "abcdefghijklmnopqrstuvwxyz^"  # ^: the word boundary
    index = {c: i for i, c in enumerate(alphabet)}
    counts = np.zeros((27, 27))  # [left, right] bigram counts
    for word in words:
        padded = [index[c] for c in f"^{word}^" if c in index]
        np.add.at(counts, (padded[:-1], padded[1:]), 1.0)
    rows = [index[c] for c in letters]
    contexts = np.concatenate([counts.T[rows], counts[rows]], axis=1)  # [left | right]
    total = contexts.sum()
    row = contexts.sum(axis=1, keepdims=True)
    col = contexts.sum(axis=0, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        pmi = np.log(contexts * total / (row * col))
    out = np.where(np.isfinite(pmi) & (pmi > 0), pmi, 0.0)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return (out / np.where(norms > 0, norms, 1.0)).astype(np.float32)
