"""ADDES as a library: fit on your own inexactly labeled texts (or images), sample labeled data.

    from addes import ADDESEstimator

    est = ADDESEstimator(embed_dim=64, hidden=64, latent=16, seed=0)
    est.fit(titles, tags, {"targets": ["python"], "relations": {"python": ["django"]}},
            unlabeled=more_titles)
    texts, labels = est.sample(100, labels=["django", "python"])
    est.save("addes.pt"); est = ADDESEstimator.load("addes.pt")

What `fit` takes (Section 3 of the paper):
- inputs of D_l: raw texts (tokenised here by `addes.tokens`, the vocabulary built from D_l and
  D_u), images float32 [n, 1, 32, 100], or `addes.data.Inputs` already encoded (the harness);
- their inexact labels y_s: a binary array [n, |S|], or one collection of class names per input;
- the class graph G: a `ClassGraph`, or a mapping {"targets": [...], "relations": {target:
  [inexact classes]}, "inexact": [...] (optional: else the names met in the labels, sorted)}
  from which Eq. 17 is counted on the given y_s and Eq. 18's links are set;
- `unlabeled`: the inputs of D_u (default: the labeled inputs again, without their labels);
- `val`: an optional (inputs, y_s) pair from the training side; each phase of Algorithm 1
  then keeps its best weights on it (without it, the last epoch's weights).

Training is `addes.train.ADDESGenerator` (Algorithm 1); its settings are the fields of
`addes.train.ADDESConfig`, given as keyword arguments (the paper's sizes by default).
Scikit-learn conventions: `get_params` / `set_params`, fitted attributes end in "_", and using
an unfitted estimator raises sklearn's NotFittedError. `save` writes one .pt file in the
project's no-pickle format (`addes.codec`: a JSON tree plus tensors, read back with torch's
weights_only loader).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.exceptions import NotFittedError

from addes import codec
from addes.data import Inputs
from addes.graph import ClassGraph, prior_links
from addes.tokens import build_vocab, encode
from addes.train import LABEL_STRATEGIES, POSTERIOR_STRATEGIES, ADDESConfig, ADDESGenerator

CONFIG_FIELDS = tuple(f.name for f in dataclasses.fields(ADDESConfig))
STATE_FORMAT = "addes-estimator/1"


class ADDESEstimator:
    """ADDES (Dai et al., KDD 2021) behind fit / sample / save / load; see the module docstring.

    seed: every random draw of training and, by default, of sampling. label_sampling: how
    `sample` draws labels when none are given (`ADDESGenerator.sample_labels`). max_len,
    max_vocab, min_count: tokenisation of raw texts. Other keyword arguments: ADDESConfig fields.
    """

    def __init__(self, *, seed: int = 0, label_sampling: str = "resample", max_len: int = 30,
                 max_vocab: int = 20000, min_count: int = 1, **config: Any):
        unknown = sorted(set(config) - set(CONFIG_FIELDS))
        if unknown:
            raise TypeError(f"ADDESEstimator got unknown parameter(s) {', '.join(unknown)}; "
                            f"ADDESConfig fields are {', '.join(CONFIG_FIELDS)}")
        self.seed, self.label_sampling = seed, label_sampling
        self.max_len, self.max_vocab, self.min_count = max_len, max_vocab, min_count
        self._config = dict(config)

    # ---- scikit-learn conventions ----------------------------------------------------------

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's arguments: the estimator's own and every ADDESConfig field."""
        own = {"seed": self.seed, "label_sampling": self.label_sampling,
               "max_len": self.max_len, "max_vocab": self.max_vocab, "min_count": self.min_count}
        return {**own, **dataclasses.asdict(self.config)}

    def set_params(self, **params: Any) -> ADDESEstimator:
        merged = {**self.get_params(), **params}
        self.__init__(**merged)
        return self

    @property
    def config(self) -> ADDESConfig:
        """The training settings (ADDESConfig; validated when built)."""
        return ADDESConfig(**self._config)

    def __repr__(self) -> str:
        defaults = {**ADDESEstimator().get_params()}
        changed = {k: v for k, v in self.get_params().items() if defaults.get(k) != v}
        return f"ADDESEstimator({', '.join(f'{k}={v!r}' for k, v in changed.items())})"

    def _check_fitted(self) -> None:
        if not hasattr(self, "generator_"):
            raise NotFittedError("this ADDESEstimator is not fitted yet: call fit(inputs, "
                                 "source_labels, graph) first (or ADDESEstimator.load(path))")

    # ---- training --------------------------------------------------------------------------

    def fit(self, X, source_labels, graph: ClassGraph | Mapping[str, Any], *, unlabeled=None,
            val: tuple[Any, Any] | None = None) -> ADDESEstimator:
        """Algorithm 1 on D_l = (X, source_labels) and D_u = unlabeled, over `graph`."""
        if self.label_sampling not in LABEL_STRATEGIES:
            raise ValueError(f"label_sampling must be one of {LABEL_STRATEGIES}, not "
                             f"{self.label_sampling!r}")
        config = self.config
        inexact = graph.inexact if isinstance(graph, ClassGraph) else _inexact_names(
            graph, source_labels)
        y_s = _label_matrix(source_labels, inexact, "source_labels")
        if len(y_s) != len(X):
            raise ValueError(f"{len(X)} inputs but {len(y_s)} rows of source_labels")
        self.graph_ = graph if isinstance(graph, ClassGraph) else graph_from_relations(
            y_s, inexact, graph)
        raw_unlabeled = X if unlabeled is None else unlabeled
        self.vocab_ = self._fit_vocabulary(X, raw_unlabeled)
        labeled, d_u = self._inputs(X), self._inputs(raw_unlabeled)
        val_pair = None
        if val is not None:
            val_pair = (self._inputs(val[0]), _label_matrix(val[1], inexact, "val labels"))
        self.generator_ = ADDESGenerator(config, self.seed).fit(labeled, y_s, d_u, self.graph_,
                                                                val=val_pair)
        self.modality_ = self.generator_.modality_
        self.classes_ = self.graph_.classes
        return self

    def _fit_vocabulary(self, X, unlabeled) -> tuple[str, ...] | None:
        """id -> token for raw texts (from D_l and D_u); the given one for encoded Inputs;
        None for images."""
        if isinstance(X, Inputs):
            return X.vocab
        if _is_images(X):
            return None
        return build_vocab([*_texts(X), *_texts(unlabeled)], self.max_vocab, self.min_count)

    def _inputs(self, X) -> Inputs:
        """X as model inputs: Inputs as they are, images as pixels, texts encoded."""
        if isinstance(X, Inputs):
            return X
        if _is_images(X):
            return Inputs(np.ascontiguousarray(X, dtype=np.float32))
        texts = _texts(X)
        return Inputs(encode(texts, self.vocab_, self.max_len), texts, self.vocab_)

    # ---- use -------------------------------------------------------------------------------

    def sample(self, n: int, labels=None, seed: int | None = None, unlabeled=None):
        """n synthetic labeled examples: (texts as a list of str, or images float32
        [n, 1, H, W]; labels float32 [n, |W]|], S then T as in `classes_`).

        labels: None (drawn by `label_sampling`), one collection of class names for all n, or
        one per example (names or a binary [n, |W|] array). seed: default the estimator's.
        unlabeled: inputs to generate from the posterior of (label_sampling "posterior": z
        and labels from q_E and q_C of these inputs; ignored otherwise).
        """
        inputs, y = self.sample_inputs(n, labels, seed, unlabeled)
        return (list(inputs.texts) if inputs.texts is not None else inputs.x), y

    def sample_inputs(self, n: int, labels=None, seed: int | None = None, unlabeled=None,
                      temperature: float = 1.0) -> tuple[Inputs, np.ndarray]:
        """As `sample`, with the inputs as `Inputs` (token ids and texts; the harness's D_s)."""
        self._check_fitted()
        seed = self.seed if seed is None else seed
        n_s = self.graph_.n_inexact
        z = None
        if labels is None and self.label_sampling in POSTERIOR_STRATEGIES:
            if unlabeled is None:
                raise ValueError(f"label_sampling {self.label_sampling!r} generates from the "
                                 f"posterior of unlabeled inputs: pass unlabeled=...")
            y_s, y_t, z = self.generator_.sample_posterior(self._inputs(unlabeled), n, seed)
        elif labels is None:
            y_s, y_t = self.generator_.sample_labels(n, self.label_sampling, seed=seed)
        else:
            if _is_name_collection(labels):
                labels = [labels] * n
            y = _label_matrix(labels, self.classes_, "labels")
            if len(y) != n:
                raise ValueError(f"sample({n}) got {len(y)} label rows")
            y_s, y_t = y[:, :n_s], y[:, n_s:]
        inputs = self.generator_.generate(y_s, y_t, seed=seed, z=z, temperature=temperature)
        return inputs, np.concatenate([y_s, y_t], axis=1).astype(np.float32)

    def predict_proba(self, X) -> np.ndarray:
        """q_C(y_s, y_t | x, G): float64 [n, |W|], columns as `classes_`."""
        self._check_fitted()
        return self.generator_.predict_proba(self._inputs(X))

    # ---- persistence -----------------------------------------------------------------------

    def save(self, path: str | Path, extra_types: Iterable[type] = ()) -> None:
        """One .pt file (written atomically, no pickle): the parameters, the vocabulary, the
        graph and the weights. extra_types: the classes of a graph other than ClassGraph."""
        self._check_fitted()
        if Path(path).suffix != ".pt":
            raise ValueError(f"{path}: an ADDESEstimator is saved to a .pt file")
        state = {"format": STATE_FORMAT, "params": self.get_params(),
                 "generator": self.generator_.state_dict()}
        codec.save(state, Path(path), (ClassGraph, *extra_types))

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu", extra_types: Iterable[type] = ()
             ) -> ADDESEstimator:
        """The estimator `save` wrote, on `device`."""
        state = codec.read(Path(path), (ClassGraph, *extra_types))
        if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
            raise ValueError(f"{path}: not a saved ADDESEstimator ({STATE_FORMAT})")
        generator = ADDESGenerator.from_state_dict(state["generator"], device)
        return cls.from_generator(generator, **{k: v for k, v in state["params"].items()
                                                if k not in CONFIG_FIELDS})

    @classmethod
    def from_generator(cls, generator: ADDESGenerator, **params: Any) -> ADDESEstimator:
        """An estimator around an already fitted generator (a loaded one, or the harness's
        cached one); `params`: the estimator's own parameters (seed, label_sampling, ...)."""
        params.setdefault("seed", generator.seed)
        est = cls(**params, **dataclasses.asdict(generator.config))
        est.generator_, est.graph_ = generator, generator.graph_
        est.vocab_, est.modality_ = generator.vocab_, generator.modality_
        est.classes_ = generator.graph_.classes
        return est


