"""Reports of a run: LaTeX/markdown tables, figures and report.md, built from records only.

`RunInfo` says how the records were produced; `CaptionFacts` is the part of it that every
table caption and figure footer repeats (data source, scale, sizes). Reports never train.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

STD_CONVENTION = "std: sample standard deviation over seeds (ddof=1)"


def dataset_label(dataset: str) -> str:
    """The paper's spelling of a dataset id: stackoverflow-1 -> StackOverflow-1."""
    known = {"stackoverflow": "StackOverflow", "mjsynth": "MJSynth"}
    stem, _, suffix = dataset.partition("-")
    return known.get(stem, stem) + (f"-{suffix}" if suffix else "")


@dataclass(frozen=True)
class CaptionFacts:
    """Facts every caption states: where the data came from, the scale and the split sizes."""

    source: str
    scale: str
    sizes: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    @property
    def synthetic(self) -> bool:
        return "synthetic" in self.source.lower()

    def text(self) -> str:
        """One plain-text sentence: data source; scale; split sizes per dataset."""
        parts = [f"data: {self.source}", f"scale: {self.scale}"]
        for dataset, sizes in self.sizes.items():
            shown = ", ".join(f"{k.removeprefix('n_')} {int(v)}" for k, v in sizes.items())
            parts.append(f"{dataset_label(dataset)} sizes: {shown}")
        return "; ".join(parts) + "."


@dataclass(frozen=True)
class RunInfo:
    """How a run was produced, printed at the top of report.md."""

    command: str
    suite: str
    scale: str
    seeds: int  # per table
    source: str
    git_commit: str
    git_dirty: bool
    date: str
    torch_version: str
    device: str
    threads: int
    dtype: str = "fp32"
    cpu_kernels: str = ""  # bench.kernels.describe of the records' environments
    sizes: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    target_estimate: str = ""  # MJSynth: how D_e got its target letters (the jobs' parameter)
    modality: str = "text"  # "image": the image suite's figures (an image spec's too)
    targets: tuple[str, ...] = ()  # T of the run's first dataset (Figure 5's row labels)
    only_seeds: tuple[int, ...] = ()  # --only-seeds: the shard of the seeds this run holds

    def caption_facts(self) -> CaptionFacts:
        return CaptionFacts(source=self.source, scale=self.scale, sizes=self.sizes)


# Imported last: page.py uses the names above (RunInfo, CaptionFacts) through this package.
from bench.report.page import build_reports  # noqa: E402

__all__ = ["STD_CONVENTION", "CaptionFacts", "RunInfo", "build_reports", "dataset_label"]
