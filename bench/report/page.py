"""report.md of a run, with its LaTeX tables and figures, built from the records alone.

Layout of run_dir: tables/table2.tex (+ table4.tex, table3.tex), figures/figN.png|pdf and
report.md, whose links are relative to run_dir. Every file is written atomically.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from tabulate import tabulate

from bench.conditioning import image_diagnostics_markdown
from bench.io import atomic_write_text
from bench.label_estimate import section_markdown
from bench.methods import all_methods
from bench.report import STD_CONVENTION, dataset_label
from bench.report.figures import (
    ablation_tests,
    fig3,
    fig4,
    fig5,
    fig6,
    fig6_mj,
    fig7,
    fig8,
    fig8_mj,
)
from bench.report.paper import PaperTable, paper_table
from bench.report.tables import (
    column_method,
    paper_comparison_markdown,
    results_table_latex,
    results_table_markdown,
    table3_latex,
    table3_markdown,
    values_by_seed,
    with_columns,
)
from bench.stats import compare, holm

if TYPE_CHECKING:
    from bench.artifacts import GeneratedImages
    from bench.report import RunInfo

RESULT_TABLES = ("table2", "table4")
TARGET_ESTIMATE_NOTES = {"soft": "the word forest's probabilities p(y_t | y_s), the default",
                         "hard": "the paper's 0/1 estimate at 0.5",
                         "prevalence": "0/1 at the letter's corpus prevalence"}
TABLE_TITLES = {"table2": "Table 2", "table4": "Table 4"}
FIGURES = (("fig3", fig3, "Figure 3: AugCNN vs the number of synthetic examples |D_s|"),
           ("fig6", fig6, "Figure 6: mAP vs the number of labeled examples |D_l|"),
           ("fig7", fig7, "Figure 7: ablation of ADDES (variants feeding AugCNN and AugGCN)"),
           ("fig8", fig8, "Figure 8: sensitivity of AugCNN to alpha and beta"))
IMAGE_FIGURES = (("fig4", fig4, "Figure 4: SDANN (AugCNN) vs the number of synthetic images "
                  "|D_s|"),
                 ("fig6-mj", fig6_mj, "Figure 6(b): mAP vs |D_l| (the run's first image dataset)"),
                 ("fig8-mj", fig8_mj, "Figure 8: sensitivity of AugCNN to alpha and beta "
                  "(the run's first image dataset)"))


def _layout(records: pd.DataFrame, paper: PaperTable) -> tuple[list[str], list[str]]:
    """Datasets and columns of one results table: the paper's (in its order; methods not run
    show as missing) followed by any other ones present in the records."""
    rows = with_columns(records[records["experiment"] == paper.name])
    present = list(dict.fromkeys(rows["dataset"]))
    datasets = [d for d in paper.datasets if d in present] + [
        d for d in present if d not in paper.datasets]
    methods = list(paper.methods) + [m for m in dict.fromkeys(rows["column"])
                                     if m not in paper.methods]
    return datasets, methods


def comparison_pairs(columns: Sequence[str]) -> list[tuple[str, str]]:
    """The (ours, reference) pairs tested in a results table with these columns: each method
    on D_e + D_s vs the method it augments (AugCNN vs text-CNN / SDANN, AugGCN vs ML-GCN, AugLR
    vs TF-IDF+LR, Aug<name> vs <name>); a column fed by another generator variant also vs the
    same method on the default's D_s; then each method under test (registered with
    reference=False: a plugin's, by default) vs every other column that is not under test."""
    registry = all_methods()

    def spec(column: str):
        return registry.get(column_method(column)[0])

    pairs = []
    for column in columns:
        method, variant = column_method(column)
        bases = [*(spec(column).augments if spec(column) else ()), *([method] if variant else [])]
        pairs += [(column, base) for base in bases if base in columns]
    under_test = [c for c in columns if spec(c) is not None and not spec(c).reference]
    pairs += [(c, b) for c in under_test for b in columns
              if b != c and b not in under_test and (c, b) not in pairs]
    return pairs


