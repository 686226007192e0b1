"""Graph convolution over the class graph, and the GCN classifier head (paper Eq. 15-16).

Shared by ADDES's classifier q_C and the GCN baselines (ML-GCN, Zero-shot GCN), which differ
only in the propagation matrix they pass in and the activation between layers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


class GraphConv(nn.Module):
    """One layer of Eq. 15 before its nonlinearity: H' = P H W, with P a fixed propagation
    matrix (D̃^{-1} Ã for ADDES; the symmetric form for ML-GCN / Zero-shot)."""

    def __init__(self, in_dim: int, out_dim: int, bias: bool = True):
        super().__init__()
        self.linear = nn.Linear(in_dim, out_dim, bias=bias)

    def forward(self, h: torch.Tensor, propagation: torch.Tensor) -> torch.Tensor:
        return propagation @ self.linear(h)


class GCN(nn.Module):
    """A stack of GraphConv layers with `activation` between them (not after the last).

    dims = (input dim, hidden..., output dim). Node features default to one-hot (identity),
    the paper's text setting; pass `node_features` for class-name embeddings.
    """

    def __init__(self, propagation: np.ndarray, dims: Sequence[int],
                 activation=F.leaky_relu, node_features: np.ndarray | None = None,
                 bias: bool = True):
        super().__init__()
        n = propagation.shape[0]
        v = (np.eye(n, dtype=np.float32) if node_features is None
             else node_features.astype(np.float32))
        if v.shape[0] != n or v.shape[1] != dims[0]:
            raise ValueError(f"node features {v.shape} do not fit {n} nodes of dim {dims[0]}")
        self.register_buffer("propagation", torch.as_tensor(propagation, dtype=torch.float32))
        self.register_buffer("node_features", torch.as_tensor(v))
        self.layers = nn.ModuleList(GraphConv(a, b, bias)
                                    for a, b in zip(dims[:-1], dims[1:], strict=True))
        self.activation = activation

    def forward(self) -> torch.Tensor:
        h = self.node_features
        for i, layer in enumerate(self.layers):
            h = layer(h, self.propagation)
            if i < len(self.layers) - 1:
                h = self.activation(h)
        return h


class GCNClassifierHead(nn.Module):
    """Eq. 16: scores = W h_f, with the per-class weights W [|W|, F] synthesised by a GCN.

    Returns logits [B, |W|] (S first, then T); apply a sigmoid for the probabilities of Eq. 16.
    """

    def __init__(self, propagation: np.ndarray, feature_dim: int, hidden: int,
                 node_features: np.ndarray | None = None, activation=F.leaky_relu):
        super().__init__()
        in_dim = propagation.shape[0] if node_features is None else node_features.shape[1]
        self.gcn = GCN(propagation, (in_dim, hidden, feature_dim), activation, node_features)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features @ self.gcn().T


def symmetric_normalize(adjacency: np.ndarray, add_self_loops: bool = True) -> np.ndarray:
    """D^{-1/2} (A [+ I]) D^{-1/2} (Kipf & Welling; ML-GCN and Zero-shot GCN use this form)."""
    a = adjacency + np.eye(len(adjacency)) if add_self_loops else adjacency.copy()
    d = a.sum(axis=1)
    inv_sqrt = np.where(d > 0, 1.0 / np.sqrt(np.maximum(d, 1e-12)), 0.0)
    return (a * inv_sqrt[:, None] * inv_sqrt[None, :]).astype(np.float32)
