"""Diagnostics of ADDES's synthetic training data D_s for one (dataset, seed).

    python -m bench.diagnose [--data-dir DIR] [--scale quick] [--dataset stackoverflow-1]
        [--seed 0] [--strategies prior,resample,tied] [--out DIR] [--threads 1]
        [--variant ADDES|ADDES+|...] [--options k=v,k=v] [--alpha 0.1]
    python -m bench.diagnose --summary <out>/diagnose-stackoverflow-1-quick-seed*.json

The report (printed, and written to <out>/diagnose-<dataset>-<scale>-seed<k>.md, with the
raw selection and conditioning numbers in a .json beside it) has three parts, kept apart:

0. Conditioning (bench.conditioning; no test data, no true target label): the y_t and y_s
   conditioning gaps, the NLL change when labels are flipped or shuffled, KL of z per
   dimension, q_C's validation AP after each phase (from the generator's metadata), and
   Table 3's title pairs (one target on and off under the same z and y_s) with the D_e
   judge's score of each title.

1. Selection (validation data only). For each label-sampling strategy of
   `ADDESGenerator.sample_labels`, the suite's AugCNN (text-CNN) and AugLR (TF-IDF+LR) are
   trained on D_e + D_s (|D_s| = the scale's n_synthetic), and text-CNN and TF-IDF+LR on D_e
   alone. Each is scored on the validation part against its Eq. 19 target estimates, as
   Semi-CNN chooses its lambda. `select_strategy` names the strategy with the highest
   validation mAP (mean over the two classifiers). Nothing here reads a true target label or
   the test set. Caveat: the criterion itself is Eq. 19, so it favours D_s whose targets
   follow Eq. 19 (the "tied" strategy labels D_s exactly that way).
2. Analysis only (oracle). It uses the true target labels of training-side data
   (`Split.oracle_target_labels`) to explain results, never to select anything: q_C against
   Eq. 19 on validation, whether generated titles carry their target label (a TF-IDF+LR judge
   trained on D_l's true labels), exact copies of D_l titles, and title lengths.

`--summary` reads the .json files of several seeds of one dataset and selects over them
(`seed_summary`): per strategy, how often it was selected, its validation mAP over seeds,
and its paired difference to the strategy selected on all seeds together.

The split, the generator and each D_s come from bench.data.splits and bench.artifacts, cached
under <out>/cache, so a generator trained by the suite with the same settings is reused.
Test-set numbers are never computed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score

from addes.data import PAD, Inputs
from addes.tokens import TOKEN_PATTERN
from addes.train import LABEL_STRATEGIES, POSTERIOR_STRATEGIES, ADDESConfig, ADDESGenerator
from baselines.tfidf_lr import TfidfLogisticRegression
from bench import artifacts, runner, stats
from bench.conditioning import (
    conditioning_markdown,
    conditioning_report,
    judge,
    linked_flip_gap,
    linked_flip_markdown,
    paired_examples,
)
from bench.data.splits import DATASETS, DEFAULT_RELATIONS, Split, load_split, modality_of
from bench.data.stackoverflow import find_data_dir
from bench.errors import UserError
from bench.experiments import resolve_params
from bench.io import atomic_write_json, atomic_write_text, check_writable
from bench.methods import Estimator, generator_params, get_method
from bench.metrics import evaluate
from bench.report.tables import table3_markdown
from bench.runner import RunContext, limit_threads, with_estimated_targets
from bench.scales import Scale, get_scale
from bench.tuning import tune_allocator

log = logging.getLogger("bench")

# classifier -> (its registered method on D_e, its registered method on D_e + D_s)
MODELS = {"text-CNN": ("text-CNN", "AugCNN"), "TF-IDF+LR": ("TF-IDF+LR", "AugLR")}
D_E_ALONE = "(D_e alone)"  # the strategy column of the rows trained without D_s
N_BOOTSTRAP = 1000
N_CONDITIONING = 1000  # y_s rows of the label-conditioning check
# compared by default: every strategy but generation from the posterior (opt-in: --strategies)
DEFAULT_STRATEGIES = tuple(s for s in LABEL_STRATEGIES if s not in POSTERIOR_STRATEGIES)
# the published generator; a report of any other is named after what differs (`report_path`)
DEFAULT_VARIANT, DEFAULT_ALPHA = "ADDES", ADDESConfig.alpha
ORACLE_NOTE = "uses true target labels of training-side data; never used for selection"


@dataclass(frozen=True)
class ValScore:
    """One classifier trained with one strategy's D_s (or none), scored on validation against
    Eq. 19 targets. `scores`: its validation predictions [n_val, |T|] (for the bootstrap)."""

    model: str
    strategy: str
    mAP: float
    AUC: float
    scores: np.ndarray | None = field(default=None, repr=False, compare=False)


# ---------------------------------------------------------------------------------------------
# command line


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2, like every other user error
        raise UserError(message)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The options, validated: every mistake is a UserError naming the option."""
    p = _Parser(prog="python -m bench.diagnose", description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", type=Path, help="real Stack Overflow data (default: "
                   "$ADDES_DATA/stackoverflow, ./data/stackoverflow, else the stand-in)")
    p.add_argument("--scale", default="quick", help="smoke | quick (default) | paper")
    p.add_argument("--dataset", default="stackoverflow-1",
                   help="stackoverflow-1 (default) | stackoverflow-2")
    p.add_argument("--seed", type=int, default=0, help="generator, D_s and classifier seed")
    p.add_argument("--strategies", default=",".join(DEFAULT_STRATEGIES),
                   help=f"label-sampling strategies to compare, among "
                        f"{','.join(LABEL_STRATEGIES)} (default: {','.join(DEFAULT_STRATEGIES)})")
    p.add_argument("--relations", type=Path, default=DEFAULT_RELATIONS,
                   help="Eq. 18 relations file")
    p.add_argument("--out", type=Path, default=Path("results"),
                   help="output root: the report goes here, the cache in <out>/cache")
    p.add_argument("--threads", type=int, default=1, help="threads, torch's and BLAS's (default 1)")
    p.add_argument("--variant", default=DEFAULT_VARIANT,
                   help=f"generator variant: {', '.join(artifacts.VARIANTS)} (default ADDES)")
    p.add_argument("--alpha", type=float, default=DEFAULT_ALPHA,
                   help=f"Eq. 11's alpha (default {DEFAULT_ALPHA})")
    p.add_argument("--options", default="",
                   help="generator options k=v,k=v (bench.artifacts.OPTION_FIELDS)")
    p.add_argument("--n-synthetic", type=int, metavar="N",
                   help="|D_s| of the selection part and the analysis (default: the scale's); "
                        "the generator is the same, so a sweep of N reuses its cache entry")
    p.add_argument("--temperature", type=float, default=artifacts.DEFAULT_TEMPERATURE,
                   metavar="T", help="sampling temperature of D_s's titles in the selection part "
                   "and the analysis (default 1: the decoder's own word distribution); the "
                   "generator is the same")
    p.add_argument("--target-labels", default="assigned", choices=artifacts.TARGET_LABELS,
                   help="D_s's labels in the selection part: assigned (default: those it was "
                   "generated under), q_C (q_C's soft targets), shuffled (a control: label rows "
                   "permuted over D_s, so its titles say nothing about their labels)")
    p.add_argument("--summary", type=Path, nargs="+", metavar="JSON",
                   help="summarise the selection files of several seeds of one dataset "
                        "(other options are ignored)")
    args = p.parse_args(argv)
    if args.dataset not in DATASETS or modality_of(args.dataset) != "text":
        text = [d for d in DATASETS if modality_of(d) == "text"]
        raise UserError(f"--dataset: unknown or non-text dataset {args.dataset!r}; "
                        f"choose one of {', '.join(text)}")
    args.strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
    bad = [s for s in args.strategies if s not in LABEL_STRATEGIES]
    if bad or not args.strategies:
        raise UserError(f"--strategies: {', '.join(bad) or 'empty list'}; choose among "
                        f"{', '.join(LABEL_STRATEGIES)}")
    if args.variant not in artifacts.VARIANTS:
        raise UserError(f"--variant: unknown {args.variant!r}; choose one of "
                        f"{', '.join(artifacts.VARIANTS)}")
    try:
        artifacts.parse_options(args.options)
    except ValueError as err:
        raise UserError(f"--options: {err}") from None
    if args.seed < 0:
        raise UserError(f"--seed: must be >= 0, got {args.seed}")
    if args.threads <= 0:
        raise UserError(f"--threads: must be a positive integer, got {args.threads}")
    if args.n_synthetic is not None and args.n_synthetic <= 0:
        raise UserError(f"--n-synthetic: must be a positive integer, got {args.n_synthetic}")
    if not args.temperature > 0:
        raise UserError(f"--temperature: must be > 0, got {args.temperature}")
    return args


# ---------------------------------------------------------------------------------------------
# selection: validation data only (inexact labels and their Eq. 19 estimates)


def synthetic_params(scale: Scale, strategy: str | None = None, variant: str = "ADDES",
                     options: str = "", alpha: float | None = None,
                     n_synthetic: int | None = None,
                     temperature: float = artifacts.DEFAULT_TEMPERATURE,
                     target_labels: str = "assigned") -> dict:
    """AugCNN's job params (the suite's defaults, |D_s| = the scale's n_synthetic), with
    the generator's variant (and the params its registration carries, as in the suite's
    grids), `strategy` as the label sampling, options, alpha, |D_s|, the titles' sampling
    temperature and D_s's labels, when given; AugLR has the same defaults."""
    overrides: dict = {} if variant == "ADDES" else generator_params(variant)
    if n_synthetic is not None:
        overrides["n_synthetic"] = n_synthetic
    if strategy is not None:
        overrides["label_sampling"] = strategy
    if options:
        overrides["options"] = options
    if alpha is not None:
        overrides["alpha"] = alpha
    if temperature != artifacts.DEFAULT_TEMPERATURE:  # the default keeps the suite's job keys
        overrides["temperature"] = temperature
    if target_labels != "assigned":
        overrides["target_labels"] = target_labels
    return dict(resolve_params("AugCNN", overrides, scale))


def fit_method(split: Split, method: str, params: dict, seed: int,
               ctx: RunContext) -> Estimator:
    """A registered method trained exactly as the suite's runner trains it."""
    return runner.fit_method(split, get_method(method), params, seed, ctx)[0]


def validation_set(split: Split) -> tuple[Inputs, np.ndarray]:
    """The validation part with [y_s | Eq. 19 estimate of y_t], as every method sees it."""
    return split.val, with_estimated_targets(split, split.val_y_s)


def validation_targets(split: Split) -> np.ndarray:
    """Eq. 19's estimated target labels of the validation part [n_val, |T|]."""
    return split.estimated_targets(split.val_y_s)


def validation_score(split: Split, estimator: Estimator, model: str, strategy: str) -> ValScore:
    """mAP and mean AUC of `estimator` on validation against Eq. 19 targets."""
    scores = estimator.predict_proba(split.val)
    metrics = evaluate(validation_targets(split), scores, split.targets)
    return ValScore(model, strategy, metrics["mAP"], metrics["AUC"], scores)


def selection_scores(split: Split, ctx: RunContext, seed: int,
                     strategies: list[str], variant: str = "ADDES",
                     options: str = "", alpha: float | None = None,
                     n_synthetic: int | None = None,
                     temperature: float = artifacts.DEFAULT_TEMPERATURE,
                     target_labels: str = "assigned") -> list[ValScore]:
    """Every classifier on D_e alone and on D_e + D_s of each strategy, on validation."""
    rows = []
    for model, (plain, augmented) in MODELS.items():
        log.info("selection: %s on D_e", model)
        rows.append(validation_score(split, fit_method(split, plain, {}, seed, ctx),
                                     model, D_E_ALONE))
        for strategy in strategies:
            log.info("selection: %s on D_e + D_s (%s)", model, strategy)
            params = synthetic_params(ctx.scale, strategy, variant, options, alpha,
                                      n_synthetic, temperature, target_labels)
            estimator = fit_method(split, augmented, params, seed, ctx)
            rows.append(validation_score(split, estimator, model, strategy))
    return rows


def mean_map_by_strategy(scores: list[ValScore]) -> dict[str, float]:
    """Validation mAP averaged over the classifiers, per strategy (D_e alone included), in
    the order the strategies first appear."""
    by_strategy: dict[str, list[float]] = {}
    for row in scores:
        by_strategy.setdefault(row.strategy, []).append(row.mAP)
    return {s: float(np.mean(v)) for s, v in by_strategy.items()}


def select_strategy(scores: list[ValScore]) -> str:
    """The label-sampling strategy with the highest validation mAP (mean over classifiers;
    ties go to the strategy listed first). Rows without D_s are not candidates."""
    candidates = {s: m for s, m in mean_map_by_strategy(scores).items() if s != D_E_ALONE}
    if not candidates:
        raise ValueError("no strategy to select: every row is trained on D_e alone")
    return max(candidates, key=lambda s: (candidates[s], -list(candidates).index(s)))


def average_precision(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """scikit-learn's average_precision_score for one binary class (sum over distinct
    thresholds, highest first, of recall gain x precision), 20x faster: the bootstrap calls
    it thousands of times."""
    order = np.argsort(-y_score, kind="stable")
    y, s = y_true[order], y_score[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # last row of each distinct score
    tp = np.cumsum(y)[last]
    precision, recall = tp / (last + 1), tp / tp[-1]
    return float(np.sum(np.diff(recall, prepend=0.0) * precision))


def _mean_ap(y_true: np.ndarray, score_sets: list[np.ndarray]) -> float:
    """mAP over target classes, averaged over several classifiers' scores."""
    return float(np.mean([average_precision(t, s) for scores in score_sets
                          for t, s in zip(y_true.T, scores.T, strict=True)]))


def bootstrap_se(y_true: np.ndarray, scores_a: list[np.ndarray], scores_b: list[np.ndarray],
                 n_boot: int = N_BOOTSTRAP, seed: int = 0) -> float:
    """Standard error (std, ddof=1) of mAP(a) - mAP(b) over validation rows resampled with
    replacement, paired (a and b see the same rows); resamples where a class is constant are
    skipped. Measures the noise of a small validation part, not of training."""
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(y_true), len(y_true))
        y = y_true[idx]
        if (y.min(axis=0) == y.max(axis=0)).any():
            continue
        diffs.append(_mean_ap(y, [s[idx] for s in scores_a])
                     - _mean_ap(y, [s[idx] for s in scores_b]))
    return float(np.std(diffs, ddof=1))


# ---------------------------------------------------------------------------------------------
# analysis only: uses true target labels of training-side data (oracle), never for selection


def q_c_against_truth(split: Split, gen: ADDESGenerator) -> dict[str, dict[str, float]]:
    """ORACLE. mAP / mean AUC on the validation part against its TRUE target labels, of
    q_C(y_t|x, G)'s probabilities and of Eq. 19's 0/1 estimates."""
    truth = split.oracle_target_labels("val")
    q_c = gen.predict_proba(split.val)[:, split.graph.n_inexact :]
    return {"q_C (ADDES classifier)": evaluate(truth, q_c, split.targets),
            "Eq. 19 from y_s (0/1)": evaluate(truth, validation_targets(split), split.targets)}


def selection_against_truth(split: Split, scores: list[ValScore]) -> list[dict]:
    """ORACLE. Each selection row's validation predictions scored against the TRUE target
    labels beside the Eq. 19 estimates it was selected on: how far Eq. 19 validation
    misjudges D_e + D_s against D_e alone (no fit is repeated)."""
    truth = split.oracle_target_labels("val")
    return [{"model": s.model, "strategy": s.strategy, "mAP_eq19": s.mAP,
             "mAP_true": evaluate(truth, s.scores, split.targets)["mAP"]} for s in scores]


def true_prevalence(split: Split) -> dict[str, float]:
    """ORACLE. The fraction of validation titles TRULY in each target class."""
    truth = split.oracle_target_labels("val")
    return {t: float(p) for t, p in zip(split.targets, truth.mean(axis=0), strict=True)}


def label_judge(split: Split, seed: int) -> TfidfLogisticRegression:
    """ORACLE. TF-IDF+LR trained on D_l's titles with their TRUE target labels."""
    y = np.concatenate([split.y_s, split.oracle_target_labels("labeled")], axis=1)
    return TfidfLogisticRegression(TOKEN_PATTERN, seed=seed).fit(split.labeled, y,
                                                                 graph=split.graph)


def label_conditioning(split: Split, gen: ADDESGenerator, seed: int,
                       n: int = N_CONDITIONING) -> list[dict]:
    """ORACLE. Does a generated title carry its target label? n y_s rows resampled from D_l,
    each decoded twice from the same z: every target on, every target off. Per target: the
    judge's validation AP (true labels: is the judge any good?) and its mean p(target) on
    each set; a generator that conditions on y_t gives a clearly positive difference."""
    judge = label_judge(split, seed)
    rng = np.random.default_rng(seed)
    y_s = split.y_s[rng.integers(0, len(split.y_s), n)]
    z = gen.sample_z(n, seed=seed)
    p = {}
    for on in (1.0, 0.0):
        y_t = np.full((n, split.graph.n_target), on, np.float32)
        p[on] = judge.predict_proba(gen.generate(y_s, y_t, seed=seed, z=z)).mean(axis=0)
    truth = split.oracle_target_labels("val")
    judge_ap = [average_precision_score(t, s) for t, s in
                zip(truth.T, judge.predict_proba(split.val).T, strict=True)]
    return [{"target": t, "judge_val_AP": float(ap), "p_on": float(p[1.0][j]),
             "p_off": float(p[0.0][j]), "difference": float(p[1.0][j] - p[0.0][j])}
            for j, (t, ap) in enumerate(zip(split.targets, judge_ap, strict=True))]


def mean_length(inputs: Inputs) -> float:
    """Mean number of tokens per title (non-padding ids)."""
    return float((inputs.x != PAD).sum(axis=1).mean())


def copy_fraction(split: Split, inputs: Inputs) -> float:
    """Fraction of `inputs` whose token sequence (over the vocabulary) is exactly that of a
    D_l title: a memorisation check."""
    seen = {split.labeled.decode(i) for i in range(len(split.labeled))}
    return float(np.mean([inputs.decode(i) in seen for i in range(len(inputs))]))


def copies_and_lengths(split: Split, synthetic: dict[str, Inputs]) -> list[dict]:
    """One row for D_l, then one per strategy's D_s: size, copy fraction, mean length."""
    rows = [{"titles": "D_l", "n": len(split.labeled), "copies": None,
             "length": mean_length(split.labeled)}]
    for strategy, inputs in synthetic.items():
        rows.append({"titles": f"D_s ({strategy})", "n": len(inputs),
                     "copies": copy_fraction(split, inputs), "length": mean_length(inputs)})
    return rows


# ---------------------------------------------------------------------------------------------
# the report


def _table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows]) + "\n"


