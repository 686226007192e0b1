"""Results tables laid out like the paper's Tables 2-4, as LaTeX (booktabs) and markdown.

A cell is `mean ± std` over seeds (sample std, ddof=1, 3 decimals). The best mean of each row
is bold; a dagger marks a best cell significantly better than the row's runner-up (paired
t-test by seed, Welch when the seeds differ; Holm-adjusted over the table's rows, p < 0.05).
Methods that were not run show "--" and methods whose every seed failed show "failed": no
number is ever invented.

A column is a method, or "method (variant)" for a method on D_e + D_s fed by a generator
variant other than the default (`column_of`). Columns that the paper's table does not have
(TF-IDF+LR, AugLR, any other registered method) are starred, with the registry's summary of
each in the legend.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import pandas as pd
from tabulate import tabulate

from bench.methods import all_generators, all_methods, default_generator
from bench.report import STD_CONVENTION, CaptionFacts, dataset_label
from bench.report.paper import PaperTable, paper_table
from bench.stats import Comparison, compare, holm, mean_std

ALPHA = 0.05

_LATEX_SPECIALS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                   "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                   "^": r"\textasciicircum{}"}
_LATEX_RE = re.compile("|".join(re.escape(c) for c in _LATEX_SPECIALS))


def latex_escape(text: str) -> str:
    """`text` with LaTeX's special characters escaped, for use in normal (text) mode."""
    return _LATEX_RE.sub(lambda m: _LATEX_SPECIALS[m.group()], str(text))


def column_of(method: str, variant: object) -> str:
    """A results-table column: the method, or "method (variant)" when its D_s comes from a
    generator variant other than the default."""
    if isinstance(variant, str) and variant != default_generator():
        return f"{method} ({variant})"
    return method


def with_columns(records: pd.DataFrame) -> pd.DataFrame:
    """The records with a `column` column (see `column_of`)."""
    variants = records["p_variant"] if "p_variant" in records else [None] * len(records)
    return records.assign(column=[column_of(m, v) for m, v
                                  in zip(records["method"], variants, strict=True)])


def column_method(column: str) -> tuple[str, str | None]:
    """(method, variant or None) of a column made by `column_of`."""
    method, _, variant = column.partition(" (")
    return (method, variant[:-1]) if variant else (column, None)


def column_summary(column: str) -> str:
    """What a column is, from the registry (empty for a name it does not know)."""
    method, variant = column_method(column)
    spec = all_methods().get(method)
    text = spec.summary.rstrip(".") if spec else ""
    generator = all_generators().get(variant) if variant else None
    if generator is not None:
        text = f"{text}, D_s from {variant} ({generator.summary})"
    return text


def not_in_paper(experiment: str, columns: Sequence[str]) -> list[str]:
    """The columns the paper's table `experiment` does not have (all of them for another
    experiment)."""
    try:
        paper = set(paper_table(experiment).methods)
    except KeyError:
        paper = set()
    return [c for c in columns if c not in paper]


@dataclass(frozen=True)
class Cell:
    """One method's result on one dataset and metric."""

    state: Literal["ok", "missing", "failed"]
    values: dict[int, float]  # seed -> value, successful seeds only
    n_total: int  # seeds run, failed included
    best: bool = False
    significant: bool = False

    @property
    def mean(self) -> float:
        return mean_std(list(self.values.values()))[0]

    @property
    def std(self) -> float:
        return mean_std(list(self.values.values()))[1]


@dataclass(frozen=True)
class RowTest:
    """The best-vs-runner-up test of one table row."""

    dataset: str
    metric: str
    best: str
    runner_up: str
    comparison: Comparison
    p_holm: float


@dataclass(frozen=True)
class ResultsGrid:
    """Cells of one results table, with the row-wise best-vs-runner-up tests."""

    rows: list[tuple[str, str]]  # (dataset, metric)
    methods: list[str]
    cells: dict[tuple[str, str, str], Cell]  # (dataset, metric, method)
    tests: list[RowTest]
    n_seeds: int
    extra: tuple[str, ...] = ()  # columns the paper's table does not have (starred)


def values_by_seed(rows: pd.DataFrame, metric: str) -> dict[int, float]:
    """seed -> value of the successful rows (one row per seed expected)."""
    ok = rows[(rows["status"] == "ok") & rows[metric].notna()]
    if ok["seed"].duplicated().any():
        raise ValueError(f"several successful rows per seed for {metric}; filter the records "
                         "to one configuration first")
    return {int(s): float(v) for s, v in zip(ok["seed"], ok[metric], strict=True)}


def _cell(rows: pd.DataFrame, metric: str) -> Cell:
    if rows.empty:
        return Cell("missing", {}, 0)
    values = values_by_seed(rows, metric)
    return Cell("ok" if values else "failed", values, int(rows["seed"].nunique()))


