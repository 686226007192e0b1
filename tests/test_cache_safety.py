"""Cache files under a shared --out cannot run code when loaded (bench.io, addes.codec).

A pickle planted where a cache is expected, under the name of today's cache or of the joblib
caches of earlier versions, must never run: the loader refuses it and the artifact is rebuilt.
"""

from __future__ import annotations

import pathlib
import pickle
from dataclasses import replace

import numpy as np
import pytest
import torch

from addes import codec
from addes.data import Inputs
from addes.graph import ClassGraph
from bench import artifacts, io
from bench.data.splits import SPLIT_TYPES, Split, load_split
from bench.data.wordgraph import GRAPH_TYPES, WordGraph
from bench.scales import get_scale

SCALE = replace(get_scale("smoke"), n_synthetic=40, synthetic_sweep=(0, 40), addes_embed=8,
                addes_hidden=8, addes_latent=4, max_epochs=1)
PARAMS = {"variant": "ADDES", "alpha": 0.1, "beta": 0.1, "n_synthetic": 40}


class Payload:
    """Unpickling this creates the file `marker`: proof that a loader ran planted code."""

    def __init__(self, marker: pathlib.Path):
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.touch, (self.marker,)


def _plant(path: pathlib.Path, marker: pathlib.Path) -> None:
    path.write_bytes(pickle.dumps(Payload(marker)))


def test_the_payload_runs_under_pickle(tmp_path):
    """The control: the payload of these tests does run when a pickle loader reads it."""
    marker = tmp_path / "ran"
    pickle.loads(pickle.dumps(Payload(marker)))
    assert marker.exists()


def test_planted_pickles_are_not_run_and_the_generator_is_rebuilt(smoke_split, tmp_path):
    """Pickles where the generator and D_s of a job are cached (and under the old joblib
    names): none runs, both are built, and written where the pickles were."""
    cache, marker = tmp_path / "cache", tmp_path / "payload-ran"
    key = artifacts.generator_key(smoke_split, 0, PARAMS, SCALE)
    gen_path = cache / "generators" / f"{smoke_split.dataset}-{key}.pt"
    set_path = cache / "synthetic" / f"{smoke_split.dataset}-{key}-resample-40.npz"
    for path in (gen_path, set_path, gen_path.with_suffix(".joblib"),
                 set_path.with_suffix(".joblib")):
        path.parent.mkdir(parents=True, exist_ok=True)
        _plant(path, marker)
    inputs, labels = artifacts.synthetic_training_set(smoke_split, seed=0, params=PARAMS,
                                                      scale=SCALE, cache_dir=cache)
    assert not marker.exists()  # nothing unpickled the payload
    assert len(inputs) == 40 and labels.shape[0] == 40
    for path in (gen_path, set_path):  # the very paths read were rebuilt (not some other name)
        meta, _ = codec.read_parts(path)
        assert meta["version"] == codec.FORMAT_VERSION


def test_planted_pickle_split_is_not_run_and_the_split_is_rebuilt(tmp_path):
    cache, marker = tmp_path / "cache", tmp_path / "payload-ran"
    split = load_split("stackoverflow-1", get_scale("smoke"), None, cache)
    (path,) = (cache / "splits").glob("*.npz")
    _plant(path, marker)
    again = load_split("stackoverflow-1", get_scale("smoke"), None, cache)
    assert not marker.exists()
    assert np.array_equal(again.labeled.x, split.labeled.x)
    assert again.test.texts == split.test.texts
    codec.read_parts(path)  # the planted file was replaced by a real cache