def selection_section(split: Split, scores: list[ValScore], n_synthetic: int,
                      temperature: float = artifacts.DEFAULT_TEMPERATURE,
                      target_labels: str = "assigned") -> str:
    """Markdown: the validation table, the selected strategy, and each row's distance to it
    with the paired bootstrap SE of that distance."""
    selected = select_strategy(scores)
    means = mean_map_by_strategy(scores)
    y_val = validation_targets(split)

    def sets(strategy: str) -> list[np.ndarray]:
        return [r.scores for r in scores if r.strategy == strategy]

    rows = []
    for strategy, mean in means.items():
        cells = [f"{r.mAP:.3f} / {r.AUC:.3f}" for r in scores if r.strategy == strategy]
        if strategy == selected:
            gap = "selected"
        else:
            se = bootstrap_se(y_val, sets(strategy), sets(selected))
            gap = f"{mean - means[selected]:+.3f} ± {se:.3f}"
        rows.append([_training_set(strategy), *cells, f"{mean:.3f}", gap])
    models = list(dict.fromkeys(r.model for r in scores))
    table = _table(["training set", *(f"{m} mAP / AUC" for m in models), "mean mAP",
                    "mean mAP − selected's (bootstrap SE)"], rows)
    beats = "beats" if means[selected] > means[D_E_ALONE] else "does not beat"
    return (f"## Selection (validation data only: inexact labels, Eq. 19 targets)\n\n"
            f"Validation part: {len(split.val)} titles; |D_s| = {n_synthetic} (titles sampled "
            f"at temperature {temperature:g}, labels {target_labels}); target "
            f"prevalence under Eq. 19 {_fmt_list(y_val.mean(axis=0))}. Scores are mAP / AUC "
            f"against the Eq. 19 estimates of the validation targets; the SE is a paired "
            f"bootstrap over validation rows ({N_BOOTSTRAP} resamples), not over training "
            f"seeds.\n\n{table}\n"
            f"**Selected label sampling: {selected}** (highest mean validation mAP, "
            f"{means[selected]:.3f}); it {beats} D_e alone ({means[D_E_ALONE]:.3f}) on "
            f"validation. Read that comparison with its bias in mind: a classifier on D_e "
            f"alone learns Eq. 19's rule (a target iff a linked tag), which Eq. 19 targets "
            f"reward, so validation tends to under-rate D_e + D_s against D_e alone (section 'The "
            f"selection rows against the true targets' below measures it on this run; "
            f"docs/findings-stackoverflow.md over generators).\n")


