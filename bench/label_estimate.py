"""ORACLE analysis: how much target information the inexact supervision leaves (issue 17).

Every method of Tables 2 and 4 learns the target classes from D_e, whose target labels are
estimated from the inexact labels: Eq. 19 for Stack Overflow (Section 5.3.1), the word-corpus
random forest for MJSynth (Section 5.4.1). This module scores that estimate against the TRUE
target labels of D_l (`Split.oracle_target_labels("labeled")`, the one oracle accessor): per
target, the AUC and AP of each estimate (the 0/1 estimate, and for MJSynth also the forest's
probability and the 0/1 estimate at the corpus-prevalence threshold), its predicted
prevalence (mean estimate) and the true prevalence. A classifier trained on D_e learns these
estimates; its test AUC against true labels is typically bounded by the estimate's AUC (a
perfect imitator of the estimate scores exactly that). Nothing here is used to select
anything.

    python -m bench.label_estimate --suite mjsynth [--scale quick] [--data-dir DIR]
        [--word-list FILE] [--words FILE] [--out DIR]

prints the Markdown table (and writes <out>/label-estimate-<suite>-<scale>.md).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from bench.data.render import load_word_list
from bench.data.splits import DEFAULT_RELATIONS, SUITES, Split, load_split
from bench.data.stackoverflow import find_data_dir
from bench.data.wordgraph import LETTERS, TARGET_ESTIMATES, WordGraph, letter_labels
from bench.errors import UserError
from bench.io import atomic_write_text, check_writable
from bench.scales import get_scale

log = logging.getLogger("bench")

ORACLE_NOTE = ("oracle analysis: scored against the TRUE target labels of D_l "
               "(Split.oracle_target_labels); never used for selection")
COLUMNS = ["dataset", "target", "estimate", "AUC", "AP", "predicted prevalence",
           "true prevalence"]


def estimate_quality(truth: np.ndarray, estimate: np.ndarray) -> dict[str, float]:
    """AUC and AP of one target's estimate (0/1 or probability) against its true 0/1
    labels, the estimate's mean (its predicted prevalence) and the true prevalence. AUC and
    AP are NaN when the truth has a single class; a constant estimate has AUC 0.5."""
    truth = np.asarray(truth, np.float64)
    estimate = np.asarray(estimate, np.float64)
    both = 0 < truth.sum() < len(truth)
    return {"AUC": float(roc_auc_score(truth, estimate)) if both else float("nan"),
            "AP": float(average_precision_score(truth, estimate)) if both else float("nan"),
            "predicted prevalence": float(estimate.mean()),
            "true prevalence": float(truth.mean())}


def split_estimates(split: Split) -> dict[str, np.ndarray]:
    """The target estimates D_e can get from D_l's inexact labels: "hard" (Eq. 19 / the
    forest's 0/1), and for a forest graph also "soft" and "prevalence"."""
    modes = TARGET_ESTIMATES if isinstance(split.graph, WordGraph) else ("hard",)
    return {mode: split.estimated_targets(split.y_s, mode) for mode in modes}


def label_estimate_rows(split: Split) -> list[dict]:
    """ORACLE. One row per (target, estimate) of D_l: the COLUMNS above."""
    truth = split.oracle_target_labels("labeled")
    rows = []
    for j, target in enumerate(split.targets):
        for mode, estimate in split_estimates(split).items():
            rows.append({"dataset": split.dataset, "target": target, "estimate": mode,
                         **estimate_quality(truth[:, j], estimate[:, j])})
    return rows


def word_rows(split: Split, words: tuple[str, ...], name: str) -> list[dict]:
    """The same table for a list of words instead of D_l (MJSynth only; no oracle needed:
    a word's letters are its labels): how the forest's estimate fares on another corpus,
    e.g. the MJSynth lexicon."""
    graph = split.graph
    if not isinstance(graph, WordGraph):
        raise UserError(f"--words: {split.dataset} has no letter graph")
    labels = letter_labels(words)[:, [LETTERS.index(c) for c in graph.classes]]
    y_s, truth = labels[:, : graph.n_inexact], labels[:, graph.n_inexact :]
    return [{"dataset": f"{split.dataset} ({name}, {len(words)} words)", "target": target,
             "estimate": mode,
             **estimate_quality(truth[:, j], graph.estimate_targets(y_s, mode)[:, j])}
            for j, target in enumerate(split.targets) for mode in TARGET_ESTIMATES]


def rows_markdown(rows: list[dict]) -> str:
    """The rows as a Markdown table (numbers to 3 decimals)."""
    def cell(value) -> str:
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(cell(row[c]) for c in COLUMNS) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def section_markdown(rows: list[dict], heading: str = "###") -> str:
    """The report's section: the table with what it means."""
    return (f"{heading} The ceiling the inexact supervision leaves (label estimate of D_e)\n\n"
            f"*{ORACLE_NOTE}.* AUC / AP of the target labels D_e is trained on, against the "
            f"true labels of D_l. \"hard\": the paper's 0/1 estimate (Eq. 19, or the "
            f"word-corpus forest at 0.5); \"soft\": the forest's probability; "
            f"\"prevalence\": the forest at the threshold that marks the letter's corpus "
            f"prevalence. A classifier that learns D_e perfectly reproduces the estimate, so "
            f"its AUC on true labels is about the estimate's.\n\n{rows_markdown(rows)}")


def main(argv: list[str] | None = None) -> int:
    """Print (and write) the label-estimate table of a suite; exit 2 on a user error."""
    logging.basicConfig(level=logging.INFO, format="bench: %(message)s", stream=sys.stderr)
    p = argparse.ArgumentParser(prog="python -m bench.label_estimate",
                                description=__doc__.splitlines()[0])
    p.add_argument("--suite", default="mjsynth", choices=tuple(SUITES))
    p.add_argument("--scale", default="quick")
    p.add_argument("--data-dir", type=Path)
    p.add_argument("--word-list", type=Path)
    p.add_argument("--relations", type=Path, default=DEFAULT_RELATIONS)
    p.add_argument("--words", type=Path, help="MJSynth: also score the estimate on the "
                   "lowercase words of this list (e.g. the MJSynth lexicon)")
    p.add_argument("--out", type=Path, default=Path("results"))
    args = p.parse_args(argv)
    try:
        scale = get_scale(args.scale)
        data_dir = find_data_dir(args.data_dir, args.suite)
        check_writable(args.out)
        rows = []
        for dataset in SUITES[args.suite]:
            split = load_split(dataset, scale, data_dir, args.out / "cache", args.relations,
                               word_list=args.word_list)
            log.info("%s: %s, sizes %s", dataset, split.source, split.sizes)
            rows += label_estimate_rows(split)
            if args.words is not None:
                words, name = load_word_list(args.words)
                rows += word_rows(split, words, name)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    text = (f"# Label estimate of D_e: {args.suite}, scale {scale.name}\n\n"
            f"Data: {split.source}; D_l sizes {split.sizes}.\n\n"
            f"{section_markdown(rows, '##')}")
    path = args.out / f"label-estimate-{args.suite}-{scale.name}.md"
    atomic_write_text(path, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
