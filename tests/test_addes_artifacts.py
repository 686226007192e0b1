"""bench/artifacts.py: one generator per key, nested cached D_s, determinism, oracle use."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from addes.train import ADDESGenerator
from bench import artifacts
from bench.methods import get_method
from bench.scales import get_scale

SCALE = replace(get_scale("smoke"), addes_embed=8, addes_hidden=8, addes_latent=4,
                n_synthetic=40, synthetic_sweep=(0, 20, 40))
PARAMS = {"variant": "ADDES", "alpha": 0.1, "beta": 0.1, "n_synthetic": 20}


def test_same_seed_same_synthetic_set(smoke_split, tmp_path):
    a = artifacts.synthetic_training_set(smoke_split, seed=3, params=PARAMS, scale=SCALE,
                                         cache_dir=tmp_path / "a")
    b = artifacts.synthetic_training_set(smoke_split, seed=3, params=PARAMS, scale=SCALE,
                                         cache_dir=tmp_path / "b")
    assert a[0].x.shape == (20, smoke_split.labeled.x.shape[1])
    assert a[1].shape == (20, len(smoke_split.graph.classes))
    np.testing.assert_array_equal(a[0].x, b[0].x)
    np.testing.assert_array_equal(a[1], b[1])
    assert a[0].texts == b[0].texts and a[0].vocab == smoke_split.labeled.vocab


def test_generator_and_synthetic_set_are_reused(smoke_split, tmp_path, monkeypatch):
    small = artifacts.synthetic_training_set(smoke_split, seed=0, params=PARAMS, scale=SCALE,
                                             cache_dir=tmp_path)

    def no_training(*args, **kwargs):
        raise AssertionError("a cached generator was trained again")

    monkeypatch.setattr(ADDESGenerator, "fit", no_training)
    full = artifacts.synthetic_training_set(smoke_split, seed=0,
                                            params={**PARAMS, "n_synthetic": None},
                                            scale=SCALE, cache_dir=tmp_path)
    assert len(full[0]) == SCALE.n_synthetic
    np.testing.assert_array_equal(full[0].x[:20], small[0].x)  # nested sizes
    other = artifacts.synthetic_training_set(smoke_split, seed=0,
                                             params={**PARAMS, "label_sampling": "prior"},
                                             scale=SCALE, cache_dir=tmp_path)
    assert len(other[0]) == 20  # a new D_s from the cached generator
    posterior = artifacts.synthetic_training_set(
        smoke_split, seed=0, params={**PARAMS, "label_sampling": "posterior"}, scale=SCALE,
        cache_dir=tmp_path)  # z and labels from q_E and q_C of D_u rows
    assert len(posterior[0]) == 20 and set(np.unique(posterior[1])) <= {0.0, 1.0}
    examples = artifacts.generated_examples(smoke_split, seed=0, params=PARAMS, scale=SCALE,
                                            cache_dir=tmp_path, n_per_setting=3)
    targets = smoke_split.graph.targets
    assert len(examples) == 6 * len(targets)
    assert [e["target_on"] for e in examples[:6]] == [True, False] * 3
    for on, off in zip(examples[::2], examples[1::2], strict=True):  # one pair: t on, t off
        assert on["target"] == off["target"] and on["pair"] == off["pair"]
        assert on["target"] in on["inputs_labels"] and on["target"] not in off["inputs_labels"]
        assert set(on["inputs_labels"]) - {on["target"]} == set(off["inputs_labels"])
    assert [e["target"] for e in examples[::6]] == list(targets)
    assert all(isinstance(e["text"], str) and 0 <= e["judge"] <= 1 for e in examples)
    assert len(list((tmp_path / "generators").glob("*.pt"))) == 1


def test_only_addes_w_reads_the_oracle(smoke_split, tmp_path):
    scrambled = smoke_split.with_scrambled_oracle(seed=1)
    for variant, expect_change in (("ADDES", False), ("ADDES-W", True)):
        params = {**PARAMS, "variant": variant}
        g1 = artifacts._training_graph(smoke_split, variant)
        g2 = artifacts._training_graph(scrambled, variant)
        assert (not np.array_equal(g1.adjacency, g2.adjacency)) == expect_change, variant
        assert artifacts.addes_config(params, SCALE).classifier == "gcn"
    assert artifacts.addes_config({"variant": "ADDES-CNN"}, SCALE).classifier == "mlp"
    with pytest.raises(ValueError):
        artifacts.addes_config({"variant": "ADDES-X"}, SCALE)


def test_augcnn_is_registered():
    spec = get_method("AugCNN")
    assert spec.training_set == "D_e+D_s"
    assert spec.default_params == {"variant": "ADDES", "alpha": 0.1, "beta": 0.1,
                                   "n_synthetic": None, "label_sampling": "resample"}


def test_tied_strategy_labels_targets_like_D_e_and_q_C_relabel_is_soft(smoke_split, cache_dir):
    from bench.artifacts import synthetic_training_set, trained_generator
    from bench.scales import get_scale

    scale = get_scale("smoke")
    params = {"variant": "ADDES", "alpha": 0.1, "beta": 0.1, "n_synthetic": 50}
    gen = trained_generator(smoke_split, seed=0, params=params, scale=scale, cache_dir=cache_dir)
    y_s, y_t = gen.sample_labels(40, "tied", seed=0)
    np.testing.assert_array_equal(y_t, smoke_split.estimated_targets(y_s))
    _, labels = synthetic_training_set(smoke_split, seed=0,
                                       params={**params, "target_labels": "q_C"},
                                       scale=scale, cache_dir=cache_dir)
    y_t_qc = labels[:, smoke_split.graph.n_inexact:]
    assert ((y_t_qc > 0) & (y_t_qc < 1)).any()


def test_sampling_temperature_makes_its_own_synthetic_set(smoke_split, tmp_path, monkeypatch):
    """A D_s sampled at another temperature is a new cache entry drawn from the same cached
    generator (same labels, other titles), and its path keeps the default's name unchanged."""
    default = artifacts.synthetic_training_set(smoke_split, seed=0, params=PARAMS, scale=SCALE,
                                               cache_dir=tmp_path)
    names = {p.name for p in (tmp_path / "synthetic").glob("*.npz")}
    monkeypatch.setattr(ADDESGenerator, "fit", lambda *a, **k: pytest.fail("retrained"))
    cold = artifacts.synthetic_training_set(smoke_split, seed=0,
                                            params={**PARAMS, "temperature": 0.2},
                                            scale=SCALE, cache_dir=tmp_path)
    new = {p.name for p in (tmp_path / "synthetic").glob("*.npz")} - names
    assert len(new) == 1 and "-T0.2-" in new.pop()
    np.testing.assert_array_equal(default[1], cold[1])
    assert not np.array_equal(default[0].x, cold[0].x)
    for bad in (0, -1.0):
        with pytest.raises(ValueError, match="temperature"):
            artifacts.synthetic_set_id({**PARAMS, "temperature": bad})
    assert artifacts.synthetic_set_id(PARAMS) == ("resample", "assigned", 1.0)


