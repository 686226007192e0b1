"""Hard vs soft (vs prevalence) target estimates of D_e for one method on MJSynth (issue 17).

    python -m bench.estimate_compare --dataset mjsynth-1 --method SDANN --scale mjcpu
        --seeds 0,1,2 --estimates hard,soft [--word-list FILE] [--data-dir DIR]
        [--n-labeled N] [--params NAME=VALUE,...] [--out DIR] [--threads 1]

Each (estimate, seed) is trained exactly as a suite job with the job parameter
`target_estimate` (runner.fit_method), on top of the method's default job params and any
`--params` (e.g. `target_share=0.5` for ML-GCN: compare two runs that differ only there), and
saved as one JSON under <out>/estimate-compare/<dataset>-<scale>-<method>[-<params>]/, named
by every job param, the method's defaults included (a rerun skips finished ones). Two kinds of
number, kept apart:
  - selection (validation data, no true target label): the validation BCE of the model's
    probabilities against the forest's probabilities p(y_t | y_s) of the validation images,
    the one yardstick every estimate can be compared on (the loss of the "soft" estimate; a
    0/1 estimate's own loss would favour itself). The default is the estimate with the
    lowest mean over seeds.
  - evaluation (test set, true labels, after the fact): AUC and mAP, with paired t-tests of
    each estimate against "hard" (bench.stats.compare).
"""

from __future__ import annotations

import logging
import sys
import time
from functools import partial
from typing import Any

import numpy as np

from bench import stats
from bench.data.splits import load_split
from bench.data.stackoverflow import find_data_dir
from bench.data.wordgraph import TARGET_ESTIMATES
from bench.errors import UserError
from bench.io import atomic_write_text
from bench.method_runs import (
    method_run_parser,
    params_suffix,
    parse_params,
    parse_seeds,
    saved_run,
)
from bench.methods import get_method
from bench.metrics import evaluate
from bench.runner import RunContext, fit_method, limit_threads
from bench.scales import get_scale

log = logging.getLogger("bench")


def soft_bce(targets: np.ndarray, scores: np.ndarray, eps: float = 1e-6) -> float:
    """Mean binary cross-entropy of probabilities `scores` against soft targets in [0, 1]."""
    p = np.clip(np.asarray(scores, np.float64), eps, 1 - eps)
    t = np.asarray(targets, np.float64)
    return float(-(t * np.log(p) + (1 - t) * np.log(1 - p)).mean())


def run_one(split, method: str, estimate: str, seed: int, ctx: RunContext,
            extra: dict[str, Any] | None = None) -> dict:
    """Train one (estimate, seed) as the suite would; its validation and test numbers."""
    t0 = time.perf_counter()
    params = {**get_method(method).default_params, **(extra or {}),
              "target_estimate": estimate}
    estimator, n_train = fit_method(split, get_method(method), params, seed, ctx)
    val_soft = split.estimated_targets(split.val_y_s, "soft")
    return {"method": method, "estimate": estimate, "seed": seed, "params": params,
            "n_train": n_train,
            "val_bce_vs_forest": soft_bce(val_soft, estimator.predict_proba(split.val)),
            "test": evaluate(split.test_y_t, estimator.predict_proba(split.test), split.targets),
            "seconds": time.perf_counter() - t0}


def summary_markdown(results: list[dict]) -> str:
    """Per estimate: validation BCE (selection), test AUC / mAP (mean ± std over seeds) and
    the paired difference to "hard"; then the default the validation loss selects."""
    by = {}
    for r in results:
        by.setdefault(r["estimate"], {})[r["seed"]] = r
    rows = ["| estimate | seeds | val BCE vs forest (selection) | test AUC | test mAP | "
            "AUC − hard: mean [95% CI], paired p | mAP − hard |", "|---|---|---|---|---|---|---|"]
    for estimate, runs in by.items():
        def values(metric, runs=runs):  # called within this iteration; bound for clarity
            return {s: r["test"][metric] for s, r in runs.items()}

        cells = []
        for metric in ("AUC", "mAP"):
            if estimate == "hard" or "hard" not in by:
                cells.append("-")
                continue
            c = stats.compare(values(metric), {s: r["test"][metric]
                                               for s, r in by["hard"].items()})
            cells.append(f"{c.delta:+.3f} [{c.ci_low:+.3f}, {c.ci_high:+.3f}], p = {c.p_value:.3f}")
        bce = stats.mean_std([r["val_bce_vs_forest"] for r in runs.values()])
        auc = stats.mean_std(list(values("AUC").values()))
        map_ = stats.mean_std(list(values("mAP").values()))
        rows.append(f"| {estimate} | {','.join(map(str, sorted(runs)))} | "
                    f"{bce[0]:.4f} ± {bce[1]:.4f} | {auc[0]:.3f} ± {auc[1]:.3f} | "
                    f"{map_[0]:.3f} ± {map_[1]:.3f} | {cells[0]} | {cells[1]} |")
    chosen = min(by, key=lambda e: np.mean([r["val_bce_vs_forest"] for r in by[e].values()]))
    return "\n".join(rows) + f"\n\nDefault selected on validation (lowest BCE): **{chosen}**\n"


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="bench: %(message)s", stream=sys.stderr)
    p = method_run_parser("python -m bench.estimate_compare", __doc__.splitlines()[0], "SDANN",
                          dataset="mjsynth-1", scale="mjcpu", seeds="0,1,2", suite=False)
    p.add_argument("--estimates", default="hard,soft")
    p.add_argument("--n-labeled", type=int, help="|D_l| instead of the scale's (as Figure 6)")
    args = p.parse_args(argv)
    try:
        extra = parse_params(args.params)
        estimates = [e for e in args.estimates.split(",") if e]
        bad = [e for e in estimates if e not in TARGET_ESTIMATES]
        if bad or not estimates:
            raise UserError(f"--estimates: choose among {', '.join(TARGET_ESTIMATES)}")
        seeds = parse_seeds(args.seeds)
        defaults = get_method(args.method).default_params
        scale = get_scale(args.scale)
        data_dir = find_data_dir(args.data_dir, "mjsynth")
        ctx = RunContext("mjsynth", scale, args.out / "estimate-compare", args.out / "cache",
                         data_dir, word_list=args.word_list, threads=args.threads)
        split = load_split(args.dataset, scale, data_dir, ctx.cache_dir, word_list=args.word_list,
                           n_labeled=args.n_labeled)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    limit_threads(args.threads)
    suffix = f"-l{args.n_labeled}" if args.n_labeled else ""
    # every job param but the estimate (in the file name), the method's defaults too: a changed
    # default never reuses the runs of the old one
    suffix += params_suffix({**defaults, **extra})
    folder = ctx.run_dir / f"{args.dataset}-{scale.name}-{args.method}{suffix}"
    results = []
    for seed in seeds:
        for estimate in estimates:
            results.append(saved_run(
                folder / f"{estimate}-seed{seed}.json",
                partial(run_one, split, args.method, estimate, seed, ctx, extra),
                lambda r: (f"{r['estimate']} seed {r['seed']}: test AUC {r['test']['AUC']:.3f} "
                           f"mAP {r['test']['mAP']:.3f}, val BCE {r['val_bce_vs_forest']:.4f}")))
    text = (f"# {args.method} on D_e, hard vs soft targets: {args.dataset}, scale "
            f"{scale.name}\n\nData: {split.source}; sizes {split.sizes}; job params "
            f"{results[0]['params'] if results and 'params' in results[0] else extra}.\n\n"
            f"{summary_markdown(results)}")
    atomic_write_text(folder / "summary.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
