"""How far a method's result moves when its initial weights move by 1e-6 (issue 14).

    python -m bench.stability --method Zero-shot --dataset stackoverflow-1 --seeds 0,1,2,3,4
        [--eps 1e-6] [--params NAME=VALUE,...] [--data-dir DIR] [--scale quick]
        [--out DIR] [--threads 1]

Each seed is trained exactly as a suite job (`runner.fit_method`, the method's default job
params as `experiments.resolve_params` fills them, and any `--params`), then once more with
every parameter moved by eps * N(0, 1) at the moment an optimiser takes it over
(`perturbed_initial_weights`: for a two-stage method such as Zero-shot, both its text-CNN and
its transfer GCN). A well-conditioned training run ends
where it would have: the report gives, per seed, validation mAP (Eq. 19 targets, what model
selection sees) and test mAP of both runs and |difference|; the criterion of issue 14 is
|test mAP difference| < 0.02 on every seed. One JSON per (seed, run) under
<out>/stability/<dataset>-<scale>-<method>-<params>/, named by every job param, the method's
defaults included (a rerun reuses them).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from functools import partial
from typing import Any

import numpy as np
import torch

from bench import stats
from bench.io import atomic_write_text
from bench.method_runs import method_run_parser, prepare_or_report, saved_run
from bench.methods import get_method
from bench.metrics import evaluate
from bench.runner import RunContext, fit_method, limit_threads

log = logging.getLogger("bench")
CRITERION = 0.02  # issue 14: a 1e-6 perturbation moves test mAP by less than this


@contextmanager
def perturbed_initial_weights(eps: float, seed: int = 0) -> Iterator[None]:
    """Inside, every torch optimiser that is created first adds eps * N(0, 1) noise (from its
    own generator, seeded with `seed`) to the parameters it is given: the weights a training
    loop starts from, whatever built them."""
    original = torch.optim.Optimizer.__init__
    noise = torch.Generator().manual_seed(seed)

    def init(self, params, *args, **kwargs):
        groups = [dict(g, params=list(g["params"])) if isinstance(g, dict) else g
                  for g in params]
        tensors = [p for g in groups for p in (g["params"] if isinstance(g, dict) else [g])]
        with torch.no_grad():
            for p in tensors:
                p.add_(eps * torch.randn(p.shape, generator=noise).to(p.device, p.dtype))
        original(self, groups, *args, **kwargs)

    torch.optim.Optimizer.__init__ = init
    try:
        yield
    finally:
        torch.optim.Optimizer.__init__ = original


def run_one(split, method: str, seed: int, ctx: RunContext, params: dict[str, Any],
            eps: float) -> dict:
    """Train one seed as the suite would (perturbed when eps > 0) with the job's resolved
    params (`experiments.resolve_params`); validation and test mAP."""
    t0 = time.perf_counter()
    with perturbed_initial_weights(eps, seed) if eps > 0 else nullcontext():
        estimator, _ = fit_method(split, get_method(method), params, seed, ctx)
    return {"method": method, "seed": seed, "params": params, "eps": eps,
            "val": evaluate(split.estimated_targets(split.val_y_s),
                            estimator.predict_proba(split.val), split.targets),
            "test": evaluate(split.test_y_t, estimator.predict_proba(split.test),
                             split.targets),
            "seconds": time.perf_counter() - t0}


def summary_markdown(pairs: dict[int, tuple[dict, dict]]) -> str:
    """Per seed: validation and test mAP unperturbed / perturbed and |difference|; then the
    largest and mean |difference| and whether every seed meets the criterion."""
    rows = ["| seed | val mAP | val mAP perturbed | test mAP | test mAP perturbed | "
            "abs. test difference |", "|---|---|---|---|---|---|"]
    diffs = {}
    for seed, (base, moved) in sorted(pairs.items()):
        diffs[seed] = abs(base["test"]["mAP"] - moved["test"]["mAP"])
        rows.append(f"| {seed} | {base['val']['mAP']:.3f} | {moved['val']['mAP']:.3f} | "
                    f"{base['test']['mAP']:.3f} | {moved['test']['mAP']:.3f} | "
                    f"{diffs[seed]:.4f} |")
    val = stats.mean_std([b["val"]["mAP"] for b, _ in pairs.values()])
    test = stats.mean_std([b["test"]["mAP"] for b, _ in pairs.values()])
    worst = max(diffs.values())
    verdict = "meets" if worst < CRITERION else "misses"
    return ("\n".join(rows) + f"\n\nUnperturbed: validation mAP {val[0]:.3f} ± {val[1]:.3f}, "
            f"test mAP {test[0]:.3f} ± {test[1]:.3f}. |test difference|: max {worst:.4f}, "
            f"mean {np.mean(list(diffs.values())):.4f}; **{verdict}** the criterion "
            f"(< {CRITERION} on every seed).\n")


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="bench: %(message)s", stream=sys.stderr)
    p = method_run_parser("python -m bench.stability", __doc__.splitlines()[0], "Zero-shot")
    p.add_argument("--eps", type=float, default=1e-6)
    args = p.parse_args(argv)
    if not args.eps > 0:
        print(f"error: --eps must be > 0, got {args.eps}", file=sys.stderr)
        return 2
    run = prepare_or_report(args, "stability")
    if run is None:
        return 2
    limit_threads(args.threads)
    split, seeds, params = run.split, run.seeds, run.params
    folder = run.ctx.run_dir / run.name
    pairs = {}
    for seed in seeds:
        base, moved = (saved_run(
            folder / f"seed{seed}-eps{eps:g}.json",
            partial(run_one, split, args.method, seed, run.ctx, params, eps),
            lambda r: (f"seed {r['seed']} eps {r['eps']:g}: val mAP {r['val']['mAP']:.3f}, "
                       f"test mAP {r['test']['mAP']:.3f}"))
            for eps in (0.0, args.eps))
        pairs[seed] = (base, moved)
    text = (f"# Stability of {args.method} under a {args.eps:g} perturbation of its initial "
            f"weights: {args.dataset}, scale {run.ctx.scale.name}\n\nData: {split.source}; sizes "
            f"{split.sizes}; job params {pairs[seeds[0]][0]['params']}.\n\n"
            f"{summary_markdown(pairs)}")
    atomic_write_text(folder / "summary.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
