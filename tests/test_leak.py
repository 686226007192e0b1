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

Predictions alone miss a leak into model selection: at smoke scale early stopping rarely
triggers, so validation targets (or a test part swapped in for validation) may not change a
single prediction. `test_fit_gets_validation_data_with_estimated_targets_only` therefore
checks what the runner hands to `fit` itself.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bench.data.splits import Split
from bench.experiments import resolve_params
from bench.methods import all_methods, get_method
from bench.runner import RunContext, fit_method, with_estimated_targets
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


class _Recorder:
    """An estimator that keeps what `fit` was given (and trains nothing)."""

    def fit(self, x, y, *, graph, unlabeled=None, val=None):
        self.seen = {"x": x.x, "y": y, "unlabeled": unlabeled.x, "val_x": val[0].x,
                     "val_y": val[1]}
        self.val = val
        return self


class _Sealed:
    """Stands in for the test part while a method is fitted: any use of it fails."""

    def __getattr__(self, name):
        raise AssertionError(f"fitting used the test part ({name})")

    def __len__(self):
        raise AssertionError("fitting used the test part (len)")

    def __array__(self, *args, **kwargs):
        raise AssertionError("fitting used the test part (as an array)")


@pytest.mark.parametrize("modality", ["text", "image"])
def test_fit_gets_validation_data_with_estimated_targets_only(modality, request):
    """Guards "methods never see target labels of training data" and "model selection uses
    validation data, never the test set" at the runner, where predictions may not show it:
    fitting with the test part sealed must not touch it; the validation pair handed to `fit`
    is the split's validation part with Eq. 19 targets; and nothing handed to `fit` (D_e, D_u,
    validation) changes when the hidden labels and the test labels change."""
    split = request.getfixturevalue(SPLITS[modality][1])
    spec = replace(get_method("Semi-CNN"), build=lambda ctx: _Recorder())  # gets D_u too
    params = dict(resolve_params("Semi-CNN", {}, SCALE, modality))
    recorders = []
    for variant in (split, hidden_labels_changed(split)):
        sealed = replace(variant, test=_Sealed(), test_y_t=_Sealed())
        ctx = RunContext(SPLITS[modality][0], SCALE, Path("unused-run"), Path("unused-cache"))
        recorders.append(fit_method(sealed, spec, params, 0, ctx)[0])
    honest, other = (r.seen for r in recorders)
    assert recorders[0].val[0] is split.val
    expected = with_estimated_targets(split, split.val_y_s, params.get("target_estimate",
                                                                       "hard"))
    assert np.array_equal(honest["val_y"], expected)
    for name, value in honest.items():
        assert np.array_equal(value, other[name]), f"{name} follows the hidden labels"