def results_grid(records: pd.DataFrame, experiment: str, datasets: Sequence[str],
                 methods: Sequence[str], metrics: Sequence[str] = ("mAP", "AUC")) -> ResultsGrid:
    """Cells, bold and dagger flags of one table (see the module docstring)."""
    frame = with_columns(records[records["experiment"] == experiment])
    rows = [(d, m) for d in datasets for m in metrics]
    cells: dict[tuple[str, str, str], Cell] = {}
    pending: list[tuple[str, str, str, str, Comparison]] = []
    for dataset, metric in rows:
        here = frame[frame["dataset"] == dataset]
        row = {meth: _cell(here[here["column"] == meth], metric) for meth in methods}
        ranked = sorted((c.mean, meth) for meth, c in row.items() if c.state == "ok")[::-1]
        if ranked:
            best = ranked[0][1]
            row[best] = replace(row[best], best=True)
        if len(ranked) > 1:
            best, runner = ranked[0][1], ranked[1][1]
            pending.append((dataset, metric, best, runner,
                            compare(row[best].values, row[runner].values)))
        cells.update({(dataset, metric, meth): c for meth, c in row.items()})
    tests = [RowTest(d, m, b, r, c, p) for (d, m, b, r, c), p
             in zip(pending, holm([t[-1].p_value for t in pending]), strict=True)]
    for t in tests:
        if t.p_holm < ALPHA and t.comparison.delta > 0:
            key = (t.dataset, t.metric, t.best)
            cells[key] = replace(cells[key], significant=True)
    return ResultsGrid(rows=rows, methods=list(methods), cells=cells, tests=tests,
                       n_seeds=int(frame["seed"].nunique()),
                       extra=tuple(not_in_paper(experiment, methods)))


def _number(cell: Cell, pm: str) -> str:
    if cell.state == "missing":
        return "--"
    if cell.state == "failed":
        return "failed"
    std = "--" if math.isnan(cell.std) else f"{cell.std:.3f}"
    return f"{cell.mean:.3f}{pm}{std}"


def _partial(cell: Cell) -> str:
    n_ok = len(cell.values)
    return f"{n_ok}/{cell.n_total}" if cell.state == "ok" and n_ok < cell.n_total else ""


def _latex_cell(cell: Cell) -> str:
    text = _number(cell, r"$\pm$")
    if cell.best:
        text = rf"\textbf{{{text}}}"
    marks = [r"\dagger"] if cell.significant else []
    if _partial(cell):
        marks.append(f"({_partial(cell)})")
    return text + (f"$^{{{','.join(marks)}}}$" if marks else "")


def _markdown_cell(cell: Cell) -> str:
    text = _number(cell, " ± ")
    if cell.best:
        text = f"**{text}**"
    return text + ("†" if cell.significant else "") + (
        f" ({_partial(cell)} ok)" if _partial(cell) else "")


def _method_header(method: str, grid: ResultsGrid, latex: bool) -> str:
    if method not in grid.extra:
        return latex_escape(method) if latex else method
    return latex_escape(method) + "$^{*}$" if latex else f"{method} *"


def _legend(grid: ResultsGrid, latex: bool) -> str:
    dagger, pm, below = ((r"$^{\dagger}$", r"$\pm$", f"$p < {ALPHA}$") if latex
                         else ("†", "±", f"p < {ALPHA}"))
    n_tests = len(grid.tests)
    text = (f"Mean {pm} std over {grid.n_seeds} seed{'s' if grid.n_seeds != 1 else ''} "
            f"({STD_CONVENTION}). Bold: best mean of the row; {dagger}: best significantly "
            f"better than the runner-up (paired t-test by seed, Welch's t-test when the seeds "
            f"differ; Holm-adjusted over the {n_tests} best-vs-runner-up comparison"
            f"{'s' if n_tests != 1 else ''} of this table, {below}). "
            f"--: not run; failed: every seed failed; (k/n): only k of n seeds succeeded.")
    if grid.extra:
        star = "$^{*}$" if latex else "*"
        note = "not in the paper: " + "; ".join(
            f"{c}: {column_summary(c)}" if column_summary(c) else c for c in grid.extra)
        text += f" {star} {latex_escape(note) if latex else note}."
    return text