def test_codec_round_trip_keeps_types_and_bits():
    graph = ClassGraph(("a", "b"), 1, np.eye(2), np.ones((1, 1), bool))
    obj = {"graph": graph, "t": (1, 2.5, "x", None, True), "l": [np.float64(0.1), np.int64(3)],
           "bf16": torch.tensor([1.5, -2.0], dtype=torch.bfloat16),
           "u8": np.arange(3, dtype=np.uint8)}
    meta, arrays = codec.encode(obj, (ClassGraph,))
    back = codec.decode(meta, arrays, (ClassGraph,))
    assert isinstance(back["graph"], ClassGraph) and back["graph"].classes == ("a", "b")
    assert np.array_equal(back["graph"].target_links, graph.target_links)
    assert back["t"] == (1, 2.5, "x", None, True) and isinstance(back["t"], tuple)
    assert type(back["l"][0]) is np.float64 and type(back["l"][1]) is np.int64
    assert back["bf16"].dtype == torch.bfloat16 and back["u8"].dtype == np.uint8
    with pytest.raises(KeyError):  # a type the caller did not allow is never built
        codec.decode(meta, arrays, ())
    for unlisted in ({"f": len}, graph):  # a function; a class the caller did not list
        with pytest.raises(TypeError):
            codec.encode(unlisted)


def test_word_graph_forest_predicts_the_same_after_the_cache(mj_split2, tmp_path):
    """The MJSynth graph's random forest is stored as its trees' arrays, not pickled."""
    path = tmp_path / "split.npz"
    with pytest.raises(TypeError):  # the forest's classes must be named to be stored
        io.atomic_save(mj_split2, path, (Split, Inputs, ClassGraph, WordGraph))
    io.atomic_save(mj_split2, path, SPLIT_TYPES)
    back = io.load_cached(path, None, SPLIT_TYPES)
    assert isinstance(back.graph, WordGraph) and back.graph.forest is not mj_split2.graph.forest
    state = {"graph": mj_split2.graph, "model": {"w": torch.randn(3, dtype=torch.bfloat16)}}
    io.atomic_save(state, tmp_path / "generator.pt", GRAPH_TYPES)  # an image generator's state
    state_back = io.load_cached(tmp_path / "generator.pt", None, GRAPH_TYPES)
    assert torch.equal(state_back["model"]["w"], state["model"]["w"])
    y_s = np.random.default_rng(0).integers(0, 2, (300, back.graph.n_inexact)).astype(np.float32)
    for rows in (mj_split2.y_s, y_s):
        expected = mj_split2.graph.target_probabilities(rows)
        assert np.array_equal(back.graph.target_probabilities(rows), expected)
        assert np.array_equal(state_back["graph"].target_probabilities(rows), expected)


@pytest.mark.parametrize("suffix", [".npz", ".pt"])
def test_saved_cache_loads_back_and_a_torn_one_is_rebuilt(suffix, tmp_path, smoke_split):
    path = tmp_path / f"split{suffix}"
    io.atomic_save(smoke_split, path, SPLIT_TYPES)
    back = io.load_cached(path, lambda s: isinstance(s, Split), SPLIT_TYPES)
    assert np.array_equal(back.y_s, smoke_split.y_s)
    assert back.graph.classes == smoke_split.graph.classes
    assert np.array_equal(back.oracle_target_labels("labeled"),
                          smoke_split.oracle_target_labels("labeled"))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 10])  # torn at the end
    assert io.load_cached(path, None, SPLIT_TYPES) is None and not path.exists()


def test_no_file_is_loaded_by_a_pickle_loader():
    """Only addes/codec.py reads stored files, with torch.load(weights_only=True) and
    np.load(allow_pickle=False); no module unpickles a file."""
    import re

    root = pathlib.Path(__file__).resolve().parents[1]
    loaders = re.compile(r"joblib\.load\(|pickle\.loads?\(|torch\.load\(|np\.load\(|"
                         r"numpy\.load\(|pd\.read_pickle\(")
    offenders = [f"{path.relative_to(root)}:{n}: {line.strip()}"
                 for folder in ("bench", "addes", "baselines")
                 for path in (root / folder).rglob("*.py") if path != root / "addes" / "codec.py"
                 for n, line in enumerate(path.read_text().splitlines(), 1)
                 if loaders.search(line)]
    assert not offenders, "\n".join(offenders)
    text = (root / "addes" / "codec.py").read_text()
    torch_loads = re.findall(r"torch\.load\([^)]*\)", text)
    np_loads = re.findall(r"np\.load\([^)]*\)", text)
    assert torch_loads and all("weights_only=True" in call for call in torch_loads)
    assert np_loads and all("allow_pickle=False" in call for call in np_loads)
    assert not re.search(r"joblib|pickle\.", text)
