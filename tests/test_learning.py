"""Every registered method learns: on an easy toy split it clearly beats chance.

The shape, range and determinism checks of tests/test_registry.py pass for a method that
returns a constant; this one does not. The toy keeps the smoke split's class graph and draws
label rows from its D_l; a target's label is Eq. 19's estimate from the inexact labels (so D_e's
targets are right), and every class that is on is carried by the input:
  text   each inexact class has a word of its own in the title when on, each target one word
         for on and one for off, among random filler words (fixed length);
  image  each class has a block of its own, lit in its upper half when the class is on and in
         its lower half when off, over pixel noise.
Each method is fitted as a job fits it (`runner.fit_method`, smoke scale, seed 0) and scored on
the toy's test part. Parametrised over the registry.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from addes.data import Inputs
from bench.data.splits import Split
from bench.experiments import resolve_params
from bench.methods import all_methods, get_method
from bench.metrics import evaluate
from bench.runner import RunContext, fit_method
from bench.scales import get_scale

# smoke, with more epochs for text (a text epoch of the toy costs little); image as smoke.
# The toy's truth is Eq. 19's / the forest's 0/1 estimate, so D_e is trained on exactly that
# ("hard"); the MJSynth default, the forest's probabilities ("soft"), is a different target
# that ranks the same rows alike but trains weaker at smoke epochs (ML-GCN image AUC 0.61,
# AugCNN 0.74 on this toy); it has its own tests in tests/test_label_estimate.py.
SCALE = replace(get_scale("smoke"), max_epochs=10, patience=3, mj_target_estimate="hard")
SIZES = {"text": {"labeled": 160, "unlabeled": 160, "val": 80, "test": 200},
         "image": {"labeled": 96, "unlabeled": 64, "val": 48, "test": 120}}
MIN_AUC = 0.75  # chance is 0.5; the methods that learn reach 0.85-1.0 here
TITLE_LENGTH = 8
N_FILLERS = 20  # few: a filler word cannot single out a title to memorise


def _toy_labels(split: Split, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    y_s = split.y_s[rng.integers(0, len(split.y_s), n)]
    y_s = y_s[y_s.sum(axis=1) < TITLE_LENGTH - 2]  # room for every word of a title
    return y_s, split.estimated_targets(y_s).astype(np.float32)


def _toy_text(split: Split, y: np.ndarray, rng: np.random.Generator) -> Inputs:
    """Titles of TITLE_LENGTH words, shuffled: the word of each inexact class that is on, the
    "on" or the "off" word of each target, and filler words up to the length (titles are
    as long as the split's, so no model truncates them)."""
    vocab = split.labeled.vocab
    n_s = split.graph.n_inexact
    on_words = 4 + np.arange(y.shape[1])
    off_words = 4 + y.shape[1] + np.arange(y.shape[1] - n_s)  # targets only
    fillers = 4 + len(on_words) + len(off_words) + np.arange(N_FILLERS)
    x = np.zeros((len(y), TITLE_LENGTH), np.int64)
    for i, row in enumerate(y):
        words = np.concatenate([on_words[:n_s][row[:n_s] > 0.5],
                                np.where(row[n_s:] > 0.5, on_words[n_s:], off_words)])
        words = np.concatenate([words, rng.choice(fillers, TITLE_LENGTH - len(words))])
        x[i] = rng.permutation(words)
    texts = tuple(" ".join(vocab[t] for t in ids) for ids in x)
    return Inputs(x, texts, vocab)


def _toy_images(y: np.ndarray, rng: np.random.Generator) -> Inputs:
    """32 x 100 images over pixel noise: class c owns block c of a 2 x 13 grid of 16 x 7
    blocks and lights its upper half when on, its lower half when off (every image is
    equally bright: only where the light is says which labels hold)."""
    x = rng.normal(0.3, 0.1, (len(y), 1, 32, 100)).astype(np.float32)
    for c in range(y.shape[1]):
        row, col = divmod(c, 13)
        top = 16 * row + np.where(y[:, c] > 0.5, 0, 8)
        for i in range(len(y)):
            x[i, 0, top[i] : top[i] + 8, 7 * col : 7 * col + 7] += 0.5
    return Inputs(np.clip(x, 0.0, 1.0))


def toy_split(split: Split, seed: int = 0) -> Split:
    """An easy split with `split`'s classes and graph (see the module docstring)."""
    rng = np.random.default_rng(seed)
    parts, hidden = {}, {}
    for part, n in SIZES[split.modality].items():
        y_s, y_t = _toy_labels(split, n, rng)
        y = np.concatenate([y_s, y_t], axis=1)
        inputs = _toy_text(split, y, rng) if split.modality == "text" else _toy_images(y, rng)
        parts[part] = (inputs, y_s, y_t)
        hidden[part] = y_t
    assert 0 < parts["test"][2].mean() < 1
    return replace(split, scale="toy", labeled=parts["labeled"][0], y_s=parts["labeled"][1],
                   unlabeled=parts["unlabeled"][0], val=parts["val"][0],
                   val_y_s=parts["val"][1], test=parts["test"][0], test_y_t=parts["test"][2],
                   _hidden_y_t={k: hidden[k] for k in ("labeled", "unlabeled", "val")})


@pytest.fixture(scope="module")
def toys(smoke_split, mj_split) -> dict[str, Split]:
    return {"text": toy_split(smoke_split), "image": toy_split(mj_split)}


@pytest.fixture(scope="module")
def toy_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("toy-cache")  # the augmented methods share one generator


# Methods measured NOT to learn the toy, as (method, modality): strict xfail, so a fix makes the
# test fail until the marker goes. At ae937ed ML-GCN (text 0.45 / image 0.56), AugGCN (0.62 /
# 0.42) and Zero-shot (0.56 / 0.36) were here; ML-GCN (text and image) and Zero-shot (text:
# 0.84) left with the prior-odds start of their logits and Zero-shot's weights-only regression
# (issue 14); AugGCN (text: 0.99) left once it became the same estimator as ML-GCN. Zero-shot
# is also the slowest here (slow: a fit costs the rest of the file).
NOT_LEARNING = {
    ("AugGCN", "image"): "AugGCN (ML-GCN on D_e + D_s) does not learn the easy toy",
    ("Zero-shot", "image"): "Zero-shot does not learn the easy toy (AUC <= 0.56)",
    ("NoisyOR-CNN", "image"): "noisy-OR over smoke-width SDANN source classifiers: AUC 0.70",
}
SLOW = {"Zero-shot"}


def _case(method: str, modality: str):
    marks = []
    if (method, modality) in NOT_LEARNING:
        marks.append(pytest.mark.xfail(reason=NOT_LEARNING[method, modality], strict=True))
    if method in SLOW:
        marks.append(pytest.mark.slow)
    return pytest.param(method, modality, marks=marks)


CASES = [_case(m, modality) for m, spec in sorted(all_methods().items())
         for modality in spec.modalities]


@pytest.mark.parametrize(("method", "modality"), CASES)
def test_method_beats_chance_on_an_easy_toy(method, modality, toys, toy_cache):
    split = toys[modality]
    suite = "mjsynth" if modality == "image" else "stackoverflow"
    params = dict(resolve_params(method, {}, SCALE, modality))
    ctx = RunContext(suite, SCALE, toy_cache.parent / "run", toy_cache)
    estimator, _ = fit_method(split, get_method(method), params, 0, ctx)
    scores = evaluate(split.test_y_t, estimator.predict_proba(split.test), split.targets)
    print(f"{method} ({modality}): {scores}")
    assert scores["AUC"] >= MIN_AUC, scores
