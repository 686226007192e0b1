"""TF-IDF + logistic regression: the classical reference (not in the ADDES paper).

scikit-learn's TfidfVectorizer over word 1- and 2-grams of the raw titles (`X.texts`, lower-cased;
default smooth idf and l2 normalisation), with a token pattern that keeps programming names
such as c#, c++, .net and node.js whole; then one binary LogisticRegression per target class
(one-vs-rest; liblinear solver, C = 1, L2 penalty), fitted on the T columns of Y (on D_e the
Eq. 19 estimates). A target column that is constant in Y gets that constant as its
probability (no classifier can be fitted). Deterministic: liblinear is seeded, nothing else
is random. Nothing is tuned on validation data (`val` is accepted and ignored).
"""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from addes.data import Inputs
from addes.graph import ClassGraph

# the pattern of the suite's tokenizer: a letter/digit (or a dot before letters, for `.net`),
# word characters, '#', '+', '.', '-' inside, possibly ending in '#' or '+' (c#, c++, f#)
PROGRAMMING_TOKEN_PATTERN = r"(?:(?<![\w.])\.)?[a-z0-9_](?:[a-z0-9_#+.\-]*[a-z0-9_#+])?"


class TfidfLogisticRegression:
    def __init__(self, token_pattern: str = PROGRAMMING_TOKEN_PATTERN, C: float = 1.0,
                 seed: int = 0):
        self.token_pattern, self.C, self.seed = token_pattern, C, seed

    def fit(self, X: Inputs, Y: np.ndarray, *, graph: ClassGraph, unlabeled: Inputs | None = None,
            val: tuple[Inputs, np.ndarray] | None = None) -> TfidfLogisticRegression:
        if X.texts is None:
            raise ValueError("TF-IDF + LR needs the raw titles (Inputs.texts)")
        y_t = np.asarray(Y[:, graph.n_inexact :]) > 0.5
        self.vectorizer_ = TfidfVectorizer(ngram_range=(1, 2), token_pattern=self.token_pattern,
                                           lowercase=True)
        features = self.vectorizer_.fit_transform(X.texts)
        self.classifiers_: list[LogisticRegression | float] = []
        for column in y_t.T:
            if column.all() or not column.any():
                self.classifiers_.append(float(column[0]))
                continue
            clf = LogisticRegression(C=self.C, solver="liblinear", random_state=self.seed)
            self.classifiers_.append(clf.fit(features, column))
        return self

    def predict_proba(self, X: Inputs) -> np.ndarray:
        if X.texts is None:
            raise ValueError("TF-IDF + LR needs the raw titles (Inputs.texts)")
        features = self.vectorizer_.transform(X.texts)
        columns = [np.full(len(X), clf) if isinstance(clf, float)
                   else clf.predict_proba(features)[:, 1] for clf in self.classifiers_]
        return np.stack(columns, axis=1).astype(np.float64)
