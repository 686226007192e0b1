"""--device and --dtype: bf16 autocast reaches the models, keys fp32 and bf16 apart, and asking
for a GPU that is not there is a user error."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from baselines.sdann import SDANN
from baselines.training import TrainConfig, autocast
from bench.cli import main, resolve_device
from bench.errors import UserError
from bench.runner import Job, RunContext, job_key, with_estimated_targets
from bench.scales import get_scale

SCALE = get_scale("smoke")


def test_autocast_is_a_no_op_for_fp32_and_bf16_for_bf16():
    layer = torch.nn.Linear(4, 3)
    x = torch.randn(2, 4)
    with autocast("cpu", "fp32"):
        assert layer(x).dtype == torch.float32
    with autocast("cpu", "bf16"):
        assert layer(x).dtype == torch.bfloat16
    with pytest.raises(ValueError, match="dtype"):
        autocast("cpu", "fp16")


def _sdann_scores(split, dtype: str) -> np.ndarray:
    y = with_estimated_targets(split, split.y_s)
    config = TrainConfig(max_epochs=2, patience=5, dtype=dtype)
    model = SDANN(0.0625, config, seed=0).fit(split.labeled, y, graph=split.graph)
    return model.predict_proba(split.test)


def test_bf16_training_changes_the_numbers_but_not_the_ranking(mj_split):
    fp32, bf16 = _sdann_scores(mj_split, "fp32"), _sdann_scores(mj_split, "bf16")
    assert bf16.dtype == np.float64 and np.isfinite(bf16).all()
    assert not np.array_equal(fp32, bf16)  # the flag really reached the forward passes
    assert np.corrcoef(fp32.ravel(), bf16.ravel())[0, 1] > 0.9


def test_bf16_jobs_have_their_own_keys_and_fp32_keys_are_unchanged(tmp_path):
    job = Job("stackoverflow-1", "text-CNN", 0)
    plain = RunContext("stackoverflow", SCALE, tmp_path, tmp_path / "cache")
    fp32 = RunContext("stackoverflow", SCALE, tmp_path, tmp_path / "cache", dtype="fp32",
                      device="cuda")
    bf16 = RunContext("stackoverflow", SCALE, tmp_path, tmp_path / "cache", dtype="bf16")
    assert job_key(job, plain) == job_key(job, fp32)  # the device does not change a key
    assert job_key(job, plain) != job_key(job, bf16)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_a_user_error(capsys):
    assert resolve_device("auto") == "cpu"
    with pytest.raises(UserError, match="no CUDA GPU"):
        resolve_device("cuda")
    assert main(["--suite", "stackoverflow", "--scale", "smoke", "--device", "cuda"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "--device cuda" in err[0], err
