"""GRU (Cho et al., "Learning Phrase Representations using RNN Encoder-Decoder for Statistical
Machine Translation", EMNLP 2014), the paper's second text baseline (Section 5.2).

A bidirectional GRU over learned word embeddings; the final states of both directions are
concatenated and fed to a sigmoid layer over the target classes T; trained on D_e (targets
from Eq. 19) with binary cross-entropy.

Titles are right-padded with PAD = 0, and padding never reaches a final state: the forward
direction's state is read at each title's last real token, and the backward direction runs
over the real tokens reversed (padding left at the end) and is read at the same position.
This is exactly what a packed bi-GRU computes (tested), with the dense kernel: no packing,
sorting or per-step batch shrinking.

Deviations, all documented:
- multi-label sigmoid outputs instead of a softmax; embeddings learned from scratch (no
  pretrained vectors may be downloaded here), width `embed_dim` (300 at paper scale);
- dropout 0.5 on the concatenated final states (as in text-CNN; Cho et al. do not specify a
  classifier head), Adam instead of Adadelta, early stopping on the validation part;
- the two directions are two unidirectional `nn.GRU`s (same parameters as one bidirectional
  GRU) so that the backward one can be fed reversed titles.
"""

from __future__ import annotations

import torch
from torch import nn

from addes.data import PAD, Inputs
from addes.graph import ClassGraph
from baselines.training import NeuralMultiLabelClassifier, TrainConfig


def reversal_index(lengths: torch.Tensor, seq_len: int) -> torch.Tensor:
    """[B, L] positions that reverse each row's first `length` steps, padding left in place."""
    positions = torch.arange(seq_len, device=lengths.device).expand(len(lengths), seq_len)
    last = (lengths - 1).unsqueeze(1)
    return torch.where(positions <= last, last - positions, positions)


class BiGRUNet(nn.Module):
    """Embedding -> bi-GRU -> [h_forward(last real token); h_backward(first token)] -> logits."""

    def __init__(self, vocab_size: int, n_out: int, embed_dim: int = 300, hidden: int = 150,
                 dropout: float = 0.5):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD)
        self.forward_gru = nn.GRU(embed_dim, hidden, batch_first=True)
        self.backward_gru = nn.GRU(embed_dim, hidden, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(2 * hidden, n_out)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        lengths = (tokens != PAD).sum(dim=1).clamp(min=1)  # an empty title reads one pad
        last = (lengths - 1).view(-1, 1, 1).expand(-1, 1, self.forward_gru.hidden_size)
        e = self.embedding(tokens)  # looked up once: a second lookup doubles the dense grad
        reverse = reversal_index(lengths, tokens.shape[1]).unsqueeze(2).expand_as(e)
        out_f, _ = self.forward_gru(e)
        out_b, _ = self.backward_gru(e.gather(1, reverse))
        final = torch.cat([out_f.gather(1, last), out_b.gather(1, last)], dim=2).squeeze(1)
        return self.head(self.dropout(final))


class GRUClassifier(NeuralMultiLabelClassifier):
    """The bi-GRU over the target classes, trained on whatever training set it is given."""

    def __init__(self, vocab_size: int, embed_dim: int = 300, hidden: int = 150,
                 config: TrainConfig = TrainConfig(), seed: int = 0):
        super().__init__(config, seed)
        self.vocab_size, self.embed_dim, self.hidden = vocab_size, embed_dim, hidden

    def build(self, X: Inputs, graph: ClassGraph, n_out: int) -> nn.Module:
        return BiGRUNet(self.vocab_size, n_out, self.embed_dim, self.hidden)
