"""ADDES+ options (issue 13) and the conditioning diagnostics (bench/conditioning.py)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from addes.data import EOS, Inputs
from addes.graph import ClassGraph
from addes.model import (
    ADDES,
    bernoulli_kl,
    consistency_labels,
    coupled_target_prior,
    gaussian_kl,
    label_prior,
    latent_nll,
    loss_consistency,
    loss_labeled,
    loss_unlabeled,
    smoothed_target_prior,
)
from addes.text import SoftTokens
from addes.train import ADDESConfig, ADDESGenerator
from bench import artifacts
from bench.conditioning import (
    judge,
    linked_flip_gap,
    nll_changes,
    paired_examples,
    source_gap,
    target_gap,
)
from bench.scales import get_scale

SPECIALS = ("<pad>", "<unk>", "<bos>", "<eos>")
WORDS = ("x", "a", "b", "jq", "py", "js")
VOCAB = SPECIALS + WORDS
ID = {w: i for i, w in enumerate(VOCAB)}


def toy_graph(y_s: np.ndarray) -> ClassGraph:
    """S = {jquery, python}, T = {javascript}, javascript linked to jquery (Eq. 18)."""
    return ClassGraph.from_inexact_labels(y_s, ("jquery", "python"), ("javascript",),
                                          np.array([[True, False]]))


def toy_titles(y: np.ndarray, rng: np.random.Generator, length: int = 6) -> Inputs:
    """Titles that spell their labels: "x", then "jq" / "py" / "js" for each label that is
    on, then filler; ids [n, length]."""
    rows, texts = [], []
    for label in y:
        words = ["x"] + [w for w, on in zip(("jq", "py", "js"), label, strict=True) if on > 0.5]
        words += list(rng.choice(["a", "b"], size=rng.integers(0, length - len(words) + 1)))
        rows.append([ID[w] for w in words] + [0] * (length - len(words)))
        texts.append(" ".join(words))
    return Inputs(np.array(rows, np.int64), tuple(texts), VOCAB)


def tiny_model(y_s: np.ndarray, label_input: bool = True) -> ADDES:
    graph = toy_graph(y_s)
    torch.manual_seed(0)
    return ADDES(graph, len(VOCAB), 16, 16, 4, label_prior(graph, y_s, 0.1),
                 label_input=label_input)


@pytest.fixture(scope="module")
def toy():
    """D_l (y_t = Eq. 19 of y_s, as in D_e), a decoder trained on titles whose y_t is drawn
    independently of y_s, and the generator wrapping it."""
    rng = np.random.default_rng(0)
    y_s = (rng.random((200, 2)) < 0.5).astype(np.float32)
    graph = toy_graph(y_s)
    labeled = toy_titles(np.concatenate([y_s, graph.estimate_targets(y_s)], axis=1), rng)
    y_train = (rng.random((600, 3)) < 0.5).astype(np.float32)
    x_train = torch.from_numpy(toy_titles(y_train, rng).x)
    model = tiny_model(y_s)
    opt = torch.optim.Adam(model.generator_parameters(), lr=1e-2)
    y_t = torch.from_numpy(y_train)
    for step in range(150):
        idx = torch.randint(0, len(x_train), (64,), generator=torch.Generator().manual_seed(step))
        recon, kl_z = model.vae_terms(x_train[idx], y_t[idx])
        opt.zero_grad()
        (recon + kl_z).mean().backward()
        opt.step()
    model.eval()
    gen = ADDESGenerator(ADDESConfig(embed_dim=16, hidden=16, latent=4), seed=0)
    gen.model_, gen.graph_, gen.vocab_, gen.max_len_, gen.modality_ = model, graph, VOCAB, 6, "text"
    split = SimpleNamespace(labeled=labeled, y_s=y_s, graph=graph, inexact=graph.inexact,
                            unlabeled=toy_titles(y_train[:100], rng),
                            val=toy_titles(y_train[100:200], rng), val_y_s=y_train[100:200, :2],
                            targets=graph.targets, estimated_targets=graph.estimate_targets)
    return split, gen, judge(split, seed=0)


def test_conditioning_gap_is_large_for_a_decoder_that_reads_y_t(toy):
    split, gen, judge_ = toy
    assert target_gap(split, gen, judge_, seed=0, n=200)["javascript"] > 0.1
    gaps = source_gap(split, gen, judge_, seed=0, n=200, n_tags=2)
    assert set(gaps) == {"jquery", "python"} and min(gaps.values()) > 0.1


def test_teacher_forced_nll_reads_the_labels_and_beats_the_unigram_model(toy):
    split, gen, _ = toy
    nll = nll_changes(split, gen, seed=0)
    assert nll["nll_per_token"] < nll["unigram_nll_per_token"]
    assert nll["shuffle_y_s"] > 0.05


def test_table3_pairs_share_z_and_y_s_and_the_judge_scores_the_on_title_higher(toy):
    split, gen, judge_ = toy
    examples = paired_examples(split, gen, judge_, seed=0, n=20)
    assert len(examples) == 40 and {e["target"] for e in examples} == {"javascript"}
    on, off = examples[::2], examples[1::2]
    assert all(a["pair"] == b["pair"] and a["target_on"] and not b["target_on"]
               for a, b in zip(on, off, strict=True))
    assert all(set(a["inputs_labels"]) - {"javascript"} == set(b["inputs_labels"])
               for a, b in zip(on, off, strict=True))
    gap = np.mean([a["judge"] for a in on]) - np.mean([b["judge"] for b in off])
    assert gap > 0.1
    # the score is the judge's p(target) of the printed title
    scored = judge_.predict_proba(Inputs(np.zeros((1, 1), np.int64), (on[0]["text"],), VOCAB))
    assert scored[0, split.graph.n_inexact] == pytest.approx(on[0]["judge"])


def test_conditioning_gap_is_near_zero_when_the_decoder_y_t_input_is_zeroed(toy, monkeypatch):
    split, gen, judge_ = toy
    decoder, n_s = gen.model_.decoder, split.graph.n_inexact
    condition = decoder.condition

    def without_targets(z, y):
        return condition(z, torch.cat([y[:, :n_s], torch.zeros_like(y[:, n_s:])], dim=1))

    monkeypatch.setattr(decoder, "condition", without_targets)
    assert abs(target_gap(split, gen, judge_, seed=0, n=200)["javascript"]) < 0.02


def test_linked_flip_separates_a_decoder_that_reads_y_t_from_one_that_reads_only_y_s(
        toy, monkeypatch):
    """The toy decoder writes "js" for y_t and "jq" for jquery (javascript's linked source):
    every flip moves the judge. With its y_t input zeroed, only the flips of R_t still do."""
    split, gen, judge_ = toy
    reads_both = linked_flip_gap(split, gen, judge_, seed=0, n=200)["javascript"]
    assert min(reads_both.values()) > 0.1
    assert reads_both["joint"] > reads_both["y_t"]
    decoder, n_s = gen.model_.decoder, split.graph.n_inexact
    condition = decoder.condition
    monkeypatch.setattr(decoder, "condition", lambda z, y: condition(
        z, torch.cat([y[:, :n_s], torch.zeros_like(y[:, n_s:])], dim=1)))
    reads_y_s = linked_flip_gap(split, gen, judge_, seed=0, n=200)["javascript"]
    assert abs(reads_y_s["y_t"]) < 0.02
    assert reads_y_s["R_t"] > 0.1 and reads_y_s["joint"] > 0.1


def _tiny_batch():
    rng = np.random.default_rng(1)
    y_s = (rng.random((8, 2)) < 0.5).astype(np.float32)
    graph = toy_graph(y_s)
    x = toy_titles(np.concatenate([y_s, graph.estimate_targets(y_s)], axis=1), rng).x
    return torch.from_numpy(x), torch.from_numpy(y_s)


def test_free_bits_floor_each_latent_dimension_and_stop_its_gradient():
    """Free bits (Kingma et al. 2016): a dimension below the floor counts as the floor, with
    no gradient; one above it is the plain KL; 0.0 is the paper's term, bit for bit."""
    mu = torch.tensor([[0.0, 2.0], [0.1, -2.0]], requires_grad=True)
    logvar = torch.zeros(2, 2)
    plain = gaussian_kl(mu, logvar)
    assert torch.equal(gaussian_kl(mu, logvar, 0.0), plain)
    floored = gaussian_kl(mu, logvar, 0.5)  # dim 0: mean KL 0.0025 < 0.5; dim 1: 2.0
    assert torch.isfinite(floored).all() and (floored > plain).all()
    assert floored.mean().item() == pytest.approx(0.5 + 2.0)
    floored.sum().backward()
    assert mu.grad[:, 0].abs().max() == 0 and mu.grad[:, 1].abs().min() > 0
    # through the losses of Eq. 6/7 on a tiny batch: finite, and larger with the floor
    x, y_s = _tiny_batch()
    model = tiny_model(y_s.numpy())
    model.eval()
    base = loss_labeled(model, x, y_s, 0.1)[0]
    fb = loss_labeled(model, x, y_s, 0.1, free_bits=1.0)[0]
    assert torch.isfinite(fb) and fb > base
    assert loss_unlabeled(model, x, free_bits=1.0) > loss_unlabeled(model, x)
    with pytest.raises(ValueError, match="free_bits"):
        ADDESConfig(free_bits=-1.0)
    assert artifacts.parse_options("free_bits=0.5") == {"free_bits": 0.5}


def test_per_token_losses_are_finite_positive_and_smaller_than_sums():
    x, y_s = _tiny_batch()
    model = tiny_model(y_s.numpy())
    model.eval()  # z = mu: the two calls see the same z
    for loss in (lambda pt: loss_labeled(model, x, y_s, 0.1, per_token=pt)[0],
                 lambda pt: loss_unlabeled(model, x, per_token=pt)):
        per_token, summed = loss(True), loss(False)
        assert torch.isfinite(per_token) and 0 < per_token < summed


def test_coupled_prior_is_smoothed_eq19_on_binary_y_s_and_between_on_soft_y_s():
    y_s = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.5, 0.0]])
    graph = toy_graph(y_s.numpy())
    p = coupled_target_prior(graph, y_s, 0.1)[:, 0]
    eq19 = smoothed_target_prior(graph, y_s[:2], 0.1)[:, 0]
    assert p[:2].tolist() == pytest.approx(eq19.tolist())
    assert eq19.tolist() == pytest.approx([0.9, 0.1])
    assert 0.1 < p[2] < 0.9
    x, ys = _tiny_batch()
    model = tiny_model(ys.numpy())
    coupled = loss_unlabeled(model, x, coupled_eps=0.1)
    assert torch.isfinite(coupled) and coupled > 0


