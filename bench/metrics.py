"""Evaluation metrics of the paper (Section 5.3.3): mAP and mean AUC over the target classes."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score


def _check(y_true: np.ndarray, y_score: np.ndarray, class_names) -> None:
    if y_true.shape != y_score.shape:
        raise ValueError(f"labels {y_true.shape} and scores {y_score.shape} differ in shape")
    if not np.isfinite(y_score).all():
        raise ValueError("scores contain NaN or infinity")
    for j, col in enumerate(y_true.T):
        if col.min() == col.max():
            name = class_names[j] if class_names else j
            raise ValueError(f"target class {name!r} has only one label value in the test set; "
                             "its AP/AUC is undefined")


def mean_average_precision(y_true: np.ndarray, y_score: np.ndarray, class_names=None) -> float:
    """mAP: the mean over target classes of average precision (scikit-learn's definition)."""
    _check(y_true, y_score, class_names)
    return float(np.mean([average_precision_score(t, s)
                          for t, s in zip(y_true.T, y_score.T, strict=True)]))


def mean_auc(y_true: np.ndarray, y_score: np.ndarray, class_names=None) -> float:
    """Mean over target classes of the area under the ROC curve."""
    _check(y_true, y_score, class_names)
    return float(np.mean([roc_auc_score(t, s) for t, s in zip(y_true.T, y_score.T, strict=True)]))


METRICS = {"mAP": mean_average_precision, "AUC": mean_auc}


def evaluate(y_true: np.ndarray, y_score: np.ndarray, class_names=None) -> dict[str, float]:
    return {name: fn(y_true, y_score, class_names) for name, fn in METRICS.items()}
