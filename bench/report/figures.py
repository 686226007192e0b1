"""Figures 3, 6, 7 and 8 of the paper, drawn from records (matplotlib Agg + seaborn).

Each `figN(records, out_dir, caption_facts) -> list[Path]` writes figN.png (200 dpi) and
figN.pdf, sized for a paper column (about 3.3 in per panel), and returns [] when the records
have no successful rows for it. Error bars are mean ± std over seeds (sample std, ddof=1);
the footer line of each figure states the data source, scale and number of seeds.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from bench.io import atomic_write_bytes  # noqa: E402
from bench.report import CaptionFacts, dataset_label  # noqa: E402
from bench.report.tables import values_by_seed  # noqa: E402
from bench.stats import compare, holm  # noqa: E402

PANEL_W, PANEL_H = 3.3, 2.5  # inches
DPI = 200
METRICS = ("mAP", "AUC")
VARIANTS = ("ADDES", "ADDES-CNN", "ADDES-W", "ADDES+")
ERRORBARS = "error bars: mean ± std over seeds (ddof=1)"


def _ok(records: pd.DataFrame, experiment: str) -> pd.DataFrame:
    return records[(records["experiment"] == experiment) & (records["status"] == "ok")]


def _footer(fig: plt.Figure, facts: CaptionFacts, rows: pd.DataFrame, extra: str = "",
            errorbars: bool = True) -> None:
    """The caption facts (source, scale, seeds) as a small line under the panels."""
    n_seeds = int(rows["seed"].nunique())
    text = (f"Data: {facts.source}; scale: {facts.scale}; {n_seeds} seed(s)"
            + (f"; {ERRORBARS}." if errorbars else "."))
    width = int(fig.get_figwidth() * 17)  # characters per line at 6.5 pt
    fig.text(0.01, 0.005, textwrap.fill(text + (" " + extra if extra else ""), width),
             fontsize=6.5, va="bottom", ha="left", color="0.25")


def _save(fig: plt.Figure, out_dir: Path, name: str, top: float = 1.0) -> list[Path]:
    """Lay out above the two-line footer (and below `top`), write .png and .pdf atomically."""
    fig.tight_layout(rect=(0, 0.21 / fig.get_figheight(), 1, top))
    paths = []
    for ext in ("png", "pdf"):
        buf = io.BytesIO()
        fig.savefig(buf, format=ext, dpi=DPI)
        path = Path(out_dir) / f"{name}.{ext}"
        atomic_write_bytes(path, buf.getvalue())
        paths.append(path)
    plt.close(fig)
    return paths


@contextmanager
def _style() -> Iterator[None]:
    """Seaborn's whitegrid style and paper context, without touching global settings."""
    with sns.axes_style("whitegrid"), sns.plotting_context("paper", font_scale=0.9):
        yield


def _line_panels(rows: pd.DataFrame, x: str, panels: Sequence[tuple[str, str]],
                 methods: Sequence[str], xlabel: str) -> plt.Figure:
    """One panel per (dataset, metric): mean ± std over seeds vs `x`, one line per method."""
    n_cols = 2 if len(panels) > 1 else 1
    n_rows = -(-len(panels) // n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(PANEL_W * n_cols, PANEL_H * n_rows + 0.4),
                             squeeze=False)
    palette = dict(zip(methods, sns.color_palette("colorblind", len(methods)), strict=True))
    for ax, (dataset, metric) in zip(axes.flat, panels, strict=False):
        here = rows[rows["dataset"] == dataset]
        for method in methods:
            stats = (here[here["method"] == method].groupby(x)[metric]
                     .agg(["mean", "std"]).sort_index())
            if stats.empty:
                continue
            ax.errorbar(stats.index, stats["mean"], yerr=stats["std"].fillna(0), marker="o",
                        ms=3.5, capsize=2.5, lw=1.2, label=method, color=palette[method])
        ax.set_title(f"{metric} on {dataset_label(dataset)}")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(f"{metric} (test set, 0-1)")
        ax.legend(fontsize=7, loc="best")
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    return fig


def fig3(records: pd.DataFrame, out_dir: Path, caption_facts: CaptionFacts,
         experiment: str = "fig3", cnn: str = "text-CNN") -> list[Path]:
    """mAP and AUC of AugCNN vs |D_s|; |D_s| = 0 is text-CNN trained on D_e alone (Figure 4:
    the same on MJSynth with SDANN, `experiment="fig4", cnn="SDANN"`)."""
    rows = _ok(records, experiment)
    rows = rows[(rows["method"] == "AugCNN") & rows["p_n_synthetic"].notna()]
    if rows.empty:
        return []
    panels = [(d, m) for d in sorted(rows["dataset"].unique()) for m in METRICS]
    with _style():
        fig = _line_panels(rows, "p_n_synthetic", panels, ["AugCNN"],
                           "|D_s| (synthetic examples added)")
        _footer(fig, caption_facts, rows, f"|D_s| = 0: {cnn} on D_e alone.")
        return _save(fig, out_dir, experiment)