def test_paired_consistency_labels_flip_only_the_targets_under_one_z():
    x, y_s = _tiny_batch()
    model = tiny_model(y_s.numpy())
    gen = torch.Generator().manual_seed(0)
    y, z = consistency_labels(model, 6, gen, "paired", y_s)
    assert y.shape == (6, 3) and torch.equal(z[:3], z[3:])
    assert torch.equal(y[:3, :2], y[3:, :2]) and y[:3, 2].eq(1).all() and y[3:, 2].eq(0).all()
    loss = loss_consistency(model, 6, 5, 1.0, 4, gen, (y, z))
    assert torch.isfinite(loss) and loss > 0
    with pytest.raises(ValueError, match="paired"):
        consistency_labels(model, 6, gen, "paired")


@pytest.mark.parametrize("classifier_grad", [False, True])
def test_stop_gradient_keeps_q_c_out_of_l_cons(classifier_grad):
    _, y_s = _tiny_batch()
    model = tiny_model(y_s.numpy())
    gen = torch.Generator().manual_seed(0)
    loss_consistency(model, 4, 5, 1.0, 4, gen, classifier_grad=classifier_grad).backward()
    q_c_grads = [p.grad for p in model.classifier_parameters()]
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for p in model.decoder.parameters())
    if classifier_grad:
        assert any(g is not None and g.abs().sum() > 0 for g in q_c_grads)
    else:
        assert all(g is None for g in q_c_grads)
        assert all(p.requires_grad for p in model.classifier_parameters())  # restored


