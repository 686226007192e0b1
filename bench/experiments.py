"""The paper's experiments as declarative grids (Section 5): each expands into jobs.

A grid is a list of points (dataset, method, params) and a number of seeds; `expand` crosses
them with seeds and fills each method's default params, so a job's key says everything that
determines it. Jobs shared by several experiments (e.g. AugCNN at the default |D_s| in Table 2
and Figure 3) have the same key and run once.

Tables 2 and 4 are open to the registry: their columns are the paper's, then every other
registered method of their modality (`table_methods`), and the augmented methods fed by each
generator variant registered with in_tables=True. Figure 7 compares every registered
generator variant. --methods selects a job by its method or by the generator variant of its
D_s (`selects`); a name that selects nothing is an error saying where it could take part.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from bench.data.splits import SUITES, modality_of
from bench.errors import UserError
from bench.methods import all_generators, all_methods, default_generator, generator_params
from bench.runner import Job
from bench.scales import Scale

log = logging.getLogger("bench")

# the paper's columns of Tables 2 and 4, in its order (other registered methods follow them)
TABLE2_METHODS = ("text-CNN", "GRU", "ML-GCN", "Semi-CNN", "Zero-shot", "AugCNN", "AugGCN")
TABLE4_METHODS = ("SDANN", "ML-GCN", "Semi-CNN", "Zero-shot", "AugCNN", "AugGCN")
SO_DATASETS, MJ_DATASETS = SUITES["stackoverflow"], SUITES["mjsynth"]  # the shipped specs
IMAGE_ALPHA = 100.0  # Section 5.4.2: alpha = 100, beta = 0.1 for the image datasets
GENERATOR_OUTPUTS = ("table3", "fig5")  # the default generator's own output (no jobs)

GridPoint = tuple[str, str, dict[str, Any]]  # dataset, method, params


def suite_defaults(method: str, modality: str) -> dict[str, Any]:
    """A method's params that its suite sets: the image suite's ADDES alpha = 100 for every
    method on D_e + D_s (Section 5.4.2)."""
    spec = all_methods().get(method)
    if modality == "image" and spec is not None and spec.training_set == "D_e+D_s":
        return {"alpha": IMAGE_ALPHA}
    return {}


def _image_params(method: str, params: dict[str, Any]) -> dict[str, Any]:
    """The image suite's defaults under the grid's params (the grid's alpha, Figure 8, wins)."""
    return {**suite_defaults(method, "image"), **params}


def table_methods(modality: str, paper: Sequence[str]) -> list[str]:
    """A results table's methods: the paper's, then every other registered method of the
    modality (those on D_e first, then those on D_e + D_s; in registration order)."""
    registered = all_methods()
    extra = [m for m, spec in registered.items()
             if modality in spec.modalities and m not in paper]
    return [*paper, *sorted(extra, key=lambda m: registered[m].training_set == "D_e+D_s")]


def _table_points(datasets: Sequence[str], paper: Sequence[str], modality: str
                  ) -> list[GridPoint]:
    """Tables 2 / 4: each table method on each dataset, then each method on D_e + D_s fed
    by each generator variant of the modality registered with in_tables=True (other than the
    default)."""
    methods = table_methods(modality, paper)
    augmented = [m for m in methods if all_methods().get(m) is not None
                 and all_methods()[m].training_set == "D_e+D_s"]
    variants = [g.name for g in all_generators().values()
                if g.in_tables and g.name != default_generator() and modality in g.modalities]
    points = []
    for d in datasets:
        points += [(d, m, {}) for m in methods]
        points += [(d, m, generator_params(v)) for v in variants for m in augmented]
    if modality == "image":
        return [(d, m, _image_params(m, params)) for d, m, params in points]
    return points


@dataclass(frozen=True)
class Experiment:
    name: str
    suite: str
    description: str
    points: Callable[[Scale], list[GridPoint]]
    seeds: Callable[[Scale], int]  # its jobs run seeds 0 .. seeds(scale) - 1
    only_seeds: frozenset[int] | None = None  # --only-seeds: of those, only these (a shard)

    def seed_list(self, scale: Scale) -> list[int]:
        """The seeds its jobs run at `scale`."""
        return [seed for seed in range(self.seeds(scale))
                if self.only_seeds is None or seed in self.only_seeds]


def _table2(scale: Scale) -> list[GridPoint]:
    return _table_points(SO_DATASETS, TABLE2_METHODS, "text")


def _fig3(scale: Scale) -> list[GridPoint]:
    return [(d, "AugCNN", {"n_synthetic": n}) for d in SO_DATASETS for n in scale.synthetic_sweep]


def _fig6(scale: Scale) -> list[GridPoint]:
    return [("stackoverflow-1", m, {"n_labeled": n})
            for n in scale.labeled_sweep for m in ("text-CNN", "Semi-CNN", "AugCNN")]


def _fig7(scale: Scale) -> list[GridPoint]:
    return [("stackoverflow-1", m, generator_params(v)) for m in ("AugCNN", "AugGCN")
            for v, g in all_generators().items() if "text" in g.modalities]


def _fig8(scale: Scale) -> list[GridPoint]:
    alphas, betas = scale.sensitivity_grid
    return [("stackoverflow-1", "AugCNN", {"alpha": a, "beta": b}) for a in alphas for b in betas]


def _table4(scale: Scale) -> list[GridPoint]:
    return _table_points(MJ_DATASETS, TABLE4_METHODS, "image")


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
        Experiment("table2", "stackoverflow", "Table 2: seven methods (+ TF-IDF+LR, AugLR and "
                   "every other registered text method) on StackOverflow-1/-2, mAP and AUC",
                   _table2, lambda s: s.seeds),
        Experiment("table3", "stackoverflow", "Table 3: generated titles with their input "
                   "labels (StackOverflow-1)", lambda s: [], lambda s: 0),
        Experiment("fig3", "stackoverflow", "Figure 3: text-CNN on D_e + |D_s| synthetic "
                   "titles, |D_s| swept", _fig3, lambda s: s.seeds),
        Experiment("fig6", "stackoverflow", "Figure 6: text-CNN, Semi-CNN, AugCNN vs |D_l| "
                   "(StackOverflow-1)", _fig6, lambda s: s.sweep_seeds),
        Experiment("fig7", "stackoverflow", "Figure 7: ablation ADDES vs ADDES-CNN vs ADDES-W "
                   "(every registered generator variant) feeding AugCNN and AugGCN", _fig7,
                   lambda s: s.sweep_seeds),
        Experiment("fig8", "stackoverflow", "Figure 8: alpha x beta sensitivity of AugCNN",
                   _fig8, lambda s: s.sensitivity_seeds),
        Experiment("table4", "mjsynth", "Table 4: six methods (+ every other registered image "
                   "method) on MJSynth-1/-2 (SDANN as the CNN), mAP and AUC", _table4,
                   lambda s: s.mj_seeds),
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
    (the MJSynth sizes for modality "image"). Image jobs always name their target_estimate
    (the scale's, "soft" by default), so "hard" and "soft" jobs never share a key and no
    record of a job without it (the old 0/1 default) is taken for either; text jobs keep their
    keys (Eq. 19 is 0/1 only)."""
    merged = dict(all_methods()[method].default_params)
    image = modality == "image"
    if image:
        merged["target_estimate"] = scale.mj_target_estimate
    merged.update(params)
    if "n_synthetic" in merged and merged["n_synthetic"] is None:
        merged["n_synthetic"] = scale.mj_n_synthetic if image else scale.n_synthetic
    if merged.get("n_labeled") == (scale.mj_n_labeled if image else scale.n_labeled):
        del merged["n_labeled"]  # the default |D_l| is the scale's split: same job as Table 2
    return tuple(sorted(merged.items()))


def selects(name: str, job: Job) -> bool:
    """Whether `--methods name` selects the job: name is its method, or the generator variant
    of the D_s it trains on."""
    if name == job.method:
        return True
    spec = all_methods().get(job.method)
    return (name in all_generators() and spec is not None and spec.training_set == "D_e+D_s"
            and job.param_dict.get("variant") == name)


def expand(experiment: Experiment, scale: Scale, methods: Iterable[str] | None = None) -> list[Job]:
    """Jobs of one experiment, those `methods` select (None: all). Methods not (yet)
    registered are skipped: their table cells show as missing. The jobs of an opt-in
    generator variant run only when `methods` names it."""
    registered = all_methods()
    seeds = experiment.seed_list(scale)
    wanted = None if methods is None else list(methods)
    opt_in = {name for name, g in all_generators().items() if g.opt_in}
    jobs = []
    for dataset, method, params in experiment.points(scale):
        if method not in registered:
            continue
        if params.get("variant") in opt_in and params["variant"] not in (wanted or ()):
            continue
        resolved = resolve_params(method, params, scale, modality_of(dataset))
        point = [Job(dataset, method, seed, resolved) for seed in seeds]
        if point and (wanted is None or any(selects(name, point[0]) for name in wanted)):
            jobs += point
    return jobs


def roles(scale: Scale, experiments: Iterable[Experiment] | None = None
          ) -> dict[str, dict[str, list[str]]]:
    """name -> experiment -> the methods it runs as there (a method: itself; a generator
    variant: the methods it feeds), for every registered method and generator variant, over
    `experiments` (default: all). The default generator also owns Table 3 and Figure 5."""
    names = [*all_methods(), *all_generators()]
    out: dict[str, dict[str, list[str]]] = {name: {} for name in names}
    for e in EXPERIMENTS.values() if experiments is None else experiments:
        if e.name in GENERATOR_OUTPUTS:
            out[default_generator()][e.name] = []
        for job in expand(e, scale, names):  # every name: opt-in variants' jobs too
            for name in (job.method, job.param_dict.get("variant")):
                if name in out and selects(name, job):
                    fed = out[name].setdefault(e.name, [])
                    if job.method not in fed:
                        fed.append(job.method)
    return out


def check_selection(experiments: Sequence[Experiment], scale: Scale,
                    methods: Sequence[str] | None) -> None:
    """Every name of --methods must be registered and select a job (or, for the default
    generator, Table 3 / Figure 5) of the chosen experiments; else one error line saying
    where each such name can take part."""
    if methods is None:
        return
    known = [*all_methods(), *all_generators()]
    for name in methods:
        if name not in known:
            raise UserError(f"--methods: unknown method {name!r}; known: {', '.join(known)}")
    here, anywhere = roles(scale, experiments), roles(scale)
    idle = [name for name in methods if not here[name]]
    if idle:
        chosen = ", ".join(e.name for e in experiments)
        where = "; ".join(f"{name} can take part in "
                          f"{', '.join(anywhere[name]) or 'no experiment'}" for name in idle)
        raise UserError(f"--methods: {', '.join(idle)} take{'s' if len(idle) == 1 else ''} "
                        f"part in none of the chosen experiments ({chosen}): {where}")


def selected_experiments(experiments: Sequence[Experiment], methods: Sequence[str] | None
                         ) -> list[Experiment]:
    """The experiments a --methods selection leaves something to do in: Table 3 and Figure 5
    (the default generator's output) only when the run trains that generator anyway, i.e.
    every method is wanted, or the generator, or a method on D_e + D_s."""
    registered = all_methods()
    if methods is None or any(name == default_generator() or (
            name in registered and registered[name].training_set == "D_e+D_s")
            for name in methods):
        return list(experiments)
    return [e for e in experiments if e.name not in GENERATOR_OUTPUTS]


def _narrowed(experiments: Sequence[Experiment], keep_output: Callable[[Experiment], bool],
              narrow: Callable[[Experiment], Experiment | None]) -> list[Experiment]:
    """Each experiment `narrow`ed (None: dropped); Table 3 and Figure 5, the generator's own
    output (no jobs), kept where `keep_output` says."""
    kept = []
    for e in experiments:
        if e.name in GENERATOR_OUTPUTS:
            narrowed = e if keep_output(e) else None
        else:
            narrowed = narrow(e)
        if narrowed is not None:
            kept.append(narrowed)
    return kept


def on_datasets(experiments: Sequence[Experiment], datasets: Sequence[str] | None,
                scale: Scale) -> list[Experiment]:
    """The experiments restricted to the grid points of `datasets` (--datasets; None: all).
    An experiment left with no point at `scale` is dropped, and so are Table 3 and Figure 5,
    the output of the generator of the suite's first dataset, unless that dataset is kept."""
    if datasets is None:
        return list(experiments)
    wanted = frozenset(datasets)

    def narrow(e: Experiment) -> Experiment | None:
        narrowed = replace(e, points=lambda s, points=e.points: [
            p for p in points(s) if p[0] in wanted])
        return narrowed if narrowed.points(scale) else None
    return _narrowed(experiments, lambda e: SUITES[e.suite][0] in wanted, narrow)


def on_seeds(experiments: Sequence[Experiment], seeds: Sequence[int] | None,
             scale: Scale) -> list[Experiment]:
    """The experiments restricted to `seeds` of their own (--only-seeds; None: all): a shard
    of a run whose other seeds run elsewhere. Records are keyed by job, so the shards'
    `records/` folders copied into one run folder make the whole run, reused without
    retraining. An experiment with none of these seeds at `scale` is dropped, and so are
    Table 3 and Figure 5 (the output of seed 0's generator) unless seed 0 is kept."""
    if seeds is None:
        return list(experiments)
    wanted = frozenset(seeds)

    def narrow(e: Experiment) -> Experiment | None:
        narrowed = replace(e, only_seeds=wanted if e.only_seeds is None
                           else e.only_seeds & wanted)
        return narrowed if narrowed.seed_list(scale) else None
    return _narrowed(experiments, lambda e: 0 in wanted, narrow)
