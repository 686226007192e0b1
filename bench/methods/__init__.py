"""The method registry (timm-style): one decorated builder per method.

    @register("text-CNN", training_set="D_e")
    def text_cnn(ctx: MethodContext) -> TextCNN:
        '''Kim's CNN on D_e.'''
        return TextCNN(ctx.vocab_size, ctx.scale.embed_dim, ctx.scale.cnn_maps, ctx.train, ctx.seed)

A builder receives only a `MethodContext` (sizes, widths, seed, job params): never a split.
The runner assembles the training set the spec names and calls the estimator's
`fit(X, Y, *, graph, unlabeled, val)` / `predict_proba(X)`, so what each method sees is
decided in one place (bench/runner.py). Adding a method is one decorated function in one of
this package's modules, or in a plugin outside it (`bench.plugins`: `--plugin FILE|MODULE`, or
the `addes_bench.methods` entry-point group of an installed package).

Every registered method joins the experiments that fit it (Table 2 for text, Table 4 for
images; bench/experiments.py) with the paper's seeds and splits. `augmented=True` (or a name)
also registers the same builder trained on D_e + D_s, "Aug<name>": does ADDES data help this
model? ADDES generator variants (`register_generator`) are selectable by name like methods:
`--methods ADDES-CNN` runs the jobs fed by that variant.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from addes.data import Inputs
from addes.graph import ClassGraph
from baselines.training import TrainConfig
from bench.errors import UserError
from bench.scales import Scale

# D_e: D_l with Eq. 19 target estimates. D_e+D_s: plus ADDES synthetic data.
TrainingSet = Literal["D_e", "D_e+D_s"]

# The job params of a method trained on D_e + D_s (its generator of D_s): variant (a
# registered generator, below), Eq. 11's weights, |D_s| (None: the scale's n_synthetic), and
# how D_s's label vectors are drawn (see ADDESGenerator; "resample" kept on the validation
# evidence of `python -m bench.diagnose`, docs/findings-stackoverflow.md). The image
# experiments pass alpha = 100 (Section 5.4.2).
SYNTHETIC = {"variant": "ADDES", "alpha": 0.1, "beta": 0.1, "n_synthetic": None,
             "label_sampling": "resample"}
# D_s params a job may carry that the default jobs leave out (their keys stay as they were):
# the titles' sampling temperature and D_s's labels (bench/artifacts.synthetic_set_id)
SYNTHETIC_OPTIONAL = ("temperature", "target_labels")


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
    # image suites: the word corpus file their class graph comes from (None: the default list,
    # bench.data.render.load_word_list); text: unused
    word_list: Path | None = None


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
    # a method under test (False) is compared with every baseline of its table; a reference
    # (the paper's methods, TF-IDF+LR, AugLR) is only compared with what it augments
    reference: bool = True
    augments: tuple[str, ...] = ()  # the methods it is trained like, on D_e + D_s instead of D_e
    origin: str = ""  # the module (or plugin file) that registered it
    # bumped when a change of the builder's recipe changes its results without changing a job
    # param: part of the job key from 2 on, so records of the old recipe are never reused
    revision: int = 1


@dataclass(frozen=True)
class GeneratorSpec:
    """A variant of the ADDES generator of D_s (a job's `variant` param). Selectable by name
    with --methods: it selects every job trained on the D_s it generates."""

    name: str
    summary: str
    in_paper: bool
    in_tables: bool  # True: Table 2 / 4 get a column per augmented method fed by it
    origin: str = ""
    opt_in: bool = False  # True: its jobs run only when --methods names it (too costly for
    #                       the default grids, e.g. ADDES+'s longer training)
    # job params its jobs carry beside "variant" (e.g. ADDES+G's D_s label sampling); the
    # suite's grids put them in every job it feeds
    params: Mapping[str, Any] = field(default_factory=dict)
    modalities: tuple[str, ...] = ("text", "image")  # the data its D_s can be made for


REGISTRY: dict[str, MethodSpec] = {}
GENERATORS: dict[str, GeneratorSpec] = {}
_loaded = False


def register(
    name: str,
    *,
    training_set: TrainingSet = "D_e",
    uses_unlabeled: bool = False,
    in_paper: bool | None = None,
    default_params: Mapping[str, Any] | None = None,
    modalities: tuple[str, ...] = ("text", "image"),
    reference: bool | None = None,
    augmented: bool | str = False,
    augments: str | tuple[str, ...] = (),
    revision: int = 1,
):
    """Decorator registering a builder under `name`.

    in_paper: whether the paper reports it (default: True for this package's modules, False
    for plugins); reference: an extra baseline rather than a method under test (default:
    in_paper); augmented: also register the builder on D_e + D_s, as "Aug<name>" (True) or
    under the given name; augments: for a builder on D_e + D_s, the method(s) it augments;
    revision: bump it when the builder's results change with no job param to say so (its jobs
    get new keys; revision 1 adds nothing to a key, so the first recipe's keys stay)."""

    def decorate(build: Callable[[MethodContext], Estimator]):
        origin = _origin(build)
        paper = _is_builtin(origin) if in_paper is None else in_paper
        ref = paper if reference is None else reference
        summary = (build.__doc__ or "").strip().splitlines()[0] if build.__doc__ else ""
        base = MethodSpec(name, build, training_set, uses_unlabeled, paper,
                          dict(default_params or {}), summary, tuple(modalities), ref,
                          (augments,) if isinstance(augments, str) else tuple(augments), origin,
                          revision)
        specs = [base]
        if augmented:
            if training_set != "D_e":
                raise ValueError(f"method {name!r}: augmented=... needs training_set='D_e'")
            specs.append(replace(
                base, name=augmented if isinstance(augmented, str) else f"Aug{name}",
                training_set="D_e+D_s", in_paper=False, default_params={**base.default_params,
                                                                          **SYNTHETIC},
                summary=f"{name} trained on D_e + D_s (ADDES data) instead of D_e",
                augments=(name,)))
        for spec in specs:
            _claim(spec.name, origin)
        REGISTRY.update((spec.name, spec) for spec in specs)
        return build

    return decorate


def register_generator(name: str, summary: str, *, in_paper: bool = True,
                       in_tables: bool = False, opt_in: bool = False,
                       params: Mapping[str, Any] | None = None,
                       modalities: tuple[str, ...] = ("text", "image")) -> None:
    """Register an ADDES generator variant (bench/artifacts.py trains it from a job's
    `variant` param). in_tables: Table 2 / 4 show the augmented methods it feeds as their own
    columns ("AugCNN (name)") beside the default variant's. opt_in: its jobs (Figure 7, and
    the tables with in_tables) run only when --methods names it. params: job params (among
    SYNTHETIC's and SYNTHETIC_OPTIONAL) that its jobs carry beside the variant, e.g. its D_s
    label sampling. modalities: the data it applies to (e.g. text only, where its params
    sample titles at a temperature)."""
    origin = _origin(sys._getframe(1).f_globals.get("__name__", ""))  # the calling module
    unknown = set(params or {}) - set(SYNTHETIC) - set(SYNTHETIC_OPTIONAL)
    if unknown:
        raise ValueError(f"generator {name!r}: params {sorted(unknown)} are not among "
                         f"{', '.join([*SYNTHETIC, *SYNTHETIC_OPTIONAL])}")
    _claim(name, origin)
    GENERATORS[name] = GeneratorSpec(name, summary, in_paper, in_tables, origin, opt_in,
                                     dict(params or {}), tuple(modalities))


def generator_params(name: str) -> dict[str, Any]:
    """The grid params of a D_e + D_s job fed by generator variant `name`: the variant and the
    params its registration carries."""
    _load_all()
    return {"variant": name, **GENERATORS[name].params}


def default_generator() -> str:
    """The variant a method on D_e + D_s uses unless a grid says otherwise."""
    return SYNTHETIC["variant"]


def _origin(obj: Any) -> str:
    """Where a registration comes from: the builder's module (a plugin file's path)."""
    module = obj if isinstance(obj, str) else getattr(obj, "__module__", "")
    loaded = sys.modules.get(module)
    return getattr(loaded, "__plugin_source__", None) or module


def _is_builtin(origin: str) -> bool:
    return origin == __name__ or origin.startswith(f"{__name__}.")


def _claim(name: str, origin: str) -> None:
    """Refuse a name that a method or generator already has."""
    other = REGISTRY.get(name) or GENERATORS.get(name)
    if other is not None:
        raise ValueError(f"method {name!r} is already registered (by {other.origin})")


def get_method(name: str) -> MethodSpec:
    _load_all()
    try:
        return REGISTRY[name]
    except KeyError:
        raise UserError(f"--methods: unknown method {name!r}; known: "
                        f"{', '.join([*REGISTRY, *GENERATORS])}") from None


def all_methods() -> dict[str, MethodSpec]:
    _load_all()
    return dict(REGISTRY)


def all_generators() -> dict[str, GeneratorSpec]:
    _load_all()
    return dict(GENERATORS)


def _load_all() -> None:
    """Import the modules whose decorators fill the registry: this package's, then the
    installed plugins (entry points, bench/plugins.py). Once per process."""
    import importlib
    import pkgutil

    global _loaded
    if _loaded:
        return
    _loaded = True
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
    from bench.plugins import load_entry_points

    load_entry_points()
