"""ADDES (Dai et al., KDD 2021): labeled-data generation with inexact supervision.

The library stands on its own (it imports neither `baselines` nor `bench`):

    from addes import ADDESEstimator, ClassGraph

`ADDESEstimator` (addes.estimator) fits on texts or images with inexact labels and a class
graph, samples synthetic labeled examples, and saves / loads itself. The modules below it:
graph (Eqs. 15, 17-19), gcn, model / text / image (the networks and losses), train
(Algorithm 1), training (optimiser and precision, shared with the baselines), tokens
(tokenisation and vocabulary), codec (the no-pickle file format), data (the Inputs container).
"""

from addes.estimator import ADDESEstimator
from addes.graph import ClassGraph
from addes.train import ADDESConfig

__all__ = ["ADDESConfig", "ADDESEstimator", "ClassGraph"]
