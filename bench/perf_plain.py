"""`python -m bench.perf_plain`: the text classifiers against plain PyTorch, in one process.

Absolute milliseconds drift with the machine (this 2-core machine's matmul peak measured 166
to 192 GFLOP/s within one session), so the fair speed check of the project's models is a
plain PyTorch version of the same network timed in the same process, interleaved step by step:
an nn.Embedding + three nn.Conv1d (k = 3, 4, 5, 100 maps) + max-over-time + dropout + linear
text-CNN, and an nn.Embedding + bidirectional nn.GRU + linear bi-GRU, both trained with fused
Adam on the same batch of 64 titles at the paper's shapes (vocab 20k, embedding 300, hidden
150, 30 tokens). Prints ms per batch and the ratio ours / plain.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch
from tabulate import tabulate
from torch import nn
from torch.nn import functional as F

from baselines.gru import BiGRUNet
from baselines.text_cnn import KimCNN, TextCNNNet
from bench.tuning import tune_allocator


class PlainTextCNN(nn.Module):
    def __init__(self, vocab: int, embed: int, maps: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab, embed)
        self.convs = nn.ModuleList(nn.Conv1d(embed, maps, k) for k in (3, 4, 5))
        self.dropout = nn.Dropout(0.5)
        self.out = nn.Linear(3 * maps, 1)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        e = self.embedding(tokens).transpose(1, 2)
        return self.out(self.dropout(torch.cat([F.relu(c(e)).amax(2) for c in self.convs], 1)))


class PlainBiGRU(nn.Module):
    def __init__(self, vocab: int, embed: int, hidden: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab, embed)
        self.gru = nn.GRU(embed, hidden, batch_first=True, bidirectional=True)
        self.out = nn.Linear(2 * hidden, 1)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        _, h = self.gru(self.embedding(tokens))
        return self.out(torch.cat([h[0], h[1]], dim=1))


def _step(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> Callable[[], None]:
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)

    def step() -> None:
        loss = F.binary_cross_entropy_with_logits(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def compare(vocab: int = 20_000, embed: int = 300, hidden: int = 150, maps: int = 100,
            length: int = 30, batch: int = 64, repeats: int = 15) -> list[dict]:
    """Median ms per batch of each model, timed interleaved; rows with ours / plain."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(4, vocab, (batch, length), generator=gen)
    y = (torch.rand(batch, 1, generator=gen) < 0.3).float()
    pairs = {"text-CNN": (TextCNNNet(KimCNN(vocab, embed, maps), 1),
                          PlainTextCNN(vocab, embed, maps)),
             "GRU": (BiGRUNet(vocab, 1, embed, hidden), PlainBiGRU(vocab, embed, hidden))}
    steps = {(name, kind): _step(model, x, y) for name, models in pairs.items()
             for kind, model in zip(("ours", "plain"), models, strict=True)}
    for step in steps.values():  # warm-up
        for _ in range(3):
            step()
    times: dict[tuple[str, str], list[float]] = {key: [] for key in steps}
    for _ in range(repeats):
        for key, step in steps.items():
            t0 = time.perf_counter()
            step()
            times[key].append(time.perf_counter() - t0)
    ms = {key: 1e3 * float(np.median(v)) for key, v in times.items()}
    return [{"model": name, "ours ms/batch": ms[name, "ours"],
             "plain PyTorch ms/batch": ms[name, "plain"],
             "ours / plain": ms[name, "ours"] / ms[name, "plain"]} for name in pairs]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.perf_plain",
                                description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--repeats", type=int, default=15)
    args = p.parse_args(argv)
    tune_allocator()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads, batch 64, paper shapes")
    print(tabulate(compare(repeats=args.repeats), headers="keys", floatfmt=".3g"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
