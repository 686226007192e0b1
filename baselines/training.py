"""The shared training loop and estimator contract of the neural multi-label classifiers.

Contract (scikit-learn-like), for every method in this package:

    est.fit(X, Y, *, graph, unlabeled=None, val=None) -> est
    est.predict_proba(X) -> float ndarray [n, |T|]

X is an `addes.data.Inputs`; Y is [n, |W|] with the inexact classes S first, then the target
classes T (the node order of `ClassGraph`); `val` is an (Inputs, Y) pair carved from the
training side. Its target columns are Eq. 19 estimates, never true labels, so early stopping
selects on what the method could know.

The loop is plain and readable: tensors built once, a seeded permutation per epoch, Adam
(fused: the default implementation makes the embedding update cost as much as the whole
forward/backward pass on CPU), early stopping on validation loss, best weights restored.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from addes.data import Inputs
from addes.graph import ClassGraph
from addes.training import TrainConfig, autocast, make_optimizer


def as_tensor(X: Inputs, device: str = "cpu") -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(X.x)).to(device)


def prior_log_odds(y: torch.Tensor) -> torch.Tensor:
    """log(r / (1 - r)) per column of binary labels y [n, k], r = (positives + 1) / (n + 2).

    The output-bias initialisation of Lin et al. 2017 (focal loss, "prior" init): a
    multi-label head over many rare classes that starts at bias 0 predicts 0.5 everywhere, and
    Adam at lr 1e-3 moves a bias by about 1e-3 a step, so for the first epochs the shared
    features are spent pushing every logit down (the initial plateau of ML-GCN and of a
    text-CNN over the 21-24 inexact classes at quick scale).
    """
    rate = (y.float().sum(dim=0) + 1.0) / (len(y) + 2.0)
    return torch.log(rate / (1.0 - rate))


Regularizer = Callable[[nn.Module, torch.Generator], torch.Tensor]
# builds a feature extractor (an nn.Module with an `out_dim`) for training inputs X: how the
# CNN-based baselines take KimCNN for text or SDANN's features for images
FeatureFactory = Callable[[Inputs], nn.Module]


@dataclass(frozen=True)
class EpochReport:
    """What `fit_multilabel` tells an epoch observer after each epoch (`observe_epochs`)."""

    stage: int  # which fit_multilabel call of the observed fit (0: the first, e.g. a backbone)
    epoch: int
    train_loss: float  # mean of the epoch's batch losses
    val_loss: float | None  # the loss early stopping watches (None without validation data)
    model: nn.Module
    x_val: torch.Tensor | None
    y_val: torch.Tensor | None


_observers: list[Callable[[EpochReport], None]] = []
_stage_counter = [0]


@contextlib.contextmanager
def observe_epochs(observer: Callable[[EpochReport], None]) -> Iterator[None]:
    """Inside, every `fit_multilabel` call reports each epoch to `observer` (`bench.curves`
    draws training curves this way, whatever stages an estimator trains in); stages are
    numbered from 0 per context. Training itself is unchanged."""
    _observers.append(observer)
    stage_before, _stage_counter[0] = _stage_counter[0], 0
    try:
        yield
    finally:
        _observers.remove(observer)
        _stage_counter[0] = stage_before


def fit_multilabel(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    config: TrainConfig,
    seed: int,
    x_val: torch.Tensor | None = None,
    y_val: torch.Tensor | None = None,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = (
        F.binary_cross_entropy_with_logits),
    regularizer: Regularizer | None = None,
    val_loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
) -> nn.Module:
    """Train `model` (inputs -> logits) on (x, y); keep the weights of the best validation loss.

    `val_loss_fn` (default: `loss_fn`) is the loss early stopping watches on (x_val, y_val)
    (ML-GCN's `stop_on="targets"`: the target classes' part only).

    `regularizer(model, generator)`, when given, is added to every step's loss (Semi-CNN's
    entropy term on a D_u batch). Without validation data the last epoch's weights are kept.
    With `config.prior_init`, `model.output_bias` starts at the log prior odds of y.
    """
    gen = torch.Generator().manual_seed(seed)
    if config.prior_init:
        with torch.no_grad():
            model.output_bias.copy_(prior_log_odds(y))
    # a model may train its parts at different rates (ML-GCN's backbone_lr)
    params = model.param_groups(config.lr) if hasattr(model, "param_groups") else model.parameters()
    optimizer = make_optimizer(params, config)
    best_loss, best_state, bad_epochs = float("inf"), None, 0
    stage, _stage_counter[0] = _stage_counter[0], _stage_counter[0] + 1
    for epoch in range(config.max_epochs):
        model.train()
        train_loss = 0.0
        for idx in torch.randperm(len(x), generator=gen).split(config.batch_size):
            with autocast(config.device, config.dtype):
                loss = loss_fn(model(x[idx]).float(), y[idx])
                if regularizer is not None:
                    loss = loss + regularizer(model, gen)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"training loss became {loss.item()}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if _observers:
                train_loss += loss.item() * len(idx) / len(x)
        val_loss = None
        if x_val is not None:
            with autocast(config.device, config.dtype):
                val_loss = evaluate_loss(model, x_val, y_val, val_loss_fn or loss_fn,
                                         config.batch_size * 8)
        for observer in _observers:
            observer(EpochReport(stage, epoch, train_loss, val_loss, model, x_val, y_val))
        if val_loss is None:
            continue
        if val_loss < best_loss - 1e-4:
            best_loss, best_state, bad_epochs = val_loss, copy.deepcopy(model.state_dict()), 0
        else:
            bad_epochs += 1
            if bad_epochs >= config.patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    return model.eval()


@torch.no_grad()
def evaluate_loss(model, x, y, loss_fn, batch_size: int) -> float:
    model.eval()
    total = sum(loss_fn(model(x[i : i + batch_size]).float(), y[i : i + batch_size]).item()
                * len(x[i : i + batch_size]) for i in range(0, len(x), batch_size))
    return total / max(1, len(x))


@torch.no_grad()
def predict_logits(model: nn.Module, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    model.eval()
    return torch.cat([model(x[i : i + batch_size]).float() for i in range(0, len(x), batch_size)])


def target_share_weights(n_inexact: int, n_classes: int, target_share: float | None,
                         device: str = "cpu") -> torch.Tensor | None:
    """Per-class loss weights over W (S first, then T) that give the target classes together
    `target_share` of the loss and the inexact classes the rest, with mean weight 1 (so the
    loss keeps its scale); None (uniform, every class alike) when `target_share` is None.

    Why: a head over all of W weighs the target as 1 / |W| of its loss and of the validation
    loss it early-stops on (1/26 on MJSynth-1), so the shared features and the stopping point
    serve the 25 source letters (issue 14)."""
    if target_share is None:
        return None
    if not 0.0 < target_share < 1.0:
        raise ValueError(f"target_share must lie strictly between 0 and 1, not {target_share}")
    n_target = n_classes - n_inexact
    weights = torch.full((n_classes,), (1.0 - target_share) / max(1, n_inexact))
    weights[n_inexact:] = target_share / n_target
    return (weights * n_classes).to(device)


def target_only_weights(n_inexact: int, n_classes: int, class_weight: torch.Tensor | None,
                        device: str = "cpu") -> torch.Tensor:
    """`class_weight` (None: uniform) with the inexact classes S zeroed: a loss over all of W
    (S first) that counts the target classes T alone (ML-GCN's `stop_on="targets"`)."""
    weights = torch.ones(n_classes, device=device) if class_weight is None else class_weight
    mask = torch.zeros(n_classes, device=weights.device)
    mask[n_inexact:] = 1.0
    return weights * mask


class NeuralMultiLabelClassifier:
    """Base of the torch classifiers: subclasses say how to build the network and whether it
    learns all classes W (ML-GCN) or only the targets T (text-CNN, GRU).

    `class_weight` (None: uniform), per output column, weighs each class's term of the
    training and validation loss (`target_share_weights`); `stop_weight`, when set, replaces it
    in the validation loss that early stopping watches (`target_only_weights`)."""

    learns_all_classes = False
    class_weight: torch.Tensor | None = None
    stop_weight: torch.Tensor | None = None

    def __init__(self, config: TrainConfig = TrainConfig(), seed: int = 0):
        self.config = config
        self.seed = seed

    def build(self, X: Inputs, graph: ClassGraph, n_out: int) -> nn.Module:  # pragma: no cover
        raise NotImplementedError  # abstract: every subclass defines its network

    def weighted_loss(self, logits: torch.Tensor, y: torch.Tensor,
                      weight: torch.Tensor | None) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(logits, y, weight=weight)

    def loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.weighted_loss(logits, y, self.class_weight)

    def val_loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The loss early stopping watches: the training loss, or its `stop_weight` part."""
        if self.stop_weight is None:
            return self.loss(logits, y)
        return self.weighted_loss(logits, y, self.stop_weight)

    def regularizer(self, unlabeled: Inputs | None) -> Regularizer | None:
        return None

    def _columns(self, Y: np.ndarray, graph: ClassGraph) -> np.ndarray:
        return Y if self.learns_all_classes else Y[:, graph.n_inexact :]

    def fit(self, X: Inputs, Y: np.ndarray, *, graph: ClassGraph, unlabeled: Inputs | None = None,
            val: tuple[Inputs, np.ndarray] | None = None):
        self.graph_ = graph
        device = self.config.device
        torch.manual_seed(self.seed)
        y = torch.as_tensor(self._columns(Y, graph), dtype=torch.float32, device=device)
        self.model_ = self.build(X, graph, y.shape[1]).to(device)
        x_val = y_val = None
        if val is not None:
            x_val = as_tensor(val[0], device)
            y_val = torch.as_tensor(self._columns(val[1], graph), dtype=torch.float32,
                                    device=device)
        fit_multilabel(self.model_, as_tensor(X, device), y, config=self.config, seed=self.seed,
                       x_val=x_val, y_val=y_val, loss_fn=self.loss, val_loss_fn=self.val_loss,
                       regularizer=self.regularizer(unlabeled))
        return self

    def validation_loss(self, X: Inputs, Y: np.ndarray) -> float:
        """The loss early stopping watches (`val_loss`), of the fitted model on (X, Y); Y over
        all of W, as `fit` takes it."""
        device = self.config.device
        y = torch.as_tensor(self._columns(Y, self.graph_), dtype=torch.float32, device=device)
        with autocast(device, self.config.dtype):
            return evaluate_loss(self.model_, as_tensor(X, device), y, self.val_loss,
                                 self.config.batch_size * 8)

    def predict_proba(self, X: Inputs) -> np.ndarray:
        with autocast(self.config.device, self.config.dtype):
            logits = predict_logits(self.model_, as_tensor(X, self.config.device))
        if self.learns_all_classes:
            logits = logits[:, self.graph_.n_inexact :]
        return torch.sigmoid(logits).cpu().numpy().astype(np.float64)
