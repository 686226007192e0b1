"""Training settings shared by ADDES and the baselines: the optimiser and the precision.

They live here, below both, so that `addes` stands on its own as a library (it imports neither
`baselines` nor `bench`); `baselines.training` builds its loop on them.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class TrainConfig:
    batch_size: int = 64
    max_epochs: int = 10
    patience: int = 3
    lr: float = 1e-3
    weight_decay: float = 0.0
    device: str = "cpu"
    dtype: str = "fp32"  # "bf16": forward passes under bf16 autocast (see `autocast`)
    # start the output biases at the classes' log prior odds (`prior_log_odds` of
    # baselines.training); needs a model with an `output_bias` parameter
    prior_init: bool = False


PRECISIONS = ("fp32", "bf16")


def autocast(device: str, dtype: str) -> contextlib.AbstractContextManager:
    """The precision of forward passes: bf16 autocast (matmuls and convolutions in bfloat16,
    reductions and losses in float32; weights and optimiser state stay float32), or nothing
    for fp32."""
    if dtype not in PRECISIONS:
        raise ValueError(f"dtype must be one of {PRECISIONS}, not {dtype!r}")
    if dtype == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)


def make_optimizer(params, config: TrainConfig) -> torch.optim.Optimizer:
    """Adam, fused: the default implementation makes the embedding update cost as much as the
    whole forward/backward pass on CPU."""
    return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay, fused=True)
