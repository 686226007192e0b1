"""No label leaks: hiding other labels changes no prediction of a non-oracle method.

Parametrised over the registry, so every method that registers is checked. Each method is
fitted as a job fits it (`runner.fit_method`) twice: on the split, and on a copy whose hidden
training-side target labels are shuffled and 30% flipped (so each target's prevalence changes
too: a leak of label frequencies alone is seen) and whose test labels are permuted. The second
fit gets an empty cache of its own, so nothing trained on the honest labels (a generator, a
D_s) can be reloaded. The per-row test predictions must be bit-identical (the README promises
unchanged predictions, not just unchanged metrics).

Positive control: AugCNN fed by ADDES-W, the one variant allowed to read the hidden labels,
MUST change, which shows that the harness sees a leak that travels through the caches.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bench.data.splits import Split
from bench.experiments import resolve_params
from bench.methods import all_methods, get_method
from bench.runner import RunContext, fit_method
from bench.scales import get_scale

SCALE = get_scale("smoke")


CASES = [(m, modality) for m, spec in sorted(all_methods().items())
         for modality in spec.modalities]
SPLITS = {"text": ("stackoverflow", "smoke_split"), "image": ("mjsynth", "mj_split")}


def hidden_labels_changed(split: Split) -> Split:
    """The split with its hidden training-side target labels scrambled and flipped and its
    test labels permuted: everything a method must not read, changed; its inputs unchanged."""
    scrambled = split.with_scrambled_oracle(seed=3)
    for part in ("labeled", "val"):
        before, after = split.oracle_target_labels(part), scrambled.oracle_target_labels(part)
        assert not np.array_equal(before.mean(axis=0), after.mean(axis=0)), part  # prevalence
    order = np.random.default_rng(5).permutation(len(split.test_y_t))
    assert not np.array_equal(split.test_y_t[order], split.test_y_t)
    return replace(scrambled, test_y_t=split.test_y_t[order])


def predictions(method: str, params: dict, split: Split, suite: str, cache) -> np.ndarray:
    """Per-row test predictions of a method fitted (seed 0) as a job fits it."""
    ctx = RunContext(suite, SCALE, cache.parent / "run", cache)
    estimator, _ = fit_method(split, get_method(method), params, 0, ctx)
    return estimator.predict_proba(split.test)


@pytest.fixture(scope="module")
def changed(request, tmp_path_factory) -> dict[str, tuple[Split, Path]]:
    """Per modality: the split with its hidden labels changed, and an empty cache for the
    fits on it (one per module: the augmented methods share the generator trained there)."""
    return {modality: (hidden_labels_changed(request.getfixturevalue(fixture)),
                       tmp_path_factory.mktemp(f"changed-{modality}-cache"))
            for modality, (_, fixture) in SPLITS.items()}


@pytest.mark.parametrize(("method", "modality"), CASES)
def test_hidden_labels_change_no_prediction(method, modality, request, changed, cache_dir):
    suite, fixture = SPLITS[modality]
    split = request.getfixturevalue(fixture)
    params = dict(resolve_params(method, {}, SCALE, modality))
    other_split, other_cache = changed[modality]
    honest = predictions(method, params, split, suite, cache_dir)
    other = predictions(method, params, other_split, suite, other_cache)
    assert np.array_equal(honest, other), (
        f"{method}: {int((honest != other).sum())} of {honest.size} test predictions changed "
        f"with the hidden labels (max |diff| {np.abs(honest - other).max():.3g})")


def test_positive_control_the_oracle_variant_changes(smoke_split, changed, tmp_path):
    params = dict(resolve_params("AugCNN", {"variant": "ADDES-W"}, SCALE, "text"))
    honest = predictions("AugCNN", params, smoke_split, "stackoverflow", tmp_path / "cache")
    other = predictions("AugCNN", params, changed["text"][0], "stackoverflow",
                        changed["text"][1])
    assert not np.array_equal(honest, other)