def comparisons_frame(records: pd.DataFrame, experiment: str, datasets: Sequence[str],
                      pairs: Sequence[tuple[str, str]],
                      metrics: Sequence[str] = ("mAP", "AUC")) -> pd.DataFrame:
    """Each (ours, reference) pair on each dataset and metric: means, difference with its 95%
    CI, test (paired by seed, else Welch), p-value and Holm-adjusted p over the whole frame.
    Pairs where either side has no successful seed are left out."""
    rows = with_columns(records[records["experiment"] == experiment])
    out = []
    for dataset in datasets:
        here = rows[rows["dataset"] == dataset]
        for metric in metrics:
            for ours, ref in pairs:
                a = values_by_seed(here[here["column"] == ours], metric)
                b = values_by_seed(here[here["column"] == ref], metric)
                if a and b:
                    c = compare(a, b)
                    out.append([dataset_label(dataset), metric, ours, ref, c.mean_a, c.mean_b,
                                c.delta, c.ci_low, c.ci_high, c.test, c.n, c.p_value])
    frame = pd.DataFrame(out, columns=["dataset", "metric", "method", "reference", "mean",
                                       "mean_ref", "delta", "ci_low", "ci_high", "test", "n",
                                       "p_value"])
    frame["p_holm"] = holm(frame["p_value"].tolist())
    return frame


def _comparisons_markdown(frame: pd.DataFrame) -> str:
    body = [[r.dataset, r.metric, f"{r.method} vs {r.reference}", f"{r.mean:.3f}",
             f"{r.mean_ref:.3f}", f"{r.delta:+.3f}", f"[{r.ci_low:+.3f}, {r.ci_high:+.3f}]",
             r.test, r.n, f"{r.p_value:.3g}", f"{r.p_holm:.3g}"] for r in frame.itertuples()]
    return tabulate(body, headers=["Dataset", "Metric", "Comparison", "Mean", "Mean (ref)",
                                   "Difference", "95% CI", "Test", "n", "p", "p (Holm)"],
                    tablefmt="github", disable_numparse=True) + "\n"


def _ablation_markdown(frame: pd.DataFrame) -> str:
    body = [[r.method, r.metric, f"ADDES vs {r.variant}", f"{r.mean_addes:.3f}",
             f"{r.mean_variant:.3f}", f"{r.delta:+.3f}", f"[{r.ci_low:+.3f}, {r.ci_high:+.3f}]",
             r.test, r.n, f"{r.p_value:.3g}", f"{r.p_holm:.3g}"] for r in frame.itertuples()]
    return tabulate(body, headers=["Classifier", "Metric", "Comparison", "ADDES", "Variant",
                                   "Difference", "95% CI", "Test", "n", "p", "p (Holm)"],
                    tablefmt="github", disable_numparse=True) + "\n"


def _failed_markdown(records: pd.DataFrame) -> str:
    failed = records[records["status"] != "ok"]
    if failed.empty:
        return "None: every job succeeded.\n"
    body = [[r.experiment, r.dataset, r.method, r.seed,
             str(r.error).strip().splitlines()[0][:160] if str(r.error).strip() else "(no message)"]
            for r in failed.itertuples()]
    return tabulate(body, headers=["Experiment", "Dataset", "Method", "Seed", "Error"],
                    tablefmt="github", disable_numparse=True) + "\n"


def _seeds(info: RunInfo) -> str:
    if not info.only_seeds:
        return str(info.seeds)
    return (f"{', '.join(map(str, info.only_seeds))} of 0-{info.seeds - 1} (a shard, "
            "--only-seeds: every mean and test below uses these seeds only)")


def _provenance(info: RunInfo, records: pd.DataFrame) -> list[str]:
    lines = ["## How this report was produced", "",
             f"- Command: `{info.command}`",
             f"- Suite: {info.suite}; scale: {info.scale}; seeds: {_seeds(info)}",
             f"- Data source: {info.source}",
             f"- Git commit: `{info.git_commit}`"
             + (" (working tree had uncommitted changes)" if info.git_dirty else " (clean)"),
             f"- Date: {info.date}",
             f"- torch {info.torch_version}; device: {info.device} ({info.dtype}); "
             f"threads: {info.threads}",
             *([f"- {info.cpu_kernels}"] if info.cpu_kernels else []),
             f"- Records: {len(records)} jobs, {int((records['status'] == 'ok').sum())} ok, "
             f"{int((records['status'] != 'ok').sum())} failed",
             f"- Statistics: {STD_CONVENTION}; differences tested with paired t-tests by seed "
             "(Welch's t-test where the seed sets differ), 95% CIs of the mean difference, "
             "Holm correction within each table."]
    if info.target_estimate:
        lines.append(f"- D_e's target labels: {info.target_estimate} "
                     f"({TARGET_ESTIMATE_NOTES.get(info.target_estimate, '')}; "
                     "`--target-estimate`)")
    for dataset, sizes in info.sizes.items():
        shown = ", ".join(f"{k} = {int(v)}" for k, v in sizes.items())
        lines.append(f"- Sizes of {dataset_label(dataset)}: {shown}")
    return lines + [""]