def analysis_section(prevalence: dict[str, float], q_c: dict[str, dict[str, float]],
                     conditioning: list[dict], copies: list[dict],
                     selection_truth: list[dict]) -> str:
    """Markdown: the four oracle diagnostics, each a table."""
    q_table = _table(["scores on validation", "mAP (true targets)", "mean AUC (true targets)"],
                     [[k, f"{v['mAP']:.3f}", f"{v['AUC']:.3f}"] for k, v in q_c.items()])
    c_table = _table(
        ["target", "judge val AP", "mean p(target), y_t = 1", "mean p(target), y_t = 0",
         "difference"],
        [[r["target"], f"{r['judge_val_AP']:.3f}", f"{r['p_on']:.3f}", f"{r['p_off']:.3f}",
          f"{r['difference']:+.3f}"] for r in conditioning])
    m_table = _table(["titles", "n", "exact copies of a D_l title", "mean length (tokens)"],
                     [[r["titles"], str(r["n"]), "-" if r["copies"] is None
                       else f"{r['copies']:.3f}", f"{r['length']:.2f}"] for r in copies])
    s_table = _table(["classifier", "training set", "mAP (Eq. 19 targets)", "mAP (true targets)"],
                     [[r["model"], _training_set(r["strategy"]), f"{r['mAP_eq19']:.3f}",
                       f"{r['mAP_true']:.3f}"] for r in selection_truth])
    return (f"## Analysis only (oracle: {ORACLE_NOTE})\n\n"
            f"### q_C against Eq. 19\n\nTrue target prevalence on validation: "
            f"{', '.join(f'{t} {p:.3f}' for t, p in prevalence.items())}.\n\n{q_table}\n"
            f"### Label conditioning\n\nA TF-IDF+LR judge trained on D_l's true target labels "
            f"scores {N_CONDITIONING} generated titles per setting: the same y_s rows "
            f"(resampled from D_l) and the same z, with every target on (y_t = 1) or off "
            f"(y_t = 0).\n\n{c_table}\n"
            f"### Memorisation and length\n\nCopies: the title's token sequence over the "
            f"vocabulary equals a D_l title's.\n\n{m_table}\n"
            f"### The selection rows against the true targets\n\nThe same validation "
            f"predictions as the selection table, scored against Eq. 19's estimates (what "
            f"selection sees) and against the true target labels.\n\n{s_table}")


