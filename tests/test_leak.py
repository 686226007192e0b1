"""No label leaks: scrambling the hidden training target labels changes no non-oracle method.

Parametrised over the registry, so every method that registers is checked. The oracle
variant (ADDES-W) is the one place allowed to read the hidden labels.
"""

from __future__ import annotations

import numpy as np
import pytest

from bench.methods import all_methods
from bench.runner import Job, RunContext, run_job
from bench.experiments import resolve_params
from bench.scales import get_scale

SCALE = get_scale("smoke")


@pytest.mark.parametrize("method", sorted(all_methods()))
def test_scrambled_oracle_labels_change_no_prediction(method, smoke_split, tmp_path, cache_dir):
    ctx = RunContext("stackoverflow", SCALE, tmp_path / "run", cache_dir)
    job = Job("stackoverflow-1", method, 0, resolve_params(method, {}, SCALE))
    honest = run_job(job, ctx, split=smoke_split)
    scrambled = run_job(job, ctx, split=smoke_split.with_scrambled_oracle(seed=3))
    assert honest["status"] == "ok", honest["error"]
    assert honest["metrics"] == scrambled["metrics"]