def build_reports(run_dir: Path, records: pd.DataFrame, info: RunInfo,
                  table3_examples: list[dict] | None = None,
                  fig5_images: GeneratedImages | None = None,
                  label_estimates: list[dict] | None = None) -> list[Path]:
    """Write the tables, figures and report.md of a run under run_dir; return the paths.
    `fig5_images`: Figure 5's generated images (target on, target off) with their generator's
    diagnostics (MJSynth suite).
    `label_estimates`: bench.label_estimate rows (ORACLE analysis of D_e's target labels),
    shown after the results tables as the ceiling the inexact supervision leaves."""
    run_dir = Path(run_dir)
    facts = info.caption_facts()
    synthetic = facts.synthetic or records["source"].astype(str).str.contains(
        "synthetic", case=False).any()
    written: list[Path] = []
    md = [f"# ADDES benchmark report ({info.suite}, scale {info.scale})", ""]
    if synthetic:
        md += ["> **The data are the synthetic stand-in, not the paper's datasets: the "
               "comparison with the paper's numbers below is not meaningful.** It only shows "
               "that the pipeline runs end to end.", ""]
    md += _provenance(info, records)

    md += ["## Results tables", ""]
    for name in RESULT_TABLES:
        paper = paper_table(name)
        datasets, methods = _layout(records, paper)
        if not datasets:
            continue
        path = run_dir / "tables" / f"{name}.tex"
        atomic_write_text(path, results_table_latex(records, name, datasets, methods,
                                                    caption_facts=facts,
                                                    title=f"This run's {TABLE_TITLES[name]}."))
        written.append(path)
        md += [f"### {TABLE_TITLES[name]} ([LaTeX](tables/{name}.tex))", "",
               results_table_markdown(records, name, datasets, methods),
               f"Statistical comparisons ({TABLE_TITLES[name]}; Holm over the rows below):", "",
               _comparisons_markdown(comparisons_frame(records, name, datasets,
                                                       comparison_pairs(methods))), ""]
    if label_estimates:
        md += [section_markdown(label_estimates), ""]
    if table3_examples:
        path = run_dir / "tables" / "table3.tex"
        atomic_write_text(path, table3_latex(table3_examples, facts))
        written.append(path)
        md += ["### Table 3: generated examples ([LaTeX](tables/table3.tex))", "",
               table3_markdown(table3_examples), ""]

    md += ["## Figures", ""]
    figures = IMAGE_FIGURES if info.modality == "image" else FIGURES
    if fig5_images is not None:
        target = ",".join(info.targets) or "e"
        paths = fig5(fig5_images.on, fig5_images.off, run_dir / "figures", facts,
                     target=target)
        written += paths
        title = (f"Figure 5: generated images, {target} = 1 (top) and {target} = 0 (bottom), "
                 "same z per column")
        md += [f"### {title}", "", f"![{title}](figures/fig5.png)", "", "[PDF](figures/fig5.pdf)",
               "", "The generator that drew it (validation and D_l only):", "",
               image_diagnostics_markdown(fig5_images.diagnostics), ""]
    for name, draw, title in figures:
        paths = draw(records, run_dir / "figures", facts)
        written += paths
        if not paths:
            md += [f"- {title}: no successful records, not drawn.", ""]
            continue
        md += [f"### {title}", "", f"![{title}](figures/{name}.png)", "",
               f"[PDF](figures/{name}.pdf)", ""]
        if name == "fig7":
            md += ["Paired tests of ADDES vs each variant (Holm over the rows below):", "",
                   _ablation_markdown(ablation_tests(records)), ""]

    md += ["## Failed jobs", "", _failed_markdown(records), "",
           "## The paper's numbers beside ours", ""]
    if synthetic:
        md += ["*Synthetic stand-in data: these differences say nothing about the paper.*", ""]
    for name in RESULT_TABLES:
        paper = paper_table(name)
        ours = (records["experiment"] == name) & records["dataset"].isin(paper.datasets)
        if not ours.any():  # Table 4 in a text-only run; a dataset spec of your own
            continue
        md += [f"### {TABLE_TITLES[name]}", "", paper_comparison_markdown(records, name, paper), ""]

    report = run_dir / "report.md"
    atomic_write_text(report, "\n".join(md).rstrip() + "\n")
    return [*written, report]