def graph_from_relations(y_s: np.ndarray, inexact: Sequence[str],
                         graph: Mapping[str, Any]) -> ClassGraph:
    """The ClassGraph of a user's description: Eq. 17 counted on y_s, Eq. 18 from
    graph["relations"] (target -> related inexact classes). A relation naming no inexact class
    or a target left without any link is a ValueError."""
    targets = list(graph.get("targets", ()))
    relations = graph.get("relations", {})
    if not targets:
        raise ValueError('graph: "targets" names no target class')
    unknown = sorted(set(relations) - set(targets))
    if unknown:
        raise ValueError(f'graph: "relations" names {", ".join(unknown)}, not among the targets')
    links, absent = prior_links(inexact, targets, relations)
    if absent:
        raise ValueError(f"graph: relations name classes absent from the inexact labels: "
                         f"{', '.join(absent)}")
    return ClassGraph.from_inexact_labels(y_s, inexact, targets, links)


def _inexact_names(graph: Mapping[str, Any], source_labels) -> tuple[str, ...]:
    """S: graph["inexact"] when given, else the sorted class names met in name labels."""
    if "inexact" in graph:
        return tuple(graph["inexact"])
    if isinstance(source_labels, np.ndarray) or not all(
            _is_name_collection(row) for row in source_labels):
        raise ValueError('graph: give "inexact" (the class names of the label columns) when '
                         "source_labels is a binary matrix")
    return tuple(sorted({name for row in source_labels for name in row}))


