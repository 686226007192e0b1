"""The method registry (timm-style): one decorated builder per method.

    @register("text-CNN", training_set="D_e")
    def text_cnn(ctx: MethodContext) -> TextCNN:
        '''Kim's CNN on D_e.'''
        return TextCNN(ctx.vocab_size, ctx.scale.embed_dim, ctx.scale.cnn_maps, ctx.train, ctx.seed)

A builder receives only a `MethodContext` (sizes, widths, seed, job params): never a split.
The runner assembles the training set the spec names and calls the estimator's
`fit(X, Y, *, graph, unlabeled, val)` / `predict_proba(X)`, so what each method sees is
decided in one place (bench/runner.py). Adding a method is one decorated function in one of
this package's modules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

from addes.data import Inputs
from addes.graph import ClassGraph
from baselines.training import TrainConfig
from bench.errors import UserError
from bench.scales import Scale

# D_e: D_l with Eq. 19 target estimates. D_e+D_s: plus ADDES synthetic data.
TrainingSet = Literal["D_e", "D_e+D_s"]


class Estimator(Protocol):
    def fit(self, X: Inputs, Y: np.ndarray, *, graph: ClassGraph, unlabeled: Inputs | None = None,
            val: tuple[Inputs, np.ndarray] | None = None) -> Estimator: ...

    def predict_proba(self, X: Inputs) -> np.ndarray: ...


@dataclass(frozen=True)
class MethodContext:
    """What a builder may know about the job it builds for."""

    scale: Scale
    seed: int
    modality: str  # "text" | "image"
    vocab_size: int  # 0 for images
    train: TrainConfig
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MethodSpec:
    name: str
    build: Callable[[MethodContext], Estimator]
    training_set: TrainingSet
    uses_unlabeled: bool  # the runner passes D_u to fit
    in_paper: bool  # False for the extra references (TF-IDF + LR, AugLR)
    default_params: Mapping[str, Any]  # job params with their defaults (e.g. n_synthetic)
    summary: str
    modalities: tuple[str, ...] = ("text", "image")  # the data it applies to


REGISTRY: dict[str, MethodSpec] = {}


def register(
    name: str,
    *,
    training_set: TrainingSet = "D_e",
    uses_unlabeled: bool = False,
    in_paper: bool = True,
    default_params: Mapping[str, Any] | None = None,
    modalities: tuple[str, ...] = ("text", "image"),
):
    """Class decorator-style registration of a builder under `name`."""

    def decorate(build: Callable[[MethodContext], Estimator]):
        if name in REGISTRY:
            raise ValueError(f"method {name!r} registered twice")
        summary = (build.__doc__ or "").strip().splitlines()[0] if build.__doc__ else ""
        REGISTRY[name] = MethodSpec(name, build, training_set, uses_unlabeled, in_paper,
                                    dict(default_params or {}), summary,
                                    tuple(modalities))
        return build

    return decorate


def get_method(name: str) -> MethodSpec:
    _load_all()
    try:
        return REGISTRY[name]
    except KeyError:
        raise UserError(f"--methods: unknown method {name!r}; known: {', '.join(REGISTRY)}") from None


def all_methods() -> dict[str, MethodSpec]:
    _load_all()
    return dict(REGISTRY)


def _load_all() -> None:
    """Import the modules whose decorators fill the registry."""
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
