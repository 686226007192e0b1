"""mAP and mean AUC against hand-computed values."""

import numpy as np
import pytest

from bench.metrics import evaluate, mean_auc, mean_average_precision


def test_average_precision_by_hand():
    # ranking: 0.9 (pos), 0.8 (neg), 0.7 (pos), 0.1 (neg) -> AP = (1/1 + 2/3) / 2
    y = np.array([[1], [0], [1], [0]])
    s = np.array([[0.9], [0.8], [0.7], [0.1]])
    assert mean_average_precision(y, s) == pytest.approx((1 + 2 / 3) / 2)


def test_auc_by_hand_and_mean_over_classes():
    y = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    s = np.array([[0.9, 0.2], [0.8, 0.9], [0.7, 0.1], [0.1, 0.3]])
    # class 0: pos {0.9, 0.7} vs neg {0.8, 0.1}: 3 of 4 pairs ordered -> 0.75
    # class 1: pos {0.9, 0.1} vs neg {0.2, 0.3}: 2 of 4 -> 0.5
    assert mean_auc(y, s) == pytest.approx((0.75 + 0.5) / 2)


def test_class_without_positive_is_an_error_not_nan():
    with pytest.raises(ValueError, match="javascript"):
        evaluate(np.zeros((3, 1)), np.array([[0.1], [0.2], [0.3]]), ["javascript"])


def test_nan_scores_are_an_error():
    with pytest.raises(ValueError, match="NaN"):
        evaluate(np.array([[1], [0]]), np.array([[np.nan], [0.2]]))
