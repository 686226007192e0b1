"""`python run_all.py --perf` / `python -m bench.perf`: what one training step costs here.

Measures, in one run, the matmul peak and the time per call of each benchmark: one training
batch of each model (batch 64; ADDES: one step of Eq. 11, 32 D_l + 32 D_u titles or images
plus L_cons, and one step of its classifier phase), generating ADDES examples, one epoch of
the Zero-shot GCN, and TF-IDF + LR per title; with the project's own modules and optimiser
settings. By default at the paper's shapes (vocab 20k, embedding 300, hidden 150, titles
padded to 30 tokens of realistic lengths, 32 x 100 images with the paper's filter counts)
and at the smoke tier's (what the cost model needs to interpolate: bench/costs.py). Prints
ms per call, examples per second and, where FLOPs are countable (convolutions, linear and
recurrent layers: counted by torch's FlopCounterMode), achieved GFLOP/s and its fraction of
the matmul peak of the same dtype.

`--device cuda` runs on the GPU, `--dtype bf16` under torch.autocast (bfloat16) on the device;
`--save FILE` writes (or updates) the entry (device, dtype) of a cost data file that
`run_all.py --dry-run` reads.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from tabulate import tabulate
from torch.nn import functional as F
from torch.utils.flop_counter import FlopCounterMode

from baselines.training import TrainConfig, make_optimizer
from bench.costs import (
    FORMAT,
    MEAN_TITLE_TOKENS,
    N_CLASSES,
    P99_TITLE_TOKENS,
    Shapes,
    work,
)
from bench.io import atomic_write_text
from bench.scales import SCALES
from bench.tuning import tune_allocator

BATCH = 64
GENERATE_TEXT, GENERATE_IMAGES = 512, 256  # examples per generation call
TFIDF_TITLES = 2000  # titles per TF-IDF + LR fit


@dataclass
class TrainStep:
    """A training step: `loss()` (run under autocast for bf16), then backward and `optimizer`."""

    loss: Callable[[], torch.Tensor]
    optimizer: torch.optim.Optimizer


Step = TrainStep | Callable[[], object]


@dataclass(frozen=True)
class Benchmark:
    name: str
    make_step: Callable[[Shapes, str], Step]  # (shapes, device) -> one call
    unit: str = "batch"  # what one unit of the cost data is: batch | example | epoch
    per_call: int = 1  # units per call
    torch_only: bool = True  # False: plain CPU code (no device, no dtype)


BENCHMARKS: list[Benchmark] = []


def benchmark(name: str, unit: str = "batch", per_call: int = 1, torch_only: bool = True):
    def decorate(make_step):
        BENCHMARKS.append(Benchmark(name, make_step, unit, per_call, torch_only))
        return make_step

    return decorate


def _seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _classifier_step(model: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor
                     ) -> TrainStep:
    return TrainStep(lambda: F.binary_cross_entropy_with_logits(model(inputs), targets),
                     make_optimizer(model.parameters(), TrainConfig()))


def _titles(s: Shapes, device: str, seed: int = 0) -> torch.Tensor:
    """BATCH titles of realistic lengths (log-normal: mean ~8.4 tokens, 99th percentile ~19,
    as the real Stack Overflow sample), random word ids, padded to max_len."""
    rng = np.random.default_rng(seed)
    median = MEAN_TITLE_TOKENS * 0.93  # a log-normal's mean is its median x exp(sigma^2 / 2)
    sigma = np.log(P99_TITLE_TOKENS / median) / 2.33
    lengths = np.clip(np.rint(rng.lognormal(np.log(median), sigma, BATCH)), 1, s.max_len)
    ids = rng.integers(4, s.vocab, (BATCH, s.max_len))
    ids[np.arange(s.max_len)[None, :] >= lengths[:, None]] = 0
    return torch.from_numpy(ids).to(device)


def _targets(device: str, n: int = 1) -> torch.Tensor:
    return (torch.rand(BATCH, n, generator=_seeded(1)) < 0.3).float().to(device)


@benchmark("text-CNN")
def _text_cnn(s: Shapes, device: str) -> Step:
    from baselines.text_cnn import KimCNN, TextCNNNet

    model = TextCNNNet(KimCNN(s.vocab, s.embed, s.maps), 1).to(device)
    return _classifier_step(model, _titles(s, device), _targets(device))


@benchmark("GRU")
def _gru(s: Shapes, device: str) -> Step:
    from baselines.gru import BiGRUNet

    model = BiGRUNet(s.vocab, 1, s.embed, s.gru_hidden).to(device)
    return _classifier_step(model, _titles(s, device), _targets(device))


@benchmark("ML-GCN head")
def _ml_gcn(s: Shapes, device: str) -> Step:
    from baselines.ml_gcn import MLGCNNet, ml_gcn_adjacency, ml_gcn_propagation
    from baselines.text_cnn import KimCNN

    labels = torch.rand(2000, N_CLASSES, generator=_seeded(2)) < 0.1
    propagation = ml_gcn_propagation(ml_gcn_adjacency(labels.numpy()))
    model = MLGCNNet(KimCNN(s.vocab, s.embed, s.maps), propagation, 3 * s.maps).to(device)
    return _classifier_step(model, _titles(s, device), _targets(device, N_CLASSES))


@benchmark("Semi-CNN")
def _semi_cnn(s: Shapes, device: str) -> Step:
    """text-CNN on a D_e batch plus lambda x the entropy of its predictions on a D_u batch."""
    from baselines.semi import binary_entropy_from_logits
    from baselines.text_cnn import KimCNN, TextCNNNet

    model = TextCNNNet(KimCNN(s.vocab, s.embed, s.maps), 1).to(device)
    x, x_u, y = _titles(s, device), _titles(s, device, seed=1), _targets(device)

    def loss() -> torch.Tensor:
        return (F.binary_cross_entropy_with_logits(model(x), y)
                + 0.1 * binary_entropy_from_logits(model(x_u)))

    return TrainStep(loss, make_optimizer(model.parameters(), TrainConfig()))


@benchmark("Zero-shot GCN", unit="epoch")
def _zero_shot_gcn(s: Shapes, device: str) -> Step:
    """One full-batch epoch of the Zero-shot GCN regressing the S classifiers (width
    embed / 300 as the text registry entry)."""
    from functools import partial

    from addes.gcn import GCN, symmetric_normalize
    from baselines.zero_shot import ORIGINAL_HIDDEN

    width, out = s.embed / 300, 3 * s.maps + 1
    hidden = tuple(max(8, round(h * width)) for h in ORIGINAL_HIDDEN)
    adjacency = (torch.rand(N_CLASSES, N_CLASSES, generator=_seeded(3)) < 0.2).float().numpy()
    gcn = GCN(symmetric_normalize((adjacency + adjacency.T) / 2), (N_CLASSES, *hidden, out),
              activation=partial(F.leaky_relu, negative_slope=0.2)).to(device)
    targets = F.normalize(torch.randn(N_CLASSES - 1, out, generator=_seeded(4)), dim=1).to(device)
    optimizer = torch.optim.Adam(gcn.parameters(), lr=1e-3, weight_decay=5e-4)
    return TrainStep(lambda: 0.5 * (F.normalize(gcn()[:-1], dim=1) - targets).pow(2).sum(),
                     optimizer)


@benchmark("TF-IDF+LR", unit="example", per_call=TFIDF_TITLES, torch_only=False)
def _tfidf_lr(s: Shapes, device: str) -> Step:
    """Fitting TF-IDF + LR on TFIDF_TITLES titles of Zipf-distributed words, 4 targets."""
    from addes.data import Inputs
    from addes.graph import ClassGraph
    from baselines.tfidf_lr import TfidfLogisticRegression

    rng = np.random.default_rng(0)
    lengths = rng.integers(4, 14, TFIDF_TITLES)
    texts = tuple(" ".join(f"w{w}" for w in np.minimum(rng.zipf(1.3, n), s.vocab))
                  for n in lengths)
    n_s = N_CLASSES - 4
    y = (rng.random((TFIDF_TITLES, N_CLASSES)) < 0.2).astype(np.float32)
    graph = ClassGraph.from_inexact_labels(y[:, :n_s], [f"s{i}" for i in range(n_s)],
                                           ["t0", "t1", "t2", "t3"], np.ones((4, n_s), bool))
    x = Inputs(np.zeros((TFIDF_TITLES, 1), np.int64), texts)
    return lambda: TfidfLogisticRegression().fit(x, y, graph=graph)


IMAGE_SHAPE = (1, 32, 100)


def _images(device: str) -> torch.Tensor:
    return torch.rand(BATCH, *IMAGE_SHAPE, generator=_seeded(0)).to(device)


@benchmark("SDANN")
def _sdann(s: Shapes, device: str) -> Step:
    from baselines.sdann import SDANNFeatures, SDANNNet

    model = SDANNNet(SDANNFeatures(s.image_width, IMAGE_SHAPE[1:]), 1).to(device)
    return _classifier_step(model, _images(device), _targets(device))


# ---- ADDES ----------------------------------------------------------------------------------


def _label_setup(device: str):
    """A graph of N_CLASSES - 1 inexact classes and one target, BATCH y_s rows, their prior."""
    from addes.graph import ClassGraph
    from addes.model import label_prior

    rng = np.random.default_rng(0)
    n_s = N_CLASSES - 1
    y_s = (rng.random((BATCH, n_s)) < 0.2).astype(np.float32)
    graph = ClassGraph.from_inexact_labels(y_s, tuple(f"c{i}" for i in range(n_s)), ("t",),
                                           np.ones((1, n_s), bool))
    return graph, torch.from_numpy(y_s).to(device), label_prior(graph, y_s, 0.1)


def _text_addes(s: Shapes, device: str):
    from addes.model import ADDES

    graph, ys, prior = _label_setup(device)
    model = ADDES(graph, s.vocab, s.addes_embed, s.addes_hidden, s.addes_latent, prior)
    return model.to(device), ys


def _image_addes(s: Shapes, device: str):
    from addes.image import ImageADDES

    graph, ys, prior = _label_setup(device)
    return ImageADDES(graph, s.image_width, s.image_latent, prior).to(device), ys


def _eq11_step(model: torch.nn.Module, x: torch.Tensor, ys: torch.Tensor, cons_len: int,
               device: str) -> TrainStep:
    """Algorithm 1's joint step (ADDESGenerator._eq11 with its default config): batch/2
    examples of D_l and batch/2 of D_u through q_C, q_E and p_D, L_cons on cons_batch prior
    samples, L^s_C; alpha = beta = 0.1 (the weights do not change the cost)."""
    from addes.model import (
        loss_consistency,
        loss_generative,
        loss_inexact,
        loss_labeled,
        loss_total,
        loss_unlabeled,
    )
    from addes.train import ADDESConfig

    cfg, half = ADDESConfig(), BATCH // 2
    gen = torch.Generator(device=device).manual_seed(2)

    def loss() -> torch.Tensor:
        l_l, logits = loss_labeled(model, x[:half], ys[:half], cfg.label_smoothing_eps)
        l_u = loss_unlabeled(model, x[half:])
        l_cons = loss_consistency(model, cfg.cons_batch, cons_len, cfg.cons_tau, cfg.cons_top_k,
                                  gen)
        return loss_total(loss_generative(l_l, l_u), l_cons, loss_inexact(logits, ys[:half]),
                          cfg.alpha, cfg.beta)

    return TrainStep(loss, make_optimizer(model.parameters(), TrainConfig()))


def _classifier_phase_step(model: torch.nn.Module, x: torch.Tensor, ys: torch.Tensor
                           ) -> TrainStep:
    """Algorithm 1, line 1: q_C alone on Eq. 10 + Eq. 6's third term, a batch of D_l."""
    from addes.model import loss_classifier_init

    return TrainStep(lambda: loss_classifier_init(model, x, ys, 0.1),
                     make_optimizer(model.classifier_parameters(), TrainConfig()))