def test_stop_gradient_leaves_q_c_unchanged_by_an_optimiser_step_on_l_cons():
    _, y_s = _tiny_batch()
    model = tiny_model(y_s.numpy())
    before = [p.detach().clone() for p in model.classifier_parameters()]
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    loss_consistency(model, 4, 5, 1.0, 4, torch.Generator().manual_seed(0),
                     classifier_grad=False).backward()
    opt.step()
    assert all(torch.equal(a, p) for a, p in zip(before, model.classifier_parameters(),
                                                  strict=True))


def test_gumbel_relaxation_feeds_one_drawn_word_forward_and_soft_gradients_back():
    """Straight-through Gumbel-softmax (cons_relax="gumbel"): each step's forward value is one
    word (one-hot over the kept words, EOS exactly 0 or 1), the draw follows the noise, the
    words drawn are those of the decoder's own softmax (not always the argmax), and Eq. 9's
    loss still sends finite gradients into the decoder."""
    _, y_s = _tiny_batch()
    model = tiny_model(y_s.numpy())
    y = torch.cat([y_s, torch.ones(len(y_s), 1)], dim=1)
    z = torch.randn(len(y), model.latent, generator=torch.Generator().manual_seed(0))
    soft = model.decoder.relaxed(z, y, 5, 1.0, 4)
    hard = model.decoder.relaxed(z, y, 5, 1.0, 4, relax="gumbel",
                                 generator=torch.Generator().manual_seed(1))
    assert not torch.equal(soft.probs[:, :, 0], torch.ones_like(soft.probs[:, :, 0]))
    assert torch.equal(hard.probs[:, :, 0], torch.ones_like(hard.probs[:, :, 0]))
    assert torch.equal(hard.probs[:, :, 1:], torch.zeros_like(hard.probs[:, :, 1:]))
    assert set(hard.eos.unique().tolist()) <= {0.0, 1.0}
    again = model.decoder.relaxed(z, y, 5, 1.0, 4, relax="gumbel",
                                  generator=torch.Generator().manual_seed(1))
    other = model.decoder.relaxed(z, y, 5, 1.0, 4, relax="gumbel",
                                  generator=torch.Generator().manual_seed(2))
    assert torch.equal(hard.ids[:, :, 0], again.ids[:, :, 0])
    assert not torch.equal(hard.ids[:, :, 0], other.ids[:, :, 0])
    assert not torch.equal(hard.ids[:, 0, 0], soft.ids[:, 0, 0])  # a draw, not the argmax
    loss = loss_consistency(model, 4, 5, 1.0, 4, torch.Generator().manual_seed(0),
                            classifier_grad=False, relax="gumbel")
    loss.backward()
    assert torch.isfinite(loss) and loss > 0
    grads = [p.grad for p in model.decoder.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0
    with pytest.raises(ValueError, match="relax"):
        model.decoder.relaxed(z, y, 5, 1.0, 4, relax="hard")
    with pytest.raises(ValueError, match="cons_relax"):
        ADDESConfig(cons_relax="hard")
    assert artifacts.parse_options("cons_relax=gumbel,cons_tau=0.5") == {
        "cons_relax": "gumbel", "cons_tau": 0.5}


def test_latent_nll_is_the_gaussian_log_density_by_hand():
    z, mu, logvar = torch.tensor([[1.0, -2.0]]), torch.tensor([[0.5, 0.0]]), torch.tensor(
        [[0.0, np.log(4.0)]])
    by_hand = -(np.log(np.exp(-0.25 / 2) / np.sqrt(2 * np.pi))
                + np.log(np.exp(-4.0 / 8) / np.sqrt(2 * np.pi * 4)))
    assert latent_nll(z, mu, logvar).item() == pytest.approx(by_hand, rel=1e-6)


def test_encoder_reads_a_one_hot_generated_sequence_as_the_same_title():
    """The independence constraint re-encodes decoded titles: a one-hot SoftTokens (what
    straight-through Gumbel decoding gives forward) of a title, EOS after its words, encodes
    exactly as its token ids do."""
    x, y_s = _tiny_batch()
    model = tiny_model(y_s.numpy())
    length = x.shape[1] + 1
    ids = torch.cat([x, torch.zeros(len(x), 1, dtype=x.dtype)], dim=1)
    n_words = (x != 0).sum(dim=1)
    ids[torch.arange(len(x)), n_words] = EOS
    eos = (ids == EOS).float()
    soft = SoftTokens(torch.ones(len(x), length, 1), ids.unsqueeze(2), eos)
    for a, b in zip(model.encoder(x), model.encoder(soft), strict=True):
        torch.testing.assert_close(a, b)


def test_independence_constraint_adds_a_positive_term_trains_the_decoder_not_the_encoder():
    _, y_s = _tiny_batch()
    model = tiny_model(y_s.numpy())

    def cons(independence):
        model.zero_grad(set_to_none=True)
        return loss_consistency(model, 4, 5, 1.0, 4, torch.Generator().manual_seed(0),
                                classifier_grad=False, relax="gumbel",
                                independence=independence)

    plain = cons(0.0)
    with_z = cons(0.5)
    assert torch.isfinite(with_z) and with_z > plain
    with_z.backward()
    encoder_only = [p for n, p in model.encoder.named_parameters() if "embedding" not in n]
    assert all(p.grad is None for p in encoder_only)
    assert all(p.requires_grad for p in model.encoder.parameters())  # restored
    assert model.decoder.z_slots.weight.grad.abs().sum() > 0
    text = toy_titles(np.concatenate([y_s.numpy(), np.zeros((len(y_s), 1))], axis=1),
                      np.random.default_rng(0))
    with pytest.raises(ValueError, match="gumbel"):
        ADDESGenerator(ADDESConfig(independence=0.5, embed_dim=8, hidden=8, latent=4),
                       seed=0).fit(text, y_s.numpy(), text, toy_graph(y_s.numpy()), None)
    with pytest.raises(ValueError, match="independence"):
        ADDESConfig(independence=-1.0)
    assert artifacts.parse_options("independence=0.5") == {"independence": 0.5}


def test_generator_options_parse_and_key_only_when_given():
    assert artifacts.parse_options("per_token=1, label_prior=coupled") == {
        "per_token": True, "label_prior": "coupled"}
    for bad in ("nope=1", "per_token=maybe", "per_token"):
        with pytest.raises(ValueError, match="generator option"):
            artifacts.parse_options(bad)
    with pytest.raises(ValueError, match="label_prior"):
        ADDESConfig(label_prior="joint")
    assert artifacts.generator_options({"variant": "ADDES"}) == {}
    plus = {"variant": "ADDES+", "options": "per_token=0"}
    assert artifacts.generator_options(plus)["per_token"] is False
    quick, smoke = get_scale("quick"), get_scale("smoke")
    assert artifacts.generator_options(plus, quick)["epochs_classifier"] == 10
    assert "epochs_classifier" not in artifacts.generator_options(plus, smoke)
    config = artifacts.addes_config({"variant": "ADDES+"}, quick)
    assert config.label_input and config.detach_labels and config.lr == 3e-3
    assert config.epochs_vae == 8 and config.classifier == "gcn"
    assert artifacts.addes_config({}, quick) == artifacts.addes_config({"options": ""}, quick)


def test_addes_plus_g_is_addes_plus_with_the_four_options_and_shares_its_generator():
    """ADDES+G = ADDES+ with PLUS_G_OPTIONS (Eq. 6/8 per token, q_C fixed in Eq. 9, paired
    Eq. 9 labels, noisy-OR prior of Eq. 7/9): the same config and the same cache key as
    variant ADDES+ with those options spelled out; ADDES's config is untouched."""
    quick = get_scale("quick")
    g = {"variant": "ADDES+G"}
    spelled = {"variant": "ADDES+", "options": "per_token=1,cons_classifier_grad=0,"
               "cons_labels=paired,label_prior=coupled"}
    config = artifacts.addes_config(g, quick)
    assert config == artifacts.addes_config(spelled, quick)
    assert config.per_token and not config.cons_classifier_grad
    assert config.cons_labels == "paired" and config.label_prior == "coupled"
    assert config.label_input and config.detach_labels and config.epochs_joint == 8
    published = artifacts.addes_config({}, quick)
    assert not published.per_token and published.label_prior == "independent"
    assert artifacts.generator_options({"variant": "ADDES+G", "options": "per_token=0"},
                                       quick)["per_token"] is False  # a job's options win
    split = SimpleNamespace(labeled=SimpleNamespace(x=np.zeros((2, 3), np.int64)),
                            y_s=np.zeros((2, 2), np.float32),
                            unlabeled=SimpleNamespace(x=np.zeros((1, 3), np.int64)),
                            oracle_target_labels=lambda part: np.zeros((2, 1), np.float32),
                            modality="text")
    key = artifacts.generator_key(split, 0, g, quick)
    assert key == artifacts.generator_key(split, 0, spelled, quick)
    assert key != artifacts.generator_key(split, 0, {"variant": "ADDES+"}, quick)


def test_label_input_widens_only_the_decoder_gru():
    _, y_s = _tiny_batch()
    plain, plus = tiny_model(y_s.numpy(), False), tiny_model(y_s.numpy(), True)
    assert plus.decoder.gru.input_size == plain.decoder.gru.input_size + 3


def test_detached_labels_leave_q_c_only_its_label_kl_gradient():
    x, y_s = _tiny_batch()
    model = tiny_model(y_s.numpy())
    model.eval()  # z = mu: the calls below see the same z

    def q_c_grads(loss: torch.Tensor) -> list[torch.Tensor]:
        params = model.classifier_parameters()
        return torch.autograd.grad(loss, params, allow_unused=True, materialize_grads=True)

    q_t = torch.sigmoid(model.classify(x)[:, model.n_inexact :])
    kl_only = q_c_grads(bernoulli_kl(q_t, smoothed_target_prior(model.graph, y_s, 0.1)).mean())
    detached = q_c_grads(loss_labeled(model, x, y_s, 0.1, detach_labels=True)[0])
    through = q_c_grads(loss_labeled(model, x, y_s, 0.1)[0])
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(kl_only, detached, strict=True))
    assert not all(torch.allclose(a, b, atol=1e-6) for a, b in zip(kl_only, through,
                                                                   strict=True))


