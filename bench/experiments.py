"""The paper's experiments as declarative grids (Section 5): each expands into jobs.

A grid is a list of points (dataset, method, params) and a number of seeds; `expand` crosses
them with seeds and fills each method's default params, so a job's key says everything that
determines it. Jobs shared by several experiments (e.g. AugCNN at the default |D_s| in Table 2
and Figure 3) have the same key and run once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from bench.data.splits import modality_of
from bench.errors import UserError
from bench.methods import all_methods
from bench.runner import Job
from bench.scales import Scale

log = logging.getLogger("bench")

TABLE2_METHODS = ("text-CNN", "GRU", "ML-GCN", "Semi-CNN", "Zero-shot", "AugCNN", "AugGCN")
# not in the paper: the classical reference and the noisy-OR references (baselines/noisy_or.py)
EXTRA_TEXT_METHODS = ("TF-IDF+LR", "AugLR", "NoisyOR-CNN", "NoisyOR-LR")
EXTRA_IMAGE_METHODS = ("NoisyOR-CNN",)
SO_DATASETS = ("stackoverflow-1", "stackoverflow-2")
VARIANTS = ("ADDES", "ADDES-CNN", "ADDES-W")
TABLE4_METHODS = ("SDANN", "ML-GCN", "Semi-CNN", "Zero-shot", "AugCNN", "AugGCN")
MJ_DATASETS = ("mjsynth-1", "mjsynth-2")
IMAGE_ALPHA = 100.0  # Section 5.4.2: alpha = 100, beta = 0.1 for the image datasets
AUGMENTED = ("AugCNN", "AugGCN")


def _image_params(method: str, params: dict[str, Any]) -> dict[str, Any]:
    """The image suite's ADDES default alpha = 100 for the augmented methods (the grid's own
    alpha, as in Figure 8, wins)."""
    return {"alpha": IMAGE_ALPHA, **params} if method in AUGMENTED else params

GridPoint = tuple[str, str, dict[str, Any]]  # dataset, method, params


@dataclass(frozen=True)
class Experiment:
    name: str
    suite: str
    description: str
    points: Callable[[Scale], list[GridPoint]]
    seeds: Callable[[Scale], int]


def _table2(scale: Scale) -> list[GridPoint]:
    return [(d, m, {}) for d in SO_DATASETS for m in TABLE2_METHODS + EXTRA_TEXT_METHODS]


def _fig3(scale: Scale) -> list[GridPoint]:
    return [(d, "AugCNN", {"n_synthetic": n}) for d in SO_DATASETS for n in scale.synthetic_sweep]


def _fig6(scale: Scale) -> list[GridPoint]:
    return [("stackoverflow-1", m, {"n_labeled": n})
            for n in scale.labeled_sweep for m in ("text-CNN", "Semi-CNN", "AugCNN")]


def _fig7(scale: Scale) -> list[GridPoint]:
    return [("stackoverflow-1", m, {"variant": v}) for m in ("AugCNN", "AugGCN") for v in VARIANTS]


def _fig8(scale: Scale) -> list[GridPoint]:
    alphas, betas = scale.sensitivity_grid
    return [("stackoverflow-1", "AugCNN", {"alpha": a, "beta": b}) for a in alphas for b in betas]


def _table4(scale: Scale) -> list[GridPoint]:
    return [(d, m, _image_params(m, {})) for d in MJ_DATASETS for m in TABLE4_METHODS + EXTRA_IMAGE_METHODS]


def _fig4(scale: Scale) -> list[GridPoint]:
    return [(d, "AugCNN", _image_params("AugCNN", {"n_synthetic": n}))
            for d in MJ_DATASETS for n in scale.mj_synthetic_sweep]


def _fig6_mj(scale: Scale) -> list[GridPoint]:
    return [("mjsynth-1", m, _image_params(m, {"n_labeled": n}))
            for n in scale.mj_labeled_sweep for m in ("SDANN", "Semi-CNN", "AugCNN")]


def _fig8_mj(scale: Scale) -> list[GridPoint]:
    alphas, betas = scale.mj_sensitivity_grid
    return [("mjsynth-1", "AugCNN", {"alpha": a, "beta": b}) for a in alphas for b in betas]


EXPERIMENTS: dict[str, Experiment] = {
    e.name: e
    for e in (
        Experiment("table2", "stackoverflow", "Table 2: seven methods (+ TF-IDF+LR, AugLR, noisy-OR) on "
                   "StackOverflow-1/-2, mAP and AUC", _table2, lambda s: s.seeds),
        Experiment("table3", "stackoverflow", "Table 3: generated titles with their input "
                   "labels (StackOverflow-1)", lambda s: [], lambda s: 0),
        Experiment("fig3", "stackoverflow", "Figure 3: text-CNN on D_e + |D_s| synthetic "
                   "titles, |D_s| swept", _fig3, lambda s: s.seeds),
        Experiment("fig6", "stackoverflow", "Figure 6: text-CNN, Semi-CNN, AugCNN vs |D_l| "
                   "(StackOverflow-1)", _fig6, lambda s: s.sweep_seeds),
        Experiment("fig7", "stackoverflow", "Figure 7: ablation ADDES vs ADDES-CNN vs ADDES-W "
                   "feeding AugCNN and AugGCN", _fig7, lambda s: s.sweep_seeds),
        Experiment("fig8", "stackoverflow", "Figure 8: alpha x beta sensitivity of AugCNN",
                   _fig8, lambda s: s.sensitivity_seeds),
        Experiment("table4", "mjsynth", "Table 4: six methods (+ noisy-OR) on MJSynth-1/-2 "
                   "(SDANN as the CNN), mAP and AUC", _table4, lambda s: s.mj_seeds),
        Experiment("fig4", "mjsynth", "Figure 4: SDANN on D_e + |D_s| synthetic images, "
                   "|D_s| swept (MJSynth-1/-2)", _fig4, lambda s: s.mj_seeds),
        Experiment("fig5", "mjsynth", "Figure 5: generated images, e = 1 (top) vs e = 0 "
                   "(bottom), same z per column (MJSynth-1)", lambda s: [], lambda s: 0),
        Experiment("fig6-mj", "mjsynth", "Figure 6(b): SDANN, Semi-CNN, AugCNN vs |D_l| "
                   "(MJSynth-1)", _fig6_mj, lambda s: s.mj_sweep_seeds),
        Experiment("fig8-mj", "mjsynth", "Figure 8: alpha x beta sensitivity of AugCNN "
                   "(MJSynth-1, as in the paper)", _fig8_mj, lambda s: s.mj_sensitivity_seeds),
    )
}

SUITES: dict[str, tuple[str, ...]] = {
    "stackoverflow": SO_DATASETS,
    "mjsynth": MJ_DATASETS,
}


def experiments_of(suite: str, names: Iterable[str] | None = None) -> list[Experiment]:
    """The experiments of a suite, or the named ones (each must belong to the suite)."""
    if suite not in SUITES:
        raise UserError(f"--suite: unknown suite {suite!r}; choose one of {', '.join(SUITES)}")
    own = [e for e in EXPERIMENTS.values() if e.suite == suite]
    if names is None:
        return own
    chosen = []
    for name in names:
        if name not in EXPERIMENTS:
            raise UserError(f"--experiments: unknown experiment {name!r}; known: "
                            f"{', '.join(EXPERIMENTS)}")
        if EXPERIMENTS[name].suite != suite:
            raise UserError(f"--experiments: {name!r} belongs to suite {EXPERIMENTS[name].suite!r}")
        chosen.append(EXPERIMENTS[name])
    return chosen


def resolve_params(method: str, params: dict[str, Any], scale: Scale,
                   modality: str = "text") -> tuple[tuple[str, Any], ...]:
    """The method's default params updated by the grid's, with scale-dependent defaults filled
    (the MJSynth sizes for modality "image")."""
    merged = dict(all_methods()[method].default_params)
    merged.update(params)
    image = modality == "image"
    if "n_synthetic" in merged and merged["n_synthetic"] is None:
        merged["n_synthetic"] = scale.mj_n_synthetic if image else scale.n_synthetic
    if merged.get("n_labeled") == (scale.mj_n_labeled if image else scale.n_labeled):
        del merged["n_labeled"]  # the default |D_l| is the scale's split: same job as Table 2
    return tuple(sorted(merged.items()))


def expand(experiment: Experiment, scale: Scale, methods: Iterable[str] | None = None) -> list[Job]:
    """Jobs of one experiment. Methods not (yet) registered are skipped: their table cells show
    as missing."""
    registered = all_methods()
    wanted = None if methods is None else set(methods)
    n_seeds = experiment.seeds(scale)
    jobs = []
    for dataset, method, params in experiment.points(scale):
        if method not in registered or (wanted is not None and method not in wanted):
            continue
        resolved = resolve_params(method, params, scale, modality_of(dataset))
        jobs += [Job(dataset, method, seed, resolved) for seed in range(n_seeds)]
    return jobs