def _training_set(strategy: str) -> str:
    """A selection row's name: D_e alone, or D_e + D_s of a label-sampling strategy."""
    return "D_e" if strategy == D_E_ALONE else f"D_e + D_s ({strategy})"


def _fmt_list(values: np.ndarray) -> str:
    return ", ".join(f"{v:.3f}" for v in values)


# ---------------------------------------------------------------------------------------------
# entry point


def diagnose(args: argparse.Namespace) -> tuple[str, dict]:
    """Load the split and generator (cached), run both parts; return the Markdown report and
    the selection record (raw validation numbers, for `--summary`)."""
    data_dir = find_data_dir(args.data_dir, "stackoverflow")
    scale = get_scale(args.scale)
    ctx = RunContext("stackoverflow", scale, args.out, args.out / "cache", data_dir,
                     args.relations, threads=args.threads)
    split = load_split(args.dataset, scale, data_dir, ctx.cache_dir, args.relations)
    params = synthetic_params(scale, None, args.variant, args.options, args.alpha)
    gen = artifacts.trained_generator(split, seed=args.seed, params=params, scale=scale,
                                      cache_dir=ctx.cache_dir)
    if getattr(gen, "conditioning_", None) is None:  # a generator cached before it existed
        gen.conditioning_ = conditioning_report(split, gen, args.seed)
    d_e_judge = judge(split, args.seed)
    examples = paired_examples(split, gen, d_e_judge, args.seed)
    flips = linked_flip_gap(split, gen, d_e_judge, args.seed)
    n_synthetic = args.n_synthetic or params["n_synthetic"]
    generator = {"variant": args.variant, "options": args.options, "alpha": args.alpha}
    d_s = {"n_synthetic": n_synthetic, "temperature": args.temperature,
           "target_labels": args.target_labels}
    scores = selection_scores(split, ctx, args.seed, args.strategies, **generator, **d_s)
    synthetic = {s: artifacts.synthetic_training_set(
        split, seed=args.seed, params=synthetic_params(scale, s, **generator, **d_s),
        scale=scale, cache_dir=ctx.cache_dir)[0] for s in args.strategies}
    log.info("analysis (oracle)")
    selection_truth = selection_against_truth(split, scores)
    analysis = analysis_section(true_prevalence(split), q_c_against_truth(split, gen),
                                label_conditioning(split, gen, args.seed),
                                copies_and_lengths(split, synthetic), selection_truth)
    selection = selection_section(split, scores, n_synthetic, args.temperature,
                                  args.target_labels)
    report = (f"# ADDES diagnostics: {args.dataset}, {scale.name} scale, seed {args.seed}\n\n"
              f"`{args.command}`. Data: {split.source}; sizes {split.sizes}. Generator: "
              f"{args.variant} (alpha {params['alpha']}, beta {params['beta']}, options "
              f"{artifacts.generator_options(params, scale) or 'none'}, seed {args.seed}) from the "
              f"cache {ctx.cache_dir}. No test-set number is computed.\n\n"
              f"{conditioning_markdown(gen.conditioning_)}{linked_flip_markdown(flips)}\n"
              f"{table3_section(examples)}\n"
              f"{selection}\n{analysis}")
    record = selection_record(args, split, scores)
    record.update(variant=args.variant, options=args.options, n_synthetic=n_synthetic,
                  temperature=args.temperature, target_labels=args.target_labels,
                  conditioning=gen.conditioning_,
                  table3=examples, linked_flip=flips, oracle_selection_true=selection_truth)
    return report, record