def test_shuffled_labels_control_keeps_titles_and_label_rows_but_not_their_pairing(
        smoke_split, tmp_path):
    """target_labels="shuffled" (a control): the same titles and the same multiset of label
    rows as the assigned D_s, paired differently."""
    assigned = artifacts.synthetic_training_set(smoke_split, seed=0, params=PARAMS, scale=SCALE,
                                                cache_dir=tmp_path)
    shuffled = artifacts.synthetic_training_set(smoke_split, seed=0,
                                                params={**PARAMS, "target_labels": "shuffled"},
                                                scale=SCALE, cache_dir=tmp_path)
    np.testing.assert_array_equal(assigned[0].x, shuffled[0].x)
    full = [artifacts.synthetic_training_set(smoke_split, seed=0, params={**p, "n_synthetic": 40},
                                             scale=SCALE, cache_dir=tmp_path)[1]
            for p in (PARAMS, {**PARAMS, "target_labels": "shuffled"})]
    assert sorted(map(tuple, full[0])) == sorted(map(tuple, full[1]))
    assert not np.array_equal(full[0], full[1])
    with pytest.raises(ValueError, match="target_labels"):
        artifacts.synthetic_set_id({"target_labels": "random"})


def test_lower_temperature_draws_more_typical_titles(smoke_split, tmp_path):
    """generate(temperature=T) samples softmax(logits / T): near T = 0 the titles use fewer
    distinct words than the decoder's own draw (T = 1, the default)."""
    gen = artifacts.trained_generator(smoke_split, seed=0, params=PARAMS, scale=SCALE,
                                      cache_dir=tmp_path)
    y_s, y_t = gen.sample_labels(200, "resample", seed=1)
    z = gen.sample_z(200, seed=1)
    default = gen.generate(y_s, y_t, seed=1, z=z)
    np.testing.assert_array_equal(default.x, gen.generate(y_s, y_t, seed=1, z=z,
                                                          temperature=1.0).x)
    distinct = [len(np.unique(gen.generate(y_s, y_t, seed=1, z=z, temperature=t).x))
                for t in (1.0, 0.05)]
    assert distinct[1] < distinct[0]
    with pytest.raises(ValueError, match="temperature"):
        gen.generate(y_s, y_t, temperature=0.0)


