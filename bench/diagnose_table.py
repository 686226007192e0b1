"""Issue 13's table of generator configurations over seeds, from `bench.diagnose` records.

    python -m bench.diagnose_table <out>/diagnose-stackoverflow-1-quick-*-seed*.json [--base CONFIG]

Each record (one `bench.diagnose` run: a dataset, a seed, a generator configuration and its
D_s label samplings) gives, per seed, the conditioning diagnostics of the generator and the
validation mAP (Eq. 19 targets) of TF-IDF+LR and text-CNN trained on D_e alone and on
D_e + D_s. Rows are configurations (variant, options, D_s label sampling); columns are means
over the seeds with paired t-tests over seeds: D_e + D_s against D_e alone (the same seed's
classifier on D_e, in the same record), and the mean of both classifiers against the base
configuration (`--base`, by default the first row), Holm-adjusted over the rows. Validation
data only: no test number and no true target label is read.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench import stats
from bench.diagnose import D_E_ALONE, _table, d_s_settings
from bench.errors import UserError

MODELS = ("TF-IDF+LR", "text-CNN")


@dataclass
class ConfigRow:
    """One configuration's per-seed numbers: metric name -> {seed: value}."""

    label: str
    by_seed: dict[str, dict[int, float]] = field(default_factory=dict)

    def add(self, metric: str, seed: int, value: float) -> None:
        self.by_seed.setdefault(metric, {})[seed] = float(value)

    @property
    def seeds(self) -> list[int]:
        return sorted(self.by_seed.get("mean", {}))


def config_label(record: dict, strategy: str) -> str:
    """'ADDES+ + per_token=1 (D_s resample)': the variant, its options, the D_s sampling, and
    D_s's title temperature and labels where they are not the defaults ('(D_s tied, T 1.5)')
    so that records of other D_s settings are never averaged as one configuration."""
    options = record.get("options") or ""
    return (f"{record['variant']}{' + ' + options if options else ''} "
            f"(D_s {', '.join([strategy, *d_s_settings(record)])})")


def per_seed_rows(records: Sequence[dict]) -> dict[str, ConfigRow]:
    """Configuration label -> its numbers by seed, in the order the records come (a repeated
    (configuration, seed) is an error: two runs of one cell would be averaged silently)."""
    rows: dict[str, ConfigRow] = {}
    for record in records:
        seed, cond = int(record["seed"]), record["conditioning"]
        alone = {r["model"]: r["mAP"] for r in record["selection"]
                 if r["strategy"] == D_E_ALONE}
        strategies = dict.fromkeys(r["strategy"] for r in record["selection"]
                                   if r["strategy"] != D_E_ALONE)
        for strategy in strategies:
            row = rows.setdefault(config_label(record, strategy),
                                  ConfigRow(config_label(record, strategy)))
            if seed in row.by_seed.get("mean", {}):
                raise UserError(f"{row.label}: seed {seed} appears in two records")
            with_ds = {r["model"]: r["mAP"] for r in record["selection"]
                       if r["strategy"] == strategy}
            row.add("y_t_gap", seed, np.mean(list(cond["y_t_gap"].values())))
            row.add("y_t_gap_min", seed, cond["y_t_gap_min"])
            row.add("y_s_gap", seed, cond["y_s_gap_mean"])
            row.add("joint_flip", seed, np.mean([f["joint"] for f in
                                                 record.get("linked_flip", {}).values()]
                                                or [np.nan]))
            row.add("nll_flip", seed, cond["nll"]["flip_y_t"])
            row.add("nll", seed, cond["nll"]["nll_per_token"])
            row.add("q_c_ap", seed, cond["q_C_val_AP"].get("joint", np.nan))
            for model in MODELS:
                row.add(model, seed, with_ds[model])
                row.add(f"{model} D_e", seed, alone[model])
            row.add("mean", seed, np.mean([with_ds[m] for m in MODELS]))
            row.add("mean D_e", seed, np.mean([alone[m] for m in MODELS]))
    return rows


def _mean_sd(values: dict[int, float]) -> str:
    mean, sd = stats.mean_std(list(values.values()))
    return f"{mean:+.3f} ± {sd:.3f}" if len(values) > 1 else f"{mean:+.3f}"


def _against(a: dict[int, float], b: dict[int, float]) -> str:
    c = stats.compare(a, b)
    return f"{c.mean_a:.3f} ({c.delta:+.3f}, p {c.p_value:.2g})"


def table(rows: dict[str, ConfigRow], base: str | None = None) -> str:
    """Markdown: one line per configuration (see the module docstring)."""
    if not rows:
        raise UserError("no bench.diagnose records given")
    base = base or next(iter(rows))
    if base not in rows:
        raise UserError(f"--base {base!r} is not a configuration here: "
                        f"{', '.join(rows)}")
    base_mean = rows[base].by_seed["mean"]
    vs_base = {label: stats.compare(row.by_seed["mean"], base_mean)
               for label, row in rows.items() if label != base}
    holm = dict(zip(vs_base, stats.holm([c.p_value for c in vs_base.values()]), strict=True))
    lines = []
    for label, row in rows.items():
        m = row.by_seed
        versus = ("base" if label == base else
                  f"{vs_base[label].delta:+.3f} (p {vs_base[label].p_value:.2g}, "
                  f"Holm {holm[label]:.2g})")
        lines.append([label, ",".join(map(str, row.seeds)),
                      f"{_mean_sd(m['y_t_gap'])} ({np.mean(list(m['y_t_gap_min'].values())):+.3f})",
                      _mean_sd(m["y_s_gap"]), _mean_sd(m["joint_flip"]), _mean_sd(m["nll_flip"]),
                      f"{np.mean(list(m['nll'].values())):.3f}",
                      f"{np.mean(list(m['q_c_ap'].values())):.3f}",
                      *(_against(m[model], m[f"{model} D_e"]) for model in MODELS),
                      _against(m["mean"], m["mean D_e"]), versus])
    d_e = {model: rows[base].by_seed[f"{model} D_e"] for model in MODELS}
    header = ["configuration", "seeds", "y_t gap mean ± sd (min target)", "y_s gap mean",
              "linked flip joint", "y_t-flip NLL change", "NLL/token", "q_C val AP (joint)",
              *(f"{model} on D_e + D_s (Δ vs D_e, p)" for model in MODELS),
              "mean of both (Δ vs D_e, p)", "mean of both Δ vs base (p)"]
    return ("Validation only (Eq. 19 targets); paired t-tests over seeds. D_e alone, base's "
            "seeds: " + ", ".join(f"{model} {_mean_sd(values).lstrip('+')}"
                                    for model, values in d_e.items())
            + f". Base: {base}.\n\n{_table(header, lines)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.diagnose_table",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("records", nargs="+", type=Path, help="bench.diagnose .json files")
    parser.add_argument("--base", help="the configuration the others are tested against "
                                       "(a row's label; default: the first row)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        records = []
        for path in args.records:
            try:
                record = json.loads(path.read_text())
            except (OSError, ValueError) as err:
                raise UserError(f"{path}: cannot read a bench.diagnose record ({err})") from err
            if not isinstance(record, dict) or "conditioning" not in record:
                raise UserError(f"{path}: not a bench.diagnose record (no 'conditioning')")
            records.append(record)
        datasets = {(r["dataset"], r["scale"]) for r in records}
        if len(datasets) > 1:
            raise UserError(f"records of several datasets or scales: {sorted(datasets)}")
        print(table(per_seed_rows(records), args.base))
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
