"""The paper's reported numbers (Tables 2 and 4), read from bench/paper_results.json."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PAPER_RESULTS = Path(__file__).resolve().parent.parent / "paper_results.json"


@dataclass(frozen=True)
class PaperTable:
    """One results table of the paper: (mean, std) per dataset, metric and method."""

    name: str
    source: str
    datasets: tuple[str, ...]
    methods: tuple[str, ...]
    results: dict[str, dict[str, dict[str, tuple[float, float]]]]

    def cell(self, dataset: str, metric: str, method: str) -> tuple[float, float] | None:
        """(mean, std) as printed in the paper, or None when the paper has no such cell."""
        return self.results.get(dataset, {}).get(metric, {}).get(method)


@cache
def paper_table(name: str, path: Path = PAPER_RESULTS) -> PaperTable:
    """The paper's table `name` ("table2" or "table4")."""
    raw = json.loads(Path(path).read_text(encoding="utf-8"))[name]
    results = {dataset: {metric: {method: (float(c[0]), float(c[1])) for method, c in cells.items()}
                         for metric, cells in metrics.items()}
               for dataset, metrics in raw["results"].items()}
    return PaperTable(name=name, source=raw["_source"], datasets=tuple(raw["datasets"]),
                      methods=tuple(raw["methods"]), results=results)