def table3_section(examples: list[dict]) -> str:
    """Markdown: Table 3's title pairs with the D_e judge's scores, and the mean score of the
    "on" and "off" titles per target (no true target label)."""
    means = []
    for target in dict.fromkeys(ex["target"] for ex in examples):
        on, off = ([ex["judge"] for ex in examples if ex["target"] == target
                    and ex["target_on"] == flag] for flag in (True, False))
        means.append(f"{target} {np.mean(on):.3f} vs {np.mean(off):.3f}")
    return (f"## Table 3: title pairs (same z and y_s, one target on / off)\n\nMean judge "
            f"p(target), on vs off: {', '.join(means)}.\n\n{table3_markdown(examples)}")


def selection_record(args: argparse.Namespace, split: Split, scores: list[ValScore]) -> dict:
    """The raw validation numbers of one run (no predictions, no oracle number)."""
    return {"dataset": args.dataset, "scale": args.scale, "seed": args.seed,
            "source": split.source, "selected": select_strategy(scores),
            "selection": [{"model": r.model, "strategy": r.strategy, "mAP": r.mAP,
                           "AUC": r.AUC} for r in scores]}


# ---------------------------------------------------------------------------------------------
# several seeds


def load_selection_records(paths: list[Path]) -> list[dict]:
    """The selection records of `--summary`: readable, all of one dataset, scale and set of
    strategies, one per seed."""
    records = []
    for path in paths:
        try:
            record = json.loads(Path(path).read_text())
            record["selection"] = [ValScore(**row) for row in record["selection"]]
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise UserError(f"--summary {path}: not a bench.diagnose selection file "
                            f"({err})") from None
        records.append(record)
    kinds = {(r["dataset"], r["scale"], *mean_map_by_strategy(r["selection"]),
              *d_s_settings(r)) for r in records}
    if len(kinds) != 1:
        raise UserError(f"--summary: files of one dataset, scale, set of strategies and D_s "
                        f"temperature and labels only, got {sorted(kinds)}")
    seeds = [r["seed"] for r in records]
    if len(set(seeds)) != len(seeds):
        raise UserError(f"--summary: one file per seed, got seeds {sorted(seeds)}")
    return records