@benchmark("text ADDES classifier")
def _text_addes_classifier(s: Shapes, device: str) -> Step:
    model, ys = _text_addes(s, device)
    return _classifier_phase_step(model, _titles(s, device), ys)


@benchmark("text ADDES")
def _text_addes_joint(s: Shapes, device: str) -> Step:
    from addes.data import Inputs
    from addes.train import relaxed_length

    model, ys = _text_addes(s, device)
    x = _titles(s, device)
    return _eq11_step(model, x, ys, relaxed_length(Inputs(x.cpu().numpy())), device)


@benchmark("text ADDES generation", unit="example", per_call=GENERATE_TEXT)
def _text_generation(s: Shapes, device: str) -> Step:
    """Sampling GENERATE_TEXT titles (addes.text.Decoder.sample, as ADDESGenerator.generate).
    An untrained decoder would rarely emit EOS: its EOS bias is set so that titles end with
    probability 1 / (MEAN_TITLE_TOKENS + 1) per step, as long as real ones on average."""
    from addes.data import EOS

    model, _ = _text_addes(s, device)
    model.eval()
    p_end = 1 / (MEAN_TITLE_TOKENS + 1)
    with torch.no_grad():
        model.decoder.out.bias[EOS] = float(np.log(p_end * (s.vocab - 1) / (1 - p_end)))
    gen = torch.Generator(device=device).manual_seed(0)
    y = (torch.rand(GENERATE_TEXT, N_CLASSES, generator=_seeded(1)) < 0.2).float().to(device)

    @torch.no_grad()
    def call() -> torch.Tensor:
        z = torch.randn(GENERATE_TEXT, s.addes_latent, generator=gen, device=device)
        return model.decoder.sample(z, y, s.max_len + 1, 1.0, gen)

    return call


