"""ADDES (Dai et al., KDD 2021): labeled-data generation with inexact supervision.

The library stands on its own (it imports neither `baselines` nor `bench`):

    from addes import ADDESEstimator, ClassGraph

`ADDESEstimator` (addes.estimator) fits on texts or images with inexact labels and a class
graph, samples synthetic labeled examples, and saves / loads itself. The modules below it:
graph (Eqs. 15, 17-19), gcn, model / text / image (the networks and losses), train
(Algorithm 1), training (optimiser and precision, shared with the baselines), tokens
(tokenisation and vocabulary), codec (the no-pickle file format), data (the Inputs container).
"""

import importlib
from typing import Any

# name -> module; loaded on first use, so that `import addes.graph` stays pure numpy
_EXPORTS = {"ADDESConfig": "addes.train", "ADDESEstimator": "addes.estimator",
            "ClassGraph": "addes.graph"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'addes' has no attribute {name!r}")