def _label_matrix(labels, classes: Sequence[str], what: str) -> np.ndarray:
    """Binary float32 [n, len(classes)] from a binary array or one name collection per row."""
    if isinstance(labels, np.ndarray) and labels.dtype.kind in "biuf":
        if labels.ndim != 2 or labels.shape[1] != len(classes):
            raise ValueError(f"{what}: expected shape [n, {len(classes)}], got {labels.shape}")
        return labels.astype(np.float32)
    index = {name: j for j, name in enumerate(classes)}
    y = np.zeros((len(labels), len(classes)), np.float32)
    for i, row in enumerate(labels):
        if not _is_name_collection(row):
            raise ValueError(f"{what}: row {i} is not a collection of class names")
        for name in row:
            if name not in index:
                raise ValueError(f"{what}: row {i} names {name!r}, not among the classes")
            y[i, index[name]] = 1.0
    return y


def _is_name_collection(x) -> bool:
    return not isinstance(x, str | np.ndarray) and isinstance(x, Iterable) and all(
        isinstance(v, str) for v in x)


def _is_images(X) -> bool:
    return isinstance(X, np.ndarray) and X.dtype.kind == "f"


def _texts(X) -> tuple[str, ...]:
    texts = tuple(X)
    if not all(isinstance(t, str) for t in texts):
        raise TypeError("inputs must be texts (str), images (a float array) or addes Inputs")
    return texts
