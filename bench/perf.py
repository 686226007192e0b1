"""`python run_all.py --perf` / `python -m bench.perf`: what one training step costs here.

Measures, in one run, the matmul peak (fp32 and bf16) and the time per training batch of each
model at the paper's shapes (vocab 20k, embedding 300, hidden 150, titles of 30 tokens,
32 x 100 images, batch 64), with the project's own modules and optimiser settings. Prints ms
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