def test_addes_tied_reuses_the_published_generator_and_ties_its_target_labels(
        smoke_split, tmp_path, monkeypatch):
    published = artifacts.synthetic_training_set(smoke_split, seed=0, params=PARAMS,
                                                 scale=SCALE, cache_dir=tmp_path)
    tied_params = {**PARAMS, "variant": "ADDES-tied", "label_sampling": "tied"}
    assert (artifacts.generator_key(smoke_split, 0, tied_params, SCALE)
            == artifacts.generator_key(smoke_split, 0, PARAMS, SCALE))
    monkeypatch.setattr(ADDESGenerator, "fit", lambda *a, **k: pytest.fail("retrained"))
    inputs, labels = artifacts.synthetic_training_set(smoke_split, seed=0, params=tied_params,
                                                      scale=SCALE, cache_dir=tmp_path)
    n_s = smoke_split.graph.n_inexact
    np.testing.assert_array_equal(labels[:, n_s:], smoke_split.estimated_targets(labels[:, :n_s]))
    assert not np.array_equal(labels, published[1])


def test_generator_key_changes_with_what_trains_the_generator(smoke_split, smoke_split2):
    """Guards "finished work is reused only for the same config" for the shared generators:
    the key changes with the seed, the variant (ADDES-W reads the hidden labels, ADDES-CNN
    has another classifier), alpha, beta, the precision, the scale and the split (including
    its hidden labels); n_synthetic (how much D_s is drawn) does not change it. A key that
    dropped one of them would hand one job a generator trained for another."""
    key = artifacts.generator_key(smoke_split, 0, PARAMS, SCALE)
    assert key == artifacts.generator_key(smoke_split, 0, {**PARAMS, "n_synthetic": 40}, SCALE)
    others = [artifacts.generator_key(smoke_split, 1, PARAMS, SCALE),
              artifacts.generator_key(smoke_split, 0, {**PARAMS, "variant": "ADDES-W"}, SCALE),
              artifacts.generator_key(smoke_split, 0, {**PARAMS, "variant": "ADDES-CNN"}, SCALE),
              artifacts.generator_key(smoke_split, 0, {**PARAMS, "alpha": 0.5}, SCALE),
              artifacts.generator_key(smoke_split, 0, {**PARAMS, "beta": 0.5}, SCALE),
              artifacts.generator_key(smoke_split, 0, PARAMS, SCALE, dtype="bf16"),
              artifacts.generator_key(smoke_split, 0, PARAMS, replace(SCALE, addes_latent=6)),
              artifacts.generator_key(smoke_split2, 0, PARAMS, SCALE),
              artifacts.generator_key(smoke_split.with_scrambled_oracle(seed=3), 0, PARAMS,
                                      SCALE)]
    assert len({key, *others}) == len(others) + 1