def test_posterior_generation_draws_z_and_labels_from_the_same_unlabeled_title(toy,
                                                                               monkeypatch):
    """z ~ q_E(z|x_u) and labels ~ Bernoulli(q_C(y|x_u)) of one D_u row: with q_E and q_C
    replaced by sharp functions of the title, every draw's z and labels come from one row."""
    split, gen, _ = toy
    model, u = gen.model_, split.unlabeled
    monkeypatch.setattr(model.encoder, "forward", lambda x: (x[:, :4].float(),
                                                             torch.full((len(x), 4), -40.0)))
    monkeypatch.setattr(model, "classify", lambda x: 40.0 * (2.0 * (x[:, :3] > 4) - 1))
    y_s, y_t, z = gen.sample_posterior(u, len(u) + 7, seed=3)
    assert y_s.shape == (len(u) + 7, 2) and y_t.shape == (len(u) + 7, 1)
    np.testing.assert_array_equal(np.concatenate([y_s, y_t], axis=1), z[:, :3] > 4)
    rows = {tuple(r) for r in u.x[:, :4]}
    assert {tuple(r) for r in z.round().astype(np.int64)} == rows  # each row at least once
    again = gen.sample_posterior(u, len(u) + 7, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip((y_s, y_t, z), again, strict=True))
    titles = gen.generate(y_s, y_t, seed=0, z=z)
    assert len(titles) == len(u) + 7