def fig4(records: pd.DataFrame, out_dir: Path, caption_facts: CaptionFacts) -> list[Path]:
    """Figure 4: SDANN (AugCNN on images) vs |D_s| on MJSynth-1/-2."""
    return fig3(records, out_dir, caption_facts, experiment="fig4", cnn="SDANN")


def fig6(records: pd.DataFrame, out_dir: Path, caption_facts: CaptionFacts,
         experiment: str = "fig6", cnn: str = "text-CNN") -> list[Path]:
    """mAP vs |D_l| for text-CNN, Semi-CNN and AugCNN on each dataset present.

    The x value is the grid's |D_l| (p_n_labeled), or the realised n_labeled where the grid
    point is the scale's default split (the runner leaves p_n_labeled empty there).
    """
    methods = [cnn, "Semi-CNN", "AugCNN"]
    rows = _ok(records, experiment)
    rows = rows[rows["method"].isin(methods)].copy()
    if rows.empty:
        return []
    rows["labeled"] = rows["p_n_labeled"].fillna(rows["n_labeled"])
    rows = rows[rows["labeled"].notna()]
    if rows.empty:
        return []
    panels = [(d, "mAP") for d in sorted(rows["dataset"].unique())]
    with _style():
        fig = _line_panels(rows, "labeled", panels, methods, "|D_l| (labeled examples)")
        _footer(fig, caption_facts, rows)
        return _save(fig, out_dir, experiment)


def fig6_mj(records: pd.DataFrame, out_dir: Path, caption_facts: CaptionFacts) -> list[Path]:
    """Figure 6(b): SDANN, Semi-CNN and AugCNN vs |D_l| on MJSynth-1."""
    return fig6(records, out_dir, caption_facts, experiment="fig6-mj", cnn="SDANN")


def ablation_tests(records: pd.DataFrame) -> pd.DataFrame:
    """Paired t-tests (by seed; Welch when the seeds differ) of ADDES vs each variant, for
    AugCNN and AugGCN and each metric, with Holm-adjusted p-values over all of them.

    Columns: method, metric, variant, mean_addes, mean_variant, delta (ADDES - variant),
    ci_low, ci_high, test, n, p_value, p_holm. Empty when fig7 has no rows.
    """
    rows = _ok(records, "fig7")
    out = []
    for method in ("AugCNN", "AugGCN"):
        for metric in METRICS:
            of = rows[rows["method"] == method]
            base = values_by_seed(of[of["p_variant"] == "ADDES"], metric)
            for variant in VARIANTS[1:]:
                other = values_by_seed(of[of["p_variant"] == variant], metric)
                if not base or not other:
                    continue
                c = compare(base, other)
                out.append({"method": method, "metric": metric, "variant": variant,
                            "mean_addes": c.mean_a, "mean_variant": c.mean_b, "delta": c.delta,
                            "ci_low": c.ci_low, "ci_high": c.ci_high, "test": c.test, "n": c.n,
                            "p_value": c.p_value})
    frame = pd.DataFrame(out, columns=["method", "metric", "variant", "mean_addes",
                                       "mean_variant", "delta", "ci_low", "ci_high", "test", "n",
                                       "p_value"])
    frame["p_holm"] = holm(frame["p_value"].tolist())
    return frame


