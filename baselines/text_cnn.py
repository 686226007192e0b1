"""text-CNN (Kim, "Convolutional Neural Networks for Sentence Classification", EMNLP 2014).

Filter widths 3, 4, 5 with 100 feature maps each, ReLU, max-over-time pooling, dropout 0.5,
a sigmoid output per target class (multi-label instead of Kim's softmax). Embeddings are
learned from scratch (Kim's CNN-rand; no pretrained vectors may be downloaded here), width
300 at paper scale. Trained with Adam on binary cross-entropy (Kim: Adadelta, l2-norm
constraint 3; both dropped, early stopping on the validation part instead).
"""

from __future__ import annotations

import torch
from torch import nn

from addes.data import PAD, Inputs
from addes.graph import ClassGraph
from baselines.training import FeatureFactory, NeuralMultiLabelClassifier, TrainConfig


class KimCNN(nn.Module):
    """Embedding -> parallel Conv1d(widths) -> ReLU -> max over time -> dropout -> features."""

    def __init__(self, vocab_size: int, embed_dim: int = 300, maps: int = 100,
                 widths: tuple[int, ...] = (3, 4, 5), dropout: float = 0.5):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD)
        self.convs = nn.ModuleList(nn.Conv1d(embed_dim, maps, w) for w in widths)
        self.dropout = nn.Dropout(dropout)
        self.out_dim = maps * len(widths)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        e = self.embedding(tokens).transpose(1, 2)  # [B, E, L]
        pooled = [torch.relu(conv(e)).amax(dim=2) for conv in self.convs]
        return self.dropout(torch.cat(pooled, dim=1))


class TextCNNNet(nn.Module):
    def __init__(self, features: KimCNN, n_out: int):
        super().__init__()
        self.features = features
        self.head = nn.Linear(features.out_dim, n_out)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(tokens))

    @property
    def output_bias(self) -> nn.Parameter:
        return self.head.bias


class TextCNN(NeuralMultiLabelClassifier):
    """Kim's CNN over the target classes, trained on whatever training set it is given.

    `features`, when given, builds another feature extractor in place of KimCNN (the image
    versions of the CNN baselines pass SDANN's)."""

    def __init__(self, vocab_size: int, embed_dim: int = 300, maps: int = 100,
                 config: TrainConfig = TrainConfig(), seed: int = 0,
                 features: FeatureFactory | None = None):
        super().__init__(config, seed)
        self.vocab_size, self.embed_dim, self.maps = vocab_size, embed_dim, maps
        self.features = features

    def make_features(self, X: Inputs) -> nn.Module:
        if self.features is not None:
            return self.features(X)
        return KimCNN(self.vocab_size, self.embed_dim, self.maps)

    def build(self, X: Inputs, graph: ClassGraph, n_out: int) -> nn.Module:
        return TextCNNNet(self.make_features(X), n_out)