def d_s_settings(record: dict) -> list[str]:
    """['T 1.5', 'labels shuffled']: a record's D_s settings that are not the defaults
    (records written before these existed had the defaults)."""
    temperature = record.get("temperature", artifacts.DEFAULT_TEMPERATURE)
    labels = record.get("target_labels", "assigned")
    return ([f"T {temperature:g}"] if temperature != artifacts.DEFAULT_TEMPERATURE else []) + (
        [f"labels {labels}"] if labels != "assigned" else [])


def seed_summary(records: list[dict]) -> str:
    """Markdown: the selection over seeds. The strategy selected on all seeds together is
    `select_strategy` over every row; per strategy: the seeds that selected it, its mean
    validation mAP (mean over classifiers) over seeds with the std (ddof=1), and its paired
    difference to the selected strategy (paired t-test over seeds, 95% CI, unadjusted p)."""
    by_seed = {r["seed"]: mean_map_by_strategy(r["selection"]) for r in records}
    selected = select_strategy([row for r in records for row in r["selection"]])
    rows = []
    for strategy in next(iter(by_seed.values())):
        values = {seed: means[strategy] for seed, means in by_seed.items()}
        mean, std = stats.mean_std(list(values.values()))
        chosen = [str(r["seed"]) for r in records if r["selected"] == strategy]
        if strategy == selected:
            gap = "selected"
        else:
            c = stats.compare(values, {seed: m[selected] for seed, m in by_seed.items()})
            gap = f"{c.delta:+.3f} [{c.ci_low:+.3f}, {c.ci_high:+.3f}], p = {c.p_value:.2f}"
        rows.append([_training_set(strategy), ", ".join(chosen) or "-",
                     f"{mean:.3f} ± {std:.3f}", gap])
    first = records[0]
    table = _table(["training set", "selected by seeds", "mean validation mAP (± std)",
                    "− selected's: mean [95% CI], paired p"], rows)
    return (f"# Label-sampling selection over seeds: {first['dataset']}, {first['scale']} "
            f"scale, seeds {', '.join(str(s) for s in sorted(by_seed))}\n\n"
            f"Data: {first['source']}. Validation mAP against Eq. 19 targets, mean over "
            f"text-CNN and TF-IDF+LR, per seed; no true target label and no test number.\n\n"
            f"{table}\n**Selected over seeds: {selected}**.\n")


