"""`python run_all.py --perf` / `python -m bench.perf`: what one training step costs here.

Measures, in one run, the matmul peak (fp32 and bf16) and the time per training batch of each
model at the paper's shapes (vocab 20k, embedding 300, hidden 150, titles of 30 tokens,
32 x 100 images with the paper's filter counts, batch 64), with the project's own modules and optimiser settings. Prints ms
per batch, examples per second, and, where FLOPs are countable (convolutions, linear layers:
counted by torch's FlopCounterMode), achieved GFLOP/s and its fraction of the fp32 peak.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from tabulate import tabulate
from torch.nn import functional as F
from torch.utils.flop_counter import FlopCounterMode

from baselines.training import TrainConfig, make_optimizer
from bench.tuning import tune_allocator

BATCH = 64
VOCAB, EMBED, HIDDEN, TEXT_LEN = 20_000, 300, 150, 30
N_CLASSES = 25


@dataclass(frozen=True)
class Benchmark:
    name: str
    make_step: Callable[[], Callable[[], None]]  # returns one training step (closure)


BENCHMARKS: list[Benchmark] = []


def benchmark(name: str):
    def decorate(make_step):
        BENCHMARKS.append(Benchmark(name, make_step))
        return make_step

    return decorate


def _train_step(model: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor):
    optimizer = make_optimizer(model.parameters(), TrainConfig())

    def step() -> None:
        loss = F.binary_cross_entropy_with_logits(model(inputs), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def _tokens() -> torch.Tensor:
    return torch.randint(4, VOCAB, (BATCH, TEXT_LEN), generator=torch.Generator().manual_seed(0))


def _targets(n: int = 1) -> torch.Tensor:
    return (torch.rand(BATCH, n, generator=torch.Generator().manual_seed(1)) < 0.3).float()


@benchmark("text-CNN")
def _text_cnn():
    from baselines.text_cnn import KimCNN, TextCNNNet

    return _train_step(TextCNNNet(KimCNN(VOCAB, EMBED, 100), 1), _tokens(), _targets())


@benchmark("GRU")
def _gru():
    from baselines.gru import BiGRUNet

    return _train_step(BiGRUNet(VOCAB, 1, EMBED, HIDDEN), _tokens(), _targets())


@benchmark("ML-GCN head")
def _ml_gcn():
    from baselines.ml_gcn import MLGCNNet, ml_gcn_adjacency, ml_gcn_propagation
    from baselines.text_cnn import KimCNN

    labels = (torch.rand(2000, N_CLASSES, generator=torch.Generator().manual_seed(2)) < 0.1)
    propagation = ml_gcn_propagation(ml_gcn_adjacency(labels.numpy()))
    model = MLGCNNet(KimCNN(VOCAB, EMBED, 100), propagation, 300)
    return _train_step(model, _tokens(), _targets(N_CLASSES))


IMAGE_SHAPE = (1, 32, 100)


def _images() -> torch.Tensor:
    return torch.rand(BATCH, *IMAGE_SHAPE, generator=torch.Generator().manual_seed(0))


@benchmark("SDANN")
def _sdann():
    from baselines.sdann import SDANNFeatures, SDANNNet

    return _train_step(SDANNNet(SDANNFeatures(1.0, IMAGE_SHAPE[1:]), 1), _images(), _targets())


@benchmark("image ADDES")
def _image_addes():
    """One step of Eq. 11 at the paper's widths (Section 5.4.2): 32 images of D_l and 32 of
    D_u through q_C, q_E and p_D, plus L_cons on 8 prior samples; alpha = 100, beta = 0.1."""
    from addes.graph import ClassGraph
    from addes.image import ImageADDES
    from addes.model import (
        label_prior,
        loss_consistency,
        loss_generative,
        loss_inexact,
        loss_labeled,
        loss_total,
        loss_unlabeled,
    )

    rng = np.random.default_rng(0)
    y_s = (rng.random((BATCH, N_CLASSES)) < 0.2).astype(np.float32)
    names = tuple(f"c{i}" for i in range(N_CLASSES))
    graph = ClassGraph.from_inexact_labels(y_s, names, ("t",), np.ones((1, N_CLASSES), bool))
    model = ImageADDES(graph, 1.0, 64, label_prior(graph, y_s, 0.1))
    optimizer = make_optimizer(model.parameters(), TrainConfig())
    x, ys = _images(), torch.from_numpy(y_s)
    half = BATCH // 2
    gen = torch.Generator().manual_seed(2)

    def step() -> None:
        l_l, logits = loss_labeled(model, x[:half], ys[:half], 0.1)
        l_u = loss_unlabeled(model, x[half:])
        l_cons = loss_consistency(model, 8, 0, 1.0, 0, gen)
        loss = loss_total(loss_generative(l_l, l_u), l_cons, loss_inexact(logits, ys[:half]),
                          100.0, 0.1)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def matmul_peak(dtype: torch.dtype, n: int = 1024, repeats: int = 20) -> float:
    """GFLOP/s of an n x n matmul, best of `repeats` (the ceiling for dense layers here)."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    for _ in range(3):
        a @ b
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def time_step(step: Callable[[], None], warmup: int = 3, repeats: int = 10) -> float:
    """Median seconds per call after warm-up."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def count_flops(step: Callable[[], None]) -> int:
    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops()


def run(names: list[str] | None = None, repeats: int = 10) -> list[dict]:
    peak32 = matmul_peak(torch.float32)
    peak16 = matmul_peak(torch.bfloat16)
    rows = [{"model": "matmul peak fp32", "GFLOP/s": peak32},
            {"model": "matmul peak bf16", "GFLOP/s": peak16}]
    for bench in BENCHMARKS:
        if names and bench.name not in names:
            continue
        step = bench.make_step()
        seconds = time_step(step, repeats=repeats)
        flops = count_flops(step)
        gflops = flops / seconds / 1e9 if flops else float("nan")
        rows.append({"model": bench.name, "ms/batch": 1e3 * seconds,
                     "examples/s": BATCH / seconds, "GFLOP/s": gflops,
                     "of fp32 peak": gflops / peak32 if flops else float("nan")})
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.perf", description=__doc__.splitlines()[0])
    p.add_argument("--models", help="comma-separated subset")
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = p.parse_args(argv)
    tune_allocator()
    torch.set_num_threads(args.threads)
    rows = run(args.models.split(",") if args.models else None, args.repeats)
    print(f"torch {torch.__version__}, {args.threads} threads, batch {BATCH}")
    print(tabulate(rows, headers="keys", floatfmt=".3g", missingval=""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
