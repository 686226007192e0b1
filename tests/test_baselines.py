"""The text baselines of Section 5.2 (and TF-IDF + LR): contract, determinism, recipes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from addes.tokens import TOKEN_PATTERN
from baselines.gru import BiGRUNet, GRUClassifier, reversal_index
from baselines.ml_gcn import MLGCN, ml_gcn_adjacency, ml_gcn_propagation
from baselines.semi import EntropyRegularizedCNN, SemiCNN, binary_entropy_from_logits
from baselines.tfidf_lr import TfidfLogisticRegression
from baselines.training import TrainConfig
from baselines.zero_shot import ZeroShotGCN
from bench.methods import all_methods

CONFIG = TrainConfig(batch_size=64, max_epochs=1, patience=1)
SMALL = dict(embed_dim=16, maps=8)


def training_data(split):
    y = np.concatenate([split.y_s, split.estimated_targets(split.y_s)], axis=1)
    y_val = np.concatenate([split.val_y_s, split.estimated_targets(split.val_y_s)], axis=1)
    return y, (split.val, y_val)


def builders(vocab_size: int):
    return {
        "GRU": lambda: GRUClassifier(vocab_size, 16, 8, CONFIG, seed=3),
        "Semi-CNN": lambda: SemiCNN(vocab_size, **SMALL, lambdas=(0.01, 1.0), config=CONFIG,
                                    seed=3),
        "ML-GCN": lambda: MLGCN(vocab_size, **SMALL, gcn_hidden=16, config=CONFIG, seed=3),
        "Zero-shot": lambda: ZeroShotGCN(vocab_size, **SMALL, width=0.01, gcn_epochs=5,
                                         config=CONFIG, seed=3),
        "TF-IDF+LR": lambda: TfidfLogisticRegression(TOKEN_PATTERN, seed=3),
    }


def fit_predict(make, split):
    y, val = training_data(split)
    est = make().fit(split.labeled, y, graph=split.graph, unlabeled=split.unlabeled, val=val)
    return est.predict_proba(split.test)


@pytest.mark.parametrize("name", ["GRU", "Semi-CNN", "ML-GCN", "Zero-shot", "TF-IDF+LR"])
def test_contract_and_determinism(name, smoke_split2):
    split = smoke_split2
    make = builders(len(split.labeled.vocab))[name]
    first, second = fit_predict(make, split), fit_predict(make, split)
    assert first.shape == (len(split.test), split.graph.n_target)
    assert np.all((first >= 0) & (first <= 1))
    np.testing.assert_array_equal(first, second)


def test_registered():
    methods = all_methods()
    for name in ("GRU", "Semi-CNN", "ML-GCN", "Zero-shot", "TF-IDF+LR"):
        assert name in methods
    assert methods["Semi-CNN"].uses_unlabeled
    assert not methods["TF-IDF+LR"].in_paper


def test_gru_padding_does_not_change_the_output():
    torch.manual_seed(0)
    net = BiGRUNet(50, 2, embed_dim=8, hidden=4).eval()
    tokens = torch.tensor([[5, 6, 7, 0, 0]])
    np.testing.assert_allclose(net(tokens).detach(), net(tokens[:, :3]).detach(), atol=1e-6)
    index = reversal_index(torch.tensor([3, 5]), 5)
    assert index.tolist() == [[2, 1, 0, 3, 4], [4, 3, 2, 1, 0]]


def test_gru_final_states_match_a_packed_bigru():
    torch.manual_seed(0)
    net = BiGRUNet(50, 2, embed_dim=8, hidden=4).eval()
    packed_gru = torch.nn.GRU(8, 4, batch_first=True, bidirectional=True)
    with torch.no_grad():
        for name, _ in net.forward_gru.named_parameters():
            getattr(packed_gru, name).copy_(getattr(net.forward_gru, name))
            getattr(packed_gru, name + "_reverse").copy_(getattr(net.backward_gru, name))
    tokens = torch.tensor([[5, 6, 7, 0, 0], [8, 9, 10, 11, 12], [13, 0, 0, 0, 0]])
    lengths = torch.tensor([3, 5, 1])
    packed = torch.nn.utils.rnn.pack_padded_sequence(net.embedding(tokens), lengths,
                                                     batch_first=True, enforce_sorted=False)
    _, h = packed_gru(packed)
    expected = net.head(torch.cat([h[0], h[1]], dim=1))
    np.testing.assert_allclose(net(tokens).detach(), expected.detach(), atol=1e-6)


def test_ml_gcn_adjacency_by_hand():
    # classes a, b, c; N = (3, 2, 1); M_ab = 2, M_ac = 1, M_bc = 0
    y = np.array([[1, 1, 0], [1, 1, 0], [1, 0, 1]])
    # P(L_j | L_i) = M_ij / N_i: row a (2/3, 1/3), row b (1, 0), row c (1, 0)
    # >= 0.4 -> a->b, b->a, c->a; column sums: a 2, b 1, c 0
    expected = np.array([[1.0, 0.25, 0.0],
                         [0.125, 1.0, 0.0],
                         [0.125, 0.0, 1.0]])
    a = ml_gcn_adjacency(y)
    np.testing.assert_allclose(a, expected)
    d = 1 / np.sqrt(expected.sum(axis=1))
    np.testing.assert_allclose(ml_gcn_propagation(a), d[:, None] * expected.T * d[None, :],
                               rtol=1e-6)


def test_zero_shot_never_reads_target_columns(smoke_split2):
    split = smoke_split2
    y, (x_val, y_val) = training_data(split)
    garbage, garbage_val = y.copy(), y_val.copy()
    garbage[:, split.graph.n_inexact :] = np.nan
    garbage_val[:, split.graph.n_inexact :] = np.nan
    make = builders(len(split.labeled.vocab))["Zero-shot"]
    clean = make().fit(split.labeled, y, graph=split.graph, val=(x_val, y_val))
    dirty = make().fit(split.labeled, garbage, graph=split.graph, val=(x_val, garbage_val))
    np.testing.assert_array_equal(clean.predict_proba(split.test), dirty.predict_proba(split.test))


def test_entropy_term_by_hand():
    logits = torch.tensor([[0.0, 2.0], [-1.0, 0.5]])
    p = 1 / (1 + np.exp(-logits.numpy().astype(np.float64)))
    expected = np.mean(-p * np.log(p) - (1 - p) * np.log(1 - p))
    assert binary_entropy_from_logits(logits).item() == pytest.approx(expected, rel=1e-6)
    assert binary_entropy_from_logits(torch.tensor([0.0])).item() == pytest.approx(np.log(2))


def test_semi_regularizer_uses_unlabeled_batch(smoke_split):
    est = EntropyRegularizedCNN(len(smoke_split.labeled.vocab), **SMALL, lam=0.5, config=CONFIG)

    class Constant(torch.nn.Module):
        def forward(self, tokens):
            return torch.zeros(len(tokens), 3)

    term = est.regularizer(smoke_split.unlabeled)(Constant(), torch.Generator().manual_seed(0))
    assert term.item() == pytest.approx(0.5 * np.log(2))


def test_semi_records_lambda_choice(smoke_split):
    y, val = training_data(smoke_split)
    est = builders(len(smoke_split.labeled.vocab))["Semi-CNN"]()
    est.fit(smoke_split.labeled, y, graph=smoke_split.graph, unlabeled=smoke_split.unlabeled,
            val=val)
    assert set(est.val_map_) == {0.01, 1.0}
    assert est.chosen_lambda_ == max(est.val_map_, key=lambda lam: (est.val_map_[lam], -lam))


def test_training_keeps_the_weights_of_the_best_validation_epoch():
    """Guards "model selection uses validation data" in the shared loop: training pulls every
    logit up (all labels 1) while the validation labels are all 0, so validation loss is best
    after the first epoch and worse after each later one. Five epochs without early stopping
    must return the first epoch's weights, bit for bit; a loop that kept the last epoch's
    weights (best state not restored) returns others."""
    from baselines.training import fit_multilabel

    gen = torch.Generator().manual_seed(0)
    x, x_val = torch.randn(64, 4, generator=gen), torch.randn(32, 4, generator=gen)
    y, y_val = torch.ones(64, 2), torch.zeros(32, 2)

    def fitted(epochs: int) -> torch.nn.Module:
        torch.manual_seed(0)
        config = TrainConfig(batch_size=16, max_epochs=epochs, patience=10, lr=0.05)
        return fit_multilabel(torch.nn.Linear(4, 2), x, y, config=config, seed=1,
                              x_val=x_val, y_val=y_val)

    first, five = fitted(1), fitted(5)
    for name, value in first.state_dict().items():
        assert torch.equal(value, five.state_dict()[name]), name
    last = fit_multilabel(fitted(0), x, y, config=TrainConfig(16, 5, 10, 0.05), seed=1)
    assert not torch.equal(last.weight, first.weight)  # without validation: the last epoch