def report_path(args: argparse.Namespace, suffix: str = ".md") -> Path:
    """<out>/diagnose-<dataset>-<scale>[-<variant>][-alpha<a>][-opts<hash>][-ds<n>][-T<t>]
    [-labels-<l>]-seed<k><suffix>:
    the generator's settings that differ from the published defaults are in the name, so
    diagnosing another alpha, variant or option set of the same seed never overwrites a report
    (and `--summary <out>/diagnose-...-seed*.json` globs one configuration)."""
    config = ""
    if args.variant != DEFAULT_VARIANT:
        config += f"-{args.variant}"
    if args.alpha != DEFAULT_ALPHA:
        config += f"-alpha{args.alpha:g}"
    if args.options:
        config += f"-opts{hashlib.sha1(args.options.encode()).hexdigest()[:8]}"
    if args.n_synthetic is not None:
        config += f"-ds{args.n_synthetic}"
    if args.temperature != artifacts.DEFAULT_TEMPERATURE:
        config += f"-T{args.temperature:g}"
    if args.target_labels != "assigned":
        config += f"-labels-{args.target_labels}"
    return args.out / f"diagnose-{args.dataset}-{args.scale}{config}-seed{args.seed}{suffix}"


def main(argv: list[str] | None = None) -> int:
    """Run the diagnostics (or `--summary`); 0 on success, 2 (one line) on a user error."""
    logging.basicConfig(level=logging.INFO, format="bench: %(message)s", stream=sys.stderr)
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = parse_args(argv)
        if args.summary:
            print(seed_summary(load_selection_records(args.summary)))
            return 0
        args.command = "python -m bench.diagnose " + shlex.join(argv)
        limit_threads(args.threads)
        tune_allocator()
        check_writable(args.out)
        report, record = diagnose(args)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    atomic_write_text(report_path(args), report)
    atomic_write_json(report_path(args, ".json"), record)
    print(report)
    print(f"bench: report written to {report_path(args)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