def results_table_latex(records: pd.DataFrame, experiment: str, datasets: Sequence[str],
                        methods: Sequence[str], metrics: Sequence[str] = ("mAP", "AUC"), *,
                        caption_facts: CaptionFacts, title: str = "") -> str:
    """A booktabs table like the paper's Table 2: rows dataset x metric (each dataset's name
    on its own row above its metrics), columns methods.

    Compiles when \\input into a document that loads booktabs (no other package needed).
    """
    grid = results_grid(records, experiment, datasets, methods, metrics)
    lines = [r"\begin{table*}[t]", r"\centering", r"\scriptsize",
             r"\caption{" + (latex_escape(title) + " " if title else "") + _legend(grid, True)
             + " " + latex_escape(caption_facts.text()) + "}",
             rf"\label{{tab:{latex_escape(experiment)}}}",
             r"\setlength{\tabcolsep}{2pt}",
             r"\begin{tabular}{l" + "c" * len(methods) + "}", r"\toprule",
             " & ".join(["Metric", *(_method_header(m, grid, True) for m in methods)]) + r" \\"]
    for i, (dataset, metric) in enumerate(grid.rows):
        if i == 0 or dataset != grid.rows[i - 1][0]:  # a dataset's rows under its name
            lines += [r"\midrule", rf"\multicolumn{{{len(methods) + 1}}}{{l}}"
                      rf"{{\textit{{{latex_escape(dataset_label(dataset))}}}}} \\"]
        cells = [_latex_cell(grid.cells[(dataset, metric, m)]) for m in methods]
        lines.append(" & ".join([latex_escape(metric), *cells]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table*}"]
    return "\n".join(lines) + "\n"


def results_table_markdown(records: pd.DataFrame, experiment: str, datasets: Sequence[str],
                           methods: Sequence[str], metrics: Sequence[str] = ("mAP", "AUC")) -> str:
    """The same table as `results_table_latex`, as a GitHub markdown table plus its legend."""
    grid = results_grid(records, experiment, datasets, methods, metrics)
    body = [[dataset_label(d), metric, *(_markdown_cell(grid.cells[(d, metric, m)])
                                         for m in methods)] for d, metric in grid.rows]
    headers = ["Dataset", "Metric", *(_method_header(m, grid, False) for m in methods)]
    table = tabulate(body, headers=headers, tablefmt="github", disable_numparse=True)
    return table + "\n\n" + _legend(grid, False) + "\n"


def paper_comparison_markdown(records: pd.DataFrame, experiment: str, paper: PaperTable,
                              metrics: Sequence[str] = ("mAP", "AUC")) -> str:
    """The paper's numbers beside ours, with the difference of means (ours - paper)."""
    grid = results_grid(records, experiment, paper.datasets, paper.methods, metrics)
    body = []
    for dataset, metric in grid.rows:
        for method in paper.methods:
            reported = paper.cell(dataset, metric, method)
            ours = grid.cells[(dataset, metric, method)]
            diff = (f"{ours.mean - reported[0]:+.3f}" if reported and ours.state == "ok"
                    else "--")
            body.append([dataset_label(dataset), metric, method,
                         f"{reported[0]:.3f} ± {reported[1]:.3f}" if reported else "--",
                         _number(ours, " ± "), diff])
    headers = ["Dataset", "Metric", "Method", "Paper", "Ours", "Ours - paper"]
    return (tabulate(body, headers=headers, tablefmt="github", disable_numparse=True)
            + f"\n\nPaper: {paper.source}. Ours: mean ± std over {grid.n_seeds} seeds "
            f"({STD_CONVENTION}).\n")


def _table3_rows(examples: Sequence[dict]) -> tuple[list[str], list[list[str]]]:
    """Headers and cells of Table 3. Each example is {"inputs_labels": [names], "text": str,
    "target_on": bool}, plus, from `bench.conditioning.paired_examples`, "target" (the target
    switched within its pair) and "judge" (the D_e judge's p(target) of the text)."""
    scored = all("target" in ex and "judge" in ex for ex in examples)
    headers = (["Target", "Input labels", "Generated text", "y_t", "Judge p(target)"] if scored
               else ["Input labels", "Generated text", "Target"])
    rows = []
    for ex in examples:
        labels, on = ", ".join(ex["inputs_labels"]), "yes" if ex["target_on"] else "no"
        rows.append([ex["target"], labels, str(ex["text"]), "1" if ex["target_on"] else "0",
                     f"{ex['judge']:.3f}"] if scored else [labels, str(ex["text"]), on])
    return headers, rows


def table3_latex(examples: Sequence[dict], caption_facts: CaptionFacts) -> str:
    """Generated titles with their input labels, like the paper's Table 3 (with the judge's
    score of each title when the examples carry one: `_table3_rows`)."""
    headers, rows = _table3_rows(examples)
    scored = len(headers) == 5
    what = (r"pairs of titles decoded from the same z and inexact labels with one target "
            r"label on (y\_t = 1) and off (y\_t = 0); Judge: p(target) of a TF-IDF+LR "
            r"classifier trained on D\_e" if scored else
            r"Target: whether the target-label switch was on")
    columns = ("p{0.1\\linewidth}p{0.24\\linewidth}p{0.42\\linewidth}cc" if scored
               else "p{0.28\\linewidth}p{0.5\\linewidth}c")
    lines = [r"\begin{table}[t]", r"\centering", r"\small",
             r"\caption{Synthetic labeled data generated by ADDES (input labels and generated "
             r"text; " + what + "). " + latex_escape(caption_facts.text()) + "}",
             r"\label{tab:table3}", r"\begin{tabular}{" + columns + "}",
             r"\toprule", " & ".join(map(latex_escape, headers)) + r" \\", r"\midrule"]
    lines += [" & ".join(latex_escape(c) for c in row) + r" \\" for row in rows]
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def table3_markdown(examples: Sequence[dict]) -> str:
    """The generated examples as a markdown table (pipes escaped)."""
    headers, rows = _table3_rows(examples)
    body = [[c.replace("|", r"\|") for c in row] for row in rows]
    return tabulate(body, headers=headers, tablefmt="github", disable_numparse=True) + "\n"