def test_posterior_labels_follow_q_c_on_average(toy):
    split, gen, _ = toy
    y_s, y_t, z = gen.sample_posterior(split.unlabeled, 40 * len(split.unlabeled), seed=0)
    q = gen.predict_proba(split.unlabeled)
    np.testing.assert_allclose(np.concatenate([y_s, y_t], axis=1).mean(axis=0), q.mean(axis=0),
                               atol=0.03)
    assert set(np.unique(y_s)) <= {0.0, 1.0} and z.shape[1] == gen.config.latent
    with pytest.raises(ValueError, match="sample_posterior"):
        gen.sample_labels(4, "posterior")
    with pytest.raises(ValueError, match="sample_posterior"):
        gen.generate(y_s[:2], y_t[:2], z_from="posterior")


def test_the_library_estimator_generates_from_the_posterior_of_given_unlabeled_titles(toy):
    from addes.estimator import ADDESEstimator

    split, gen, _ = toy
    est = ADDESEstimator.from_generator(gen, label_sampling="posterior")
    inputs, labels = est.sample_inputs(12, seed=0, unlabeled=split.unlabeled)
    y_s, y_t, z = gen.sample_posterior(split.unlabeled, 12, seed=0)
    np.testing.assert_array_equal(labels, np.concatenate([y_s, y_t], axis=1))
    np.testing.assert_array_equal(inputs.x, gen.generate(y_s, y_t, seed=0, z=z).x)
    with pytest.raises(ValueError, match="unlabeled"):
        est.sample_inputs(12, seed=0)
