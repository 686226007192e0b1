"""No label leaks: scrambling the hidden training target labels changes no non-oracle method.

Parametrised over the registry, so every method that registers is checked. The oracle
variant (ADDES-W) is the one place allowed to read the hidden labels.
"""

from __future__ import annotations

import pytest

from bench.experiments import resolve_params
from bench.methods import all_methods
from bench.runner import Job, RunContext, run_job
from bench.scales import get_scale

SCALE = get_scale("smoke")


CASES = [(m, modality) for m, spec in sorted(all_methods().items())
         for modality in spec.modalities]
SPLITS = {"text": ("stackoverflow", "stackoverflow-1", "smoke_split"),
          "image": ("mjsynth", "mjsynth-1", "mj_split")}


@pytest.mark.parametrize(("method", "modality"), CASES)
def test_scrambled_oracle_labels_change_no_prediction(method, modality, request, tmp_path,
                                                      cache_dir):
    suite, dataset, fixture = SPLITS[modality]
    split = request.getfixturevalue(fixture)
    ctx = RunContext(suite, SCALE, tmp_path / "run", cache_dir)
    job = Job(dataset, method, 0, resolve_params(method, {}, SCALE, modality))
    honest = run_job(job, ctx, split=split)
    scrambled = run_job(job, ctx, split=split.with_scrambled_oracle(seed=3))
    assert honest["status"] == "ok", honest["error"]
    assert honest["metrics"] == scrambled["metrics"]