def fig7(records: pd.DataFrame, out_dir: Path, caption_facts: CaptionFacts) -> list[Path]:
    """Ablation bars: AugCNN and AugGCN fed by ADDES / ADDES-CNN / ADDES-W, mAP and AUC panels,
    with the paired p-value of ADDES vs each variant printed above the variant's bar (the
    p-values themselves: `ablation_tests`)."""
    rows = _ok(records, "fig7")
    rows = rows[rows["method"].isin(["AugCNN", "AugGCN"]) & rows["p_variant"].isin(VARIANTS)]
    if rows.empty:
        return []
    tests = ablation_tests(records)
    methods = [m for m in ("AugCNN", "AugGCN") if m in set(rows["method"])]
    variants = [v for v in VARIANTS if v in set(rows["p_variant"])]
    width = 0.8 / len(variants)
    colors = dict(zip(VARIANTS, sns.color_palette("colorblind", len(VARIANTS)), strict=True))
    with _style():
        fig, axes = plt.subplots(1, 2, figsize=(2 * PANEL_W, PANEL_H + 0.9))
        for ax, metric in zip(axes, METRICS, strict=True):
            stats = rows.groupby(["method", "p_variant"])[metric].agg(["mean", "std"])
            tops = []
            for j, variant in enumerate(variants):
                for i, method in enumerate(methods):
                    if (method, variant) not in stats.index:
                        continue
                    mean, std = stats.loc[(method, variant)]
                    std = 0.0 if np.isnan(std) else std
                    x = i - 0.4 + width * (j + 0.5)
                    ax.bar(x, mean, width * 0.92, yerr=std, capsize=2.5, color=colors[variant],
                           label=variant if i == 0 else None, edgecolor="0.2", lw=0.5)
                    tops.append(mean + std)
                    hit = tests[(tests["method"] == method) & (tests["metric"] == metric)
                                & (tests["variant"] == variant)]
                    if not hit.empty:
                        ax.annotate(f"p={hit['p_value'].iloc[0]:.2g}", (x, mean + std),
                                    xytext=(0, 2), textcoords="offset points", rotation=90,
                                    ha="center", va="bottom", fontsize=6)
            low = rows[metric].min()
            span = max(tops) - low if tops else 1.0
            ax.set_ylim(max(0.0, low - 0.5 * span), max(tops) + 0.9 * span)
            ax.set_xticks(range(len(methods)), methods)
            ax.set_ylabel(f"{metric} (test set, 0-1)")
            ax.set_title(f"Ablation: {metric}")
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="upper center", ncols=len(variants), fontsize=7,
                   title="synthetic data from", title_fontsize=7, frameon=False)
        _footer(fig, caption_facts, rows,
                "p: paired t-test by seed of ADDES vs the variant (unadjusted).")
        return _save(fig, out_dir, "fig7", top=1 - 0.45 / fig.get_figheight())


def fig8(records: pd.DataFrame, out_dir: Path, caption_facts: CaptionFacts,
         experiment: str = "fig8") -> list[Path]:
    """alpha x beta heatmaps of AugCNN's mean mAP and mean AUC over seeds, cells annotated."""
    rows = _ok(records, experiment)
    rows = rows[(rows["method"] == "AugCNN") & rows["p_alpha"].notna() & rows["p_beta"].notna()]
    if rows.empty:
        return []
    with _style():
        fig, axes = plt.subplots(1, 2, figsize=(2 * PANEL_W, PANEL_H + 0.6))
        for ax, metric in zip(axes, METRICS, strict=True):
            grid = rows.pivot_table(index="p_alpha", columns="p_beta", values=metric,
                                    aggfunc="mean").sort_index(ascending=False)
            sns.heatmap(grid, annot=True, fmt=".3f", cmap="viridis", ax=ax,
                        annot_kws={"fontsize": 6}, cbar_kws={"label": f"mean {metric} (0-1)"},
                        xticklabels=[f"{b:g}" for b in grid.columns],
                        yticklabels=[f"{a:g}" for a in grid.index])
            ax.set_xlabel("β (weight of L_s)")
            ax.set_ylabel("α (weight of L_cons)")
            ax.set_title(f"AugCNN mean {metric}")
        _footer(fig, caption_facts, rows, "Cells: mean over seeds. Loss: L_G + α L_cons + β L_s.",
                errorbars=False)
        return _save(fig, out_dir, experiment)


def fig8_mj(records: pd.DataFrame, out_dir: Path, caption_facts: CaptionFacts) -> list[Path]:
    """Figure 8 on MJSynth-1 (the paper's setting)."""
    return fig8(records, out_dir, caption_facts, experiment="fig8-mj")


def fig5(images_on: np.ndarray, images_off: np.ndarray, out_dir: Path,
         caption_facts: CaptionFacts, target: str = "e") -> list[Path]:
    """Figure 5: a grid of generated images, top row target = 1, bottom row target = 0; column
    j of both rows decodes the same z and the same inexact labels. Images [n, 1, H, W]."""
    n = len(images_on)
    if n == 0:
        return []
    fig, axes = plt.subplots(2, n, figsize=(max(3.3, 1.05 * n), 1.3), squeeze=False)
    for row, (images, label) in enumerate(((images_on, f"{target}=1"),
                                           (images_off, f"{target}=0"))):
        for j in range(n):
            ax = axes[row, j]
            ax.imshow(images[j, 0], cmap="gray", vmin=0, vmax=1, aspect="auto")
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(label, fontsize=7)
    text = (f"Data: {caption_facts.source}; scale: {caption_facts.scale}. Same z and inexact "
            f"labels per column; decoder mean images.")
    fig.text(0.01, 0.005, textwrap.fill(text, int(fig.get_figwidth() * 17)), fontsize=6.5,
             va="bottom", ha="left", color="0.25")
    return _save(fig, out_dir, "fig5")
