"""Shared fixtures: a tiny stand-in split, built once per session in a temporary cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from bench.data.splits import load_split
from bench.scales import get_scale

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

torch.set_num_threads(1)
os.environ.setdefault("PYTHONHASHSEED", "0")


def shared(*parts: str) -> Path:
    """A path under ../shared/data, or skip the test when the samples are absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not present (the ../shared samples are optional)")
    return path


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session")
def smoke_split(cache_dir):
    return load_split("stackoverflow-1", get_scale("smoke"), None, cache_dir)


@pytest.fixture(scope="session")
def smoke_split2(cache_dir):
    return load_split("stackoverflow-2", get_scale("smoke"), None, cache_dir)


@pytest.fixture(scope="session")
def mj_split(cache_dir):
    """MJSynth-1 (T = {e}) at smoke scale on the built-in renderer."""
    return load_split("mjsynth-1", get_scale("smoke"), None, cache_dir)


@pytest.fixture(scope="session")
def mj_split2(cache_dir):
    """MJSynth-2 (T = {a, c, e}) at smoke scale on the built-in renderer."""
    return load_split("mjsynth-2", get_scale("smoke"), None, cache_dir)