@benchmark("image ADDES classifier")
def _image_addes_classifier(s: Shapes, device: str) -> Step:
    model, ys = _image_addes(s, device)
    return _classifier_phase_step(model, _images(device), ys)


@benchmark("image ADDES")
def _image_addes_joint(s: Shapes, device: str) -> Step:
    """One step of Eq. 11 at the paper's widths (Section 5.4.2); L_cons on the decoder's
    mean images."""
    model, ys = _image_addes(s, device)
    return _eq11_step(model, _images(device), ys, 0, device)


@benchmark("image ADDES generation", unit="example", per_call=GENERATE_IMAGES)
def _image_generation(s: Shapes, device: str) -> Step:
    """Decoding GENERATE_IMAGES mean images (as ADDESGenerator.generate)."""
    model, _ = _image_addes(s, device)
    model.eval()
    z = torch.randn(GENERATE_IMAGES, s.image_latent, generator=_seeded(0)).to(device)
    y = (torch.rand(GENERATE_IMAGES, N_CLASSES, generator=_seeded(1)) < 0.2).float().to(device)
    return torch.no_grad()(lambda: model.decoder(z, y))


# ---- measuring ------------------------------------------------------------------------------


def _autocast(device: str, dtype: str):
    if dtype == "bf16":
        return torch.autocast(device_type=device, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def as_call(step: Step, device: str, dtype: str) -> Callable[[], None]:
    """One call of a benchmark: a TrainStep's loss under autocast (bf16), then backward and
    the optimizer step outside it, as torch recommends."""
    if isinstance(step, TrainStep):
        def call() -> None:
            with _autocast(device, dtype):
                loss = step.loss()
            step.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            step.optimizer.step()
    else:
        def call() -> None:
            with _autocast(device, dtype):
                step()
    return call


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def matmul_peak(dtype: torch.dtype, device: str = "cpu", n: int = 1024, repeats: int = 20,
                budget_s: float = 2.0) -> float:
    """GFLOP/s of an n x n matmul, best of `repeats` (the ceiling for dense layers here), or of
    as many as fit in `budget_s` after one warm-up call: bf16 without native CPU support (AVX2
    machines) runs ~100x slower than fp32, 3 s per call here."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    _sync(device)
    t0 = time.perf_counter()
    a @ b
    _sync(device)
    first = max(time.perf_counter() - t0, 1e-9)
    repeats = max(1, min(repeats, int(budget_s / first)))
    if first * 20 < budget_s:  # cheap: two more warm-up calls, as before the budget
        for _ in range(2):
            a @ b
    best = float("inf")
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        a @ b
        _sync(device)
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def time_step(step: Callable[[], None], warmup: int = 3, repeats: int = 10,
              device: str = "cpu") -> float:
    """Median seconds per call after warm-up."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        step()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def count_flops(step: Callable[[], None]) -> int:
    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops()


def run(names: list[str] | None = None, repeats: int = 10, device: str = "cpu",
        dtype: str = "fp32", tiers: tuple[str, ...] = ("paper", "smoke")) -> list[dict]:
    """One row per matmul peak and per (benchmark, tier): seconds per unit, work proxy,
    GFLOP/s where countable."""
    torch_dtype = torch.bfloat16 if dtype == "bf16" else torch.float32
    peak = matmul_peak(torch_dtype, device)
    rows = [{"model": f"matmul peak {dtype}", "GFLOP/s": peak}]
    for bench in BENCHMARKS:
        if names and bench.name not in names:
            continue
        if not bench.torch_only and device != "cpu":
            continue  # plain CPU code: not a GPU measurement
        for tier in tiers:
            shapes = Shapes.of(SCALES[tier])
            call = as_call(bench.make_step(shapes, device), device, dtype)
            seconds = time_step(call, repeats=repeats, device=device)
            flops = count_flops(call) if bench.torch_only else 0
            gflops = flops / seconds / 1e9 if flops else float("nan")
            examples = {"batch": BATCH, "example": bench.per_call}.get(bench.unit)
            rows.append({
                "model": bench.name, "shapes": tier, "unit": bench.unit,
                "ms/call": 1e3 * seconds,
                "examples/s": examples / seconds if examples else float("nan"),
                "GFLOP/s": gflops, "of peak": gflops / peak if flops else float("nan"),
                "seconds/unit": seconds / bench.per_call,
                "work": work(bench.name, shapes)})
    return rows


def machine_description(device: str) -> dict:
    """What the measurements were taken on."""
    cpu = platform.processor() or platform.machine()
    try:
        names = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text()
                 .splitlines() if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    info = {"cpu": cpu, "cores": os.cpu_count(), "torch": torch.__version__,
            "python": platform.python_version(), "system": platform.platform()}
    if hasattr(os, "getloadavg"):
        info["load_average_1min_at_start"] = round(os.getloadavg()[0], 2)
    if device == "cuda":
        info["gpu"] = torch.cuda.get_device_name()
    return info


def busy_cpu_seconds() -> float | None:
    """CPU-seconds all processes have spent busy since boot (Linux /proc/stat), or None."""
    try:
        ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return None
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # minus idle, iowait


def save(path: Path, rows: list[dict], *, device: str, dtype: str, threads: int,
         repeats: int, machine: dict, command: str) -> None:
    """Write this run as the entry "device/dtype" of the cost data file at `path` (other
    entries of an existing file are kept)."""
    from bench.runner import _git_state

    raw = json.loads(path.read_text()) if path.exists() else {"format": FORMAT, "entries": {}}
    benchmarks: dict[str, dict] = {}
    for row in rows[1:]:
        bench = benchmarks.setdefault(row["model"], {"unit": row["unit"], "points": {}})
        bench["points"][row["shapes"]] = {"work": row["work"], "seconds": row["seconds/unit"]}
        if not np.isnan(row["GFLOP/s"]):
            bench["points"][row["shapes"]]["of_peak"] = round(row["of peak"], 3)
    commit, dirty = _git_state()
    raw["entries"][f"{device}/{dtype}"] = {
        "device": device, "dtype": dtype, "threads": threads if device == "cpu" else None,
        "machine": machine, "command": command, "repeats": repeats,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "git_commit": commit + ("-dirty" if dirty else ""),
        "matmul_peak_gflops": round(rows[0]["GFLOP/s"], 1), "benchmarks": benchmarks}
    atomic_write_text(path, json.dumps(raw, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.perf", description=__doc__.splitlines()[0])
    p.add_argument("--models", help="comma-separated subset")
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--dtype", choices=("fp32", "bf16"), default="fp32",
                   help="bf16: the steps run under torch.autocast(bfloat16)")
    p.add_argument("--shapes", default="paper,smoke",
                   help="tiers whose shapes to measure at (default paper,smoke)")
    p.add_argument("--save", type=Path, metavar="FILE",
                   help="write the measurements into this cost data file (entry device/dtype)")
    args = p.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda: no CUDA device")
    tiers = tuple(t.strip() for t in args.shapes.split(",") if t.strip())
    if unknown := [t for t in tiers if t not in SCALES]:
        p.error(f"--shapes: unknown tier {unknown[0]!r}; choose from {', '.join(SCALES)}")
    tune_allocator()
    torch.set_num_threads(args.threads)
    machine = machine_description(args.device)
    busy0, own0, wall0 = busy_cpu_seconds(), time.process_time(), time.perf_counter()
    rows = run(args.models.split(",") if args.models else None, args.repeats, args.device,
               args.dtype, tiers)
    busy1 = busy_cpu_seconds()
    if busy0 is not None and busy1 is not None:  # other work on a shared machine shows here
        others = (busy1 - busy0) - (time.process_time() - own0)
        capacity = (time.perf_counter() - wall0) * (os.cpu_count() or 1)
        machine["others_cpu_share_during_run"] = round(max(0.0, others) / capacity, 3)
    where = machine.get("gpu") or f"{args.threads} threads"
    print(f"torch {torch.__version__}, {args.device} ({where}), {args.dtype}, batch {BATCH}")
    shown = [{k: v for k, v in r.items() if k not in ("seconds/unit", "work")} for r in rows]
    print(tabulate(shown, headers="keys", floatfmt=".3g", missingval=""))
    if args.save:
        command = "python -m bench.perf " + shlex.join(sys.argv[1:] if argv is None else argv)
        save(args.save, rows, device=args.device, dtype=args.dtype, threads=args.threads,
             repeats=args.repeats, machine=machine, command=command)
        print(f"saved to {args.save} [{args.device}/{args.dtype}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
