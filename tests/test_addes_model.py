"""ADDES model parts (addes/text.py, addes/model.py, addes/train.py) on tiny inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from addes.data import Inputs
from addes.gcn import GCNClassifierHead
from addes.graph import ClassGraph
from addes.model import (
    ADDES,
    bernoulli_kl,
    gaussian_kl,
    label_prior,
    loss_classifier_init,
    loss_consistency,
    loss_generative,
    loss_inexact,
    loss_labeled,
    loss_total,
    loss_unlabeled,
    smoothed_target_prior,
)
from addes.text import FeatureExtractor, SoftTokens, decoder_io
from addes.train import ADDESConfig, ADDESGenerator

SPECIALS = ("<pad>", "<unk>", "<bos>", "<eos>")


def tiny_graph() -> ClassGraph:
    y_s = np.array([[1, 0], [0, 1], [1, 1], [0, 0]], np.float32)
    return ClassGraph.from_inexact_labels(y_s, ("s0", "s1"), ("t0",), np.array([[True, False]]))


def test_bernoulli_kl_matches_closed_form():
    q, p = torch.tensor([[0.3, 0.9]]), torch.tensor([[0.6, 0.5]])
    expected = sum(a * math.log(a / b) + (1 - a) * math.log((1 - a) / (1 - b))
                   for a, b in ((0.3, 0.6), (0.9, 0.5)))
    assert bernoulli_kl(q, p).item() == pytest.approx(expected, rel=1e-5)
    assert bernoulli_kl(p, p).item() == pytest.approx(0.0, abs=1e-6)


def test_gaussian_kl_matches_closed_form():
    mu, logvar = torch.tensor([[0.5, -1.0, 0.0]]), torch.tensor([[0.2, -0.7, 0.0]])
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    expected = torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).sum()
    assert gaussian_kl(mu, logvar).item() == pytest.approx(expected.item(), rel=1e-5)
    assert gaussian_kl(torch.zeros(1, 3), torch.zeros(1, 3)).item() == 0.0


def test_gcn_head_matches_hand_computation_on_two_nodes():
    graph = ClassGraph(("s", "t"), 1, np.array([[0.0, 0.5], [1.0, 0.0]]), np.array([[True]]))
    p = graph.propagation_matrix()  # rows of A + I normalised: [[2/3, 1/3], [1/2, 1/2]]
    np.testing.assert_allclose(p, [[2 / 3, 1 / 3], [0.5, 0.5]], rtol=1e-6)
    head = GCNClassifierHead(p, feature_dim=2, hidden=1)
    layer1, layer2 = head.gcn.layers
    with torch.no_grad():
        layer1.linear.weight.copy_(torch.tensor([[1.0, 2.0]]))
        layer2.linear.weight.copy_(torch.tensor([[2.0], [-1.0]]))
        layer1.linear.bias.zero_()
        layer2.linear.bias.zero_()
    # H1 = P I W1 = [[4/3], [3/2]]; W = P H1 W2 = [[25/9, -25/18], [17/6, -17/12]]
    logits = head(torch.tensor([[1.0, 1.0]]))
    np.testing.assert_allclose(logits.detach().numpy(), [[25 / 18, 17 / 12]], rtol=1e-5)


def tiny_model(classifier: str = "gcn") -> ADDES:
    torch.manual_seed(0)
    graph = tiny_graph()
    prior = label_prior(graph, np.array([[1, 0], [0, 1]], np.float32), 0.1)
    return ADDES(graph, 12, 8, 8, 4, prior, classifier)


@pytest.mark.parametrize("classifier", ["gcn", "mlp"])
def test_each_loss_term_is_finite_and_nonnegative(classifier):
    model = tiny_model(classifier)
    x = torch.tensor([[4, 5, 6, 0], [7, 8, 0, 0], [9, 10, 11, 4]])
    y_s = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    gen = torch.Generator().manual_seed(0)
    l_l, logits_c = loss_labeled(model, x, y_s, 0.1, generator=gen)
    l_u = loss_unlabeled(model, x, generator=gen)
    l_cons = loss_consistency(model, 4, 5, 1.0, 5, gen)
    l_cs = loss_inexact(logits_c, y_s)
    terms = {"Eq6": l_l, "Eq7": l_u, "Eq9": l_cons, "Eq10": l_cs,
             "init": loss_classifier_init(model, x, y_s, 0.1)}
    for name, value in terms.items():
        assert torch.isfinite(value) and value.item() > 0, name
    total = loss_total(loss_generative(l_l, l_u), l_cons, l_cs, 0.1, 0.1)
    assert total.item() == pytest.approx((l_l + l_u + 0.1 * l_cons + 0.1 * l_cs).item())
    total.backward()  # every term is differentiable
    assert model.decoder.out.weight.grad is not None


def test_smoothed_target_prior_and_label_prior():
    graph = tiny_graph()
    prior = smoothed_target_prior(graph, torch.tensor([[1.0, 0.0], [0.0, 1.0]]), 0.1)
    np.testing.assert_allclose(prior.numpy(), [[0.9], [0.1]], rtol=1e-6)
    p = label_prior(graph, np.array([[1, 0], [1, 0], [0, 0]], np.float32), 0.1)
    np.testing.assert_allclose(p, [0.6, 0.2, 0.6], rtol=1e-6)  # Laplace: (2+1)/5, (0+1)/5


def test_decoder_io_and_soft_input_is_differentiable():
    x = torch.tensor([[4, 5, 0], [6, 0, 0]])
    inputs, target = decoder_io(x)
    assert inputs.tolist() == [[2, 4, 5, 0], [2, 6, 0, 0]]
    assert target.tolist() == [[4, 5, 3, 0], [6, 3, 0, 0]]
    torch.manual_seed(0)
    fe = FeatureExtractor(8, 4, 3)
    probs = torch.nn.functional.one_hot(target, 8).float().requires_grad_(True)
    soft = fe(SoftTokens.dense(probs))  # [x, EOS, PAD...] as a soft sequence
    assert soft.shape == fe(x).shape == (2, 6)
    soft.sum().backward()
    assert probs.grad is not None and probs.grad.abs().sum() > 0  # Eq. 9 is differentiable


def toy_corpus(n: int, seed: int) -> tuple[Inputs, np.ndarray]:
    """Titles of 5 filler words; label s0 adds the distinctive word 'kiwi' at a random place."""
    rng = np.random.default_rng(seed)
    vocab = SPECIALS + tuple(f"w{i}" for i in range(16)) + ("kiwi",)
    kiwi = len(vocab) - 1
    y_s = (rng.random((n, 2)) < 0.5).astype(np.float32)
    x = np.zeros((n, 7), np.int64)
    x[:, :5] = rng.integers(4, kiwi, (n, 5))
    pos = rng.integers(0, 5, n)
    x[y_s[:, 0] == 1, pos[y_s[:, 0] == 1]] = kiwi
    return Inputs(x, None, vocab), y_s


def fit_toy(seed: int = 0) -> ADDESGenerator:
    labeled, y_s = toy_corpus(256, 1)
    unlabeled, _ = toy_corpus(128, 2)
    graph = ClassGraph.from_inexact_labels(y_s, ("s0", "s1"), ("t0",), np.array([[True, False]]))
    config = ADDESConfig(embed_dim=16, hidden=32, latent=4, epochs_classifier=3, epochs_vae=30,
                         epochs_joint=2, batch_size=64, lr=3e-3, cons_batch=8, cons_top_k=8)
    return ADDESGenerator(config, seed).fit(labeled, y_s, unlabeled, graph, val=None)


@pytest.fixture(scope="module")
def toy_generator() -> ADDESGenerator:
    return fit_toy()


def kiwi_rate(gen: ADDESGenerator, s0: float) -> float:
    n = 300
    y_s = np.tile(np.array([[s0, 0.0]], np.float32), (n, 1))
    out = gen.generate(y_s, np.full((n, 1), s0, np.float32), seed=3)
    return float(np.mean([" kiwi " in f" {t} " for t in out.texts]))


def test_generation_follows_the_label(toy_generator):
    on, off = kiwi_rate(toy_generator, 1.0), kiwi_rate(toy_generator, 0.0)
    assert on > 0.6 and off < 0.2 and on > 3 * off, (on, off)


def test_classifier_learns_inexact_labels(toy_generator):
    labeled, y_s = toy_corpus(200, 5)
    proba = toy_generator.predict_proba(labeled)
    assert proba.shape == (200, 3)
    accuracy = ((proba[:, 0] > 0.5) == (y_s[:, 0] > 0.5)).mean()
    assert accuracy > 0.8


def test_sample_labels_strategies_and_state_round_trip(toy_generator):
    for strategy in ("prior", "resample"):
        y_s, y_t = toy_generator.sample_labels(50, strategy, seed=1)
        assert y_s.shape == (50, 2) and y_t.shape == (50, 1)
        assert set(np.unique(np.concatenate([y_s, y_t], 1))) <= {0.0, 1.0}
    with pytest.raises(ValueError):
        toy_generator.sample_labels(5, "uniform", seed=1)
    copy = ADDESGenerator.from_state_dict(toy_generator.state_dict())
    y_s, y_t = toy_generator.sample_labels(20, "resample", seed=2)
    assert toy_generator.generate(y_s, y_t, seed=4).texts == copy.generate(y_s, y_t, seed=4).texts
