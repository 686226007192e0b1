"""Semi-CNN: entropy regularisation (Grandvalet & Bengio, "Semi-supervised Learning by Entropy
Minimization", NIPS 2005) on Kim's text-CNN, the paper's semi-supervised baseline (Section 5.2).

Loss per step: BCE of the text-CNN on a D_e mini-batch (targets from Eq. 19)
    + lambda * mean over (example, target class) of the binary entropy H(p) of its sigmoid
      predictions on a D_u mini-batch of the same size, drawn with the training generator.

lambda is chosen on the validation part (whose targets are Eq. 19 estimates, never test
labels): one model is trained per candidate in `lambdas` (default {0.01, 0.1, 1}) and the one
with the highest validation mAP (mean over target classes of average precision; ties to the
smaller lambda) is kept; `chosen_lambda_` and `val_map_` record the choice. mAP rather than
validation BCE because BCE penalises the confident predictions that entropy minimisation
produces even when their ranking, which the test metrics score, is unchanged. Each candidate
early-stops on its own validation BCE (the shared loop); the grid triples the fit time.

Deviations, documented: binary (per-class sigmoid) entropy, since the task is multi-label
(Grandvalet & Bengio write the softmax entropy); the text-CNN deviations of
`baselines.text_cnn` apply; without validation data only a single candidate is accepted.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from sklearn.metrics import average_precision_score
from torch import nn
from torch.nn import functional as F

from addes.data import Inputs
from addes.graph import ClassGraph
from baselines.text_cnn import TextCNN
from baselines.training import FeatureFactory, Regularizer, TrainConfig, as_tensor


def binary_entropy_from_logits(logits: torch.Tensor) -> torch.Tensor:
    """Mean of H(p) = -p log p - (1-p) log(1-p), p = sigmoid(z), computed stably as
    p * softplus(-z) + (1-p) * softplus(z)."""
    p = torch.sigmoid(logits)
    return (p * F.softplus(-logits) + (1 - p) * F.softplus(logits)).mean()


def validation_map(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """Mean average precision over the classes that have both labels in y_true. Soft
    targets (target_estimate="soft") count as positive from 0.5, as the 0/1 estimate does."""
    y_true = np.asarray(y_true) >= 0.5
    aps = [average_precision_score(t, s) for t, s in zip(y_true.T, y_score.T, strict=True)
           if 0 < t.sum() < len(t)]
    return float(np.mean(aps)) if aps else float("nan")


class EntropyRegularizedCNN(TextCNN):
    """text-CNN + lambda x entropy on D_u, for one fixed lambda."""

    def __init__(self, vocab_size: int, embed_dim: int = 300, maps: int = 100,
                 lam: float = 0.1, config: TrainConfig = TrainConfig(), seed: int = 0,
                 features: FeatureFactory | None = None):
        super().__init__(vocab_size, embed_dim, maps, config, seed, features)
        self.lam = lam

    def regularizer(self, unlabeled: Inputs | None) -> Regularizer | None:
        if unlabeled is None or len(unlabeled) == 0:
            raise ValueError("Semi-CNN needs a non-empty unlabeled set D_u")
        x_u = as_tensor(unlabeled, self.config.device)
        batch, lam = self.config.batch_size, self.lam

        def entropy_term(model: nn.Module, gen: torch.Generator) -> torch.Tensor:
            idx = torch.randint(len(x_u), (min(batch, len(x_u)),), generator=gen)
            return lam * binary_entropy_from_logits(model(x_u[idx]).float())

        return entropy_term


class SemiCNN:
    """Entropy-regularised text-CNN with lambda selected on the validation part (`features`:
    another feature extractor than KimCNN, e.g. SDANN's for images)."""

    def __init__(self, vocab_size: int, embed_dim: int = 300, maps: int = 100,
                 lambdas: Sequence[float] = (0.01, 0.1, 1.0),
                 config: TrainConfig = TrainConfig(), seed: int = 0,
                 features: FeatureFactory | None = None):
        self.vocab_size, self.embed_dim, self.maps = vocab_size, embed_dim, maps
        self.features = features
        self.lambdas = tuple(sorted(lambdas))  # ascending: ties go to the smaller lambda
        self.config, self.seed = config, seed

    def fit(self, X: Inputs, Y: np.ndarray, *, graph: ClassGraph, unlabeled: Inputs | None = None,
            val: tuple[Inputs, np.ndarray] | None = None) -> SemiCNN:
        if val is None and len(self.lambdas) > 1:
            raise ValueError("Semi-CNN chooses lambda on validation data: pass val")
        best = None
        self.val_map_: dict[float, float] = {}
        for lam in self.lambdas:
            est = EntropyRegularizedCNN(self.vocab_size, self.embed_dim, self.maps, lam,
                                        self.config, self.seed, self.features)
            est.fit(X, Y, graph=graph, unlabeled=unlabeled, val=val)
            if val is None:
                best = (lam, est)
                break
            score = validation_map(val[1][:, graph.n_inexact :], est.predict_proba(val[0]))
            self.val_map_[lam] = score
            if best is None or score > self.val_map_[best[0]]:
                best = (lam, est)
        self.chosen_lambda_, self.estimator_ = best
        return self

    def predict_proba(self, X: Inputs) -> np.ndarray:
        return self.estimator_.predict_proba(X)
