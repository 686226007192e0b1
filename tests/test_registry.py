"""timm-style checks over the registry: every registered method gets them for free.

At smoke scale on the stand-in, each method fits, predicts probabilities in [0, 1] of shape
(n, |T|) on both datasets of each suite whose modality it serves (text: StackOverflow-1/-2;
image: MJSynth-1/-2), and gives identical results for the same seed.
"""

from __future__ import annotations

import numpy as np
import pytest

from baselines.training import TrainConfig
from bench.experiments import resolve_params
from bench.methods import MethodContext, all_methods
from bench.runner import RunContext, training_data, with_estimated_targets
from bench.scales import get_scale

SCALE = get_scale("smoke")


DATASETS = {"text": ("smoke_split", "smoke_split2"), "image": ("mj_split", "mj_split2")}
CASES = [(m, d) for m, spec in sorted(all_methods().items()) for modality in spec.modalities
         for d in DATASETS[modality]]


def _predict(method, split, cache_dir, tmp_path, seed=0):
    spec = all_methods()[method]
    params = dict(resolve_params(method, {}, SCALE, split.modality))
    suite = "mjsynth" if split.modality == "image" else "stackoverflow"
    ctx = RunContext(suite, SCALE, tmp_path, cache_dir)
    x, y = training_data(split, spec, params, seed, ctx)
    est = spec.build(MethodContext(SCALE, seed, split.modality, len(split.labeled.vocab or ()),
                                   TrainConfig(max_epochs=2, patience=1), params))
    est.fit(x, y, graph=split.graph, unlabeled=split.unlabeled if spec.uses_unlabeled else None,
            val=(split.val, with_estimated_targets(split, split.val_y_s)))
    return est.predict_proba(split.test)


@pytest.mark.parametrize(("method", "dataset"), CASES)
def test_method_contract(method, dataset, request, cache_dir, tmp_path):
    split = request.getfixturevalue(dataset)
    proba = _predict(method, split, cache_dir, tmp_path)
    assert proba.shape == (len(split.test), len(split.targets))
    assert np.isfinite(proba).all() and (proba >= 0).all() and (proba <= 1).all()
    np.testing.assert_array_equal(proba, _predict(method, split, cache_dir, tmp_path))


def test_registry_lists_the_paper_methods_and_the_extras():
    methods = all_methods()
    paper = {"text-CNN", "GRU", "ML-GCN", "Semi-CNN", "Zero-shot", "AugCNN", "AugGCN", "SDANN"}
    assert paper <= set(methods)
    image = {m for m, spec in methods.items() if "image" in spec.modalities}
    assert image == {"SDANN", "ML-GCN", "Semi-CNN", "Zero-shot", "AugCNN", "AugGCN",
                     "NoisyOR-CNN"}
    assert {m for m, spec in methods.items() if not spec.in_paper} == {
        "TF-IDF+LR", "AugLR", "NoisyOR-CNN", "NoisyOR-LR"}


@pytest.mark.parametrize(("method", "modality"), [("SDANN", "text"), ("text-CNN", "image"),
                                                  ("GRU", "image"), ("TF-IDF+LR", "image")])
def test_single_modality_methods_refuse_the_other_one(method, modality):
    ctx = MethodContext(SCALE, 0, modality, 10, TrainConfig(), {})
    with pytest.raises(ValueError, match="method"):
        all_methods()[method].build(ctx)
