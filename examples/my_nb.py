"""A method from outside the package: multinomial naive Bayes on TF-IDF features.

    python run_all.py --suite stackoverflow --experiments table2 \
        --methods text-CNN,TF-IDF+LR,MyNB,AugMyNB --plugin examples/my_nb.py

`augmented=True` also registers AugMyNB, the same model trained on D_e + D_s (ADDES data).
"""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.naive_bayes import MultinomialNB

from addes.data import Inputs
from addes.graph import ClassGraph
from addes.tokens import TOKEN_PATTERN
from bench.methods import MethodContext, register


class TfidfNaiveBayes:
    """One multinomial naive Bayes per target class over TF-IDF word 1-2 grams of the titles."""

    def __init__(self, alpha: float = 1.0):
        self.alpha = alpha

    def fit(self, X: Inputs, Y: np.ndarray, *, graph: ClassGraph,
            unlabeled: Inputs | None = None, val: tuple[Inputs, np.ndarray] | None = None
            ) -> TfidfNaiveBayes:
        targets = Y[:, graph.n_inexact:] > 0.5  # the T columns: Eq. 19 estimates on D_e
        self.vectorizer_ = TfidfVectorizer(ngram_range=(1, 2), token_pattern=TOKEN_PATTERN)
        features = self.vectorizer_.fit_transform(X.texts)
        # a constant column (no positive, or no negative, example) predicts its constant
        self.models_ = [MultinomialNB(alpha=self.alpha).fit(features, y) if 0 < y.sum() < len(y)
                        else float(y[0]) for y in targets.T]
        return self

    def predict_proba(self, X: Inputs) -> np.ndarray:
        """p(t = 1 | x) for each target class t: shape (n, |T|)."""
        features = self.vectorizer_.transform(X.texts)
        return np.stack([np.full(len(X), m) if isinstance(m, float)
                         else m.predict_proba(features)[:, 1] for m in self.models_], axis=1)


@register("MyNB", training_set="D_e", in_paper=False, modalities=("text",), augmented=True)
def my_nb(ctx: MethodContext) -> TfidfNaiveBayes:
    """Multinomial naive Bayes on TF-IDF word 1-2 grams (example plugin)."""
    return TfidfNaiveBayes()
