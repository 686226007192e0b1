"""The cost model: how long a job (or a shared ADDES artifact) takes, from measured costs.

A job is a list of `Part`s, each `units` of one perf benchmark (`python -m bench.perf`):
training batches of one model, examples generated, GCN epochs, titles fed to TF-IDF+LR.

    seconds = sum over parts of units x seconds_per_unit(benchmark, work at the tier's shapes)
              x factor(method)

Units: the batch arithmetic. A classifier trained by the shared loop (baselines/training.py)
runs max_epochs epochs of ceil(n_train / batch) batches, each epoch followed by a forward pass
over the validation part; then a forward pass over the test part. A forward-only pass over
`batch` examples counts as EVAL_FRACTION of a training batch (backward ~ 2 x forward). An
ADDES generator (addes/train.py, Algorithm 1) runs phase 1 on q_C alone (ceil(n_l / batch)
batches per epoch), then phases 2 and 3 on Eq. 11 (ceil(max(n_l, n_u) / (batch / 2)) steps of
batch / 2 D_l + batch / 2 D_u examples per epoch; phase 2 is counted at the cost of a joint
step), each epoch with a validation pass; D_s costs its examples x the generation cost per
example. Every phase is counted at its max epochs: early stopping makes these upper bounds,
which the calibration factor corrects on average (below).

Seconds per unit at a tier's shapes: perf measures each benchmark at the paper's shapes and
at the smoke tier's, and records beside each measurement a work proxy, `work(benchmark,
shapes)`: the forward multiply-adds of one call computed from the shapes (convolutions,
recurrent and linear layers; `Shapes.of(scale)`). The time at other shapes is linear in the
work proxy through the two nearest measured points (`interpolate`): the smoke point carries
the per-step overhead (kernel launches, dispatch, optimizer bookkeeping) that dominates small
shapes and is negligible at the paper's; with a single measured point (the GPU entry) the
time is proportional to the work.

Calibration factor: median over finished records of measured / predicted seconds for one
method (or one generator kind). It folds in what the arithmetic leaves out: epochs that early
stopping skips, a loaded machine, imperfect thread scaling. Factors come from the run's own
finished records when there are any (`bench.plan`), else from the cost data's calibration
(fitted on a reference run: `python -m bench.costs --calibrate RUN_DIR`), else 1 (the upper
bound at the measured speed).

CPU time is counted in core-seconds: the measured seconds times the threads they were measured
with (perfect thread scaling assumed; the calibration absorbs the difference).
"""

from __future__ import annotations

import argparse
import bisect
import inspect
import json
import statistics
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from bench.errors import UserError
from bench.io import atomic_write_text
from bench.scales import Scale

COMMITTED = Path(__file__).with_name("cost_data.json")
FORMAT = "addes-bench-costs/1"
EVAL_FRACTION = 1 / 3  # a forward-only pass over a batch, relative to a training batch
MEAN_TITLE_TOKENS = 8.4  # the 10k real Stack Overflow titles in ../shared/data (tokenised)
P99_TITLE_TOKENS = 19  # their 99th percentile (sets Eq. 9's relaxed decoding length)
N_CLASSES = 25  # |W| of the benchmarks (StackOverflow: 25 tags; MJSynth: 26 letters)
CONS_BATCH = 8  # ADDESConfig.cons_batch: prior samples per step for L_cons
CONS_TOP_K = 32  # ADDESConfig.cons_top_k
Z_SLOTS = 4  # addes.text.Decoder's n_z_slots (attention memory: z slots + one per class)


@dataclass(frozen=True)
class Shapes:
    """The sizes a model's step cost depends on, from one tier (`Shapes.of(scale)`)."""

    vocab: int
    max_len: int
    embed: int
    maps: int
    gru_hidden: int
    addes_embed: int
    addes_hidden: int
    addes_latent: int
    image_width: float
    image_latent: int
    batch: int

    @classmethod
    def of(cls, scale: Scale) -> Shapes:
        return cls(scale.vocab_size, scale.max_len, scale.embed_dim, scale.cnn_maps,
                   scale.gru_hidden, scale.addes_embed, scale.addes_hidden, scale.addes_latent,
                   scale.image_width_mult, scale.addes_image_latent, scale.batch_size)


# ---------------------------------------------------------------------------------------------
# work proxies: forward multiply-adds of one benchmark call


def _kim_cnn(s: Shapes) -> float:
    """KimCNN features of one title: filters 3, 4, 5 over max_len positions."""
    return s.embed * s.maps * sum(w * max(0, s.max_len - w + 1) for w in (3, 4, 5))


def _gru(steps: float, inputs: int, hidden: int) -> float:
    """One GRU direction over `steps` positions (3 gates, input and recurrent maps)."""
    return steps * 3 * (inputs * hidden + hidden * hidden)


def _title_tokens(s: Shapes) -> float:
    return min(MEAN_TITLE_TOKENS, s.max_len)


def _relaxed_steps(s: Shapes) -> int:
    """Eq. 9's decoding length (addes.train.relaxed_length: 99th percentile + 1)."""
    return min(P99_TITLE_TOKENS, s.max_len) + 1


def _decoder_step(s: Shapes, with_output: bool = True) -> float:
    """One step of the attention decoder: GRU, Luong attention, output projection."""
    h, memory = s.addes_hidden, Z_SLOTS + N_CLASSES
    attention = h * h + 2 * memory * h + 2 * h * h
    out = h * s.vocab if with_output else 0
    return _gru(1, s.addes_embed + s.addes_latent, h) + attention + out


def _addes_features(s: Shapes, steps: float) -> float:
    """q_C's bi-GRU feature extractor over `steps` positions."""
    return 2 * _gru(steps, s.addes_embed, s.addes_hidden)


def _text_addes_example(s: Shapes) -> float:
    """One title through q_C, q_E (packed: real tokens only) and teacher-forced p_D (vocabulary
    projection at the scored positions only)."""
    tokens = _title_tokens(s)
    decoder = (s.max_len + 1) * _decoder_step(s, with_output=False)
    return (_addes_features(s, s.max_len) + 2 * _gru(tokens, s.addes_embed, s.addes_hidden)
            + decoder + (tokens + 1) * s.addes_hidden * s.vocab)


def _text_addes_joint(s: Shapes) -> float:
    """Eq. 11: batch/2 of D_l and batch/2 of D_u through the model, plus L_cons on CONS_BATCH
    relaxed decodings scored by q_C over soft top-k tokens."""
    steps = _relaxed_steps(s)
    cons = steps * (_decoder_step(s) + CONS_TOP_K * s.addes_embed) + _addes_features(s, steps)
    return s.batch * _text_addes_example(s) + CONS_BATCH * cons


def _text_generation(s: Shapes) -> float:
    """One title sampled token by token until EOS."""
    return (_title_tokens(s) + 1) * _decoder_step(s)


def _conv_out(size: int, kernel: int, stride: int, pad: int) -> int:
    return (size + 2 * pad - kernel) // stride + 1


def _scaled(n: int, width: float) -> int:
    return max(4, round(n * width))  # baselines.sdann._scaled and addes.image.channels


def _sdann(width: float) -> float:
    """SDANN features of one 32 x 100 image (baselines/sdann.py)."""
    from baselines.sdann import CONV, FC, POOL_AFTER

    h, w, c_in, total = 32, 100, 1, 0.0
    for i, (filters, kernel) in enumerate(CONV):
        c_out = _scaled(filters, width)
        total += h * w * c_in * c_out * kernel * kernel
        if i in POOL_AFTER:
            h, w = h // 2, w // 2
        c_in = c_out
    fc = _scaled(FC, width)
    return total + c_in * h * w * fc + fc * fc


def _conv_stack(width: float) -> float:
    """addes.image.ConvStack (5 x conv k4 s2 p1) on one 32 x 100 image."""
    from addes.image import channels

    h, w, c_in, total = 32, 100, 1, 0.0
    for c_out in channels(width):
        h, w = _conv_out(h, 4, 2, 1), _conv_out(w, 4, 2, 1)
        total += h * w * c_in * c_out * 16
        c_in = c_out
    return total


def _image_decoder(width: float, latent: int) -> float:
    """addes.image.ImageDecoder: a linear map to C x 1 x 4, five k4 s2 transposed convs."""
    from addes.image import channels

    chans = channels(width)
    total = (latent + N_CLASSES) * chans[-1] * 4
    h, w, c_in = 1, 4, chans[-1] + N_CLASSES
    for c_out in (*reversed(chans[:-1]), 1):
        total += h * w * c_in * c_out * 16
        h, w, c_in = 2 * h, 2 * w, c_out
    return total


def _image_addes_joint(s: Shapes) -> float:
    per_image = 2 * _conv_stack(s.image_width) + _image_decoder(s.image_width, s.image_latent)
    cons = _image_decoder(s.image_width, s.image_latent) + _conv_stack(s.image_width)
    return s.batch * per_image + CONS_BATCH * cons


def zero_shot_gcn_work(width: float, feature_dim: int) -> float:
    """One full-batch epoch of the Zero-shot GCN (6 layers over N_CLASSES nodes) regressing
    classifiers of `feature_dim` + 1 weights; hidden widths ORIGINAL_HIDDEN x width."""
    from baselines.zero_shot import ORIGINAL_HIDDEN

    dims = (N_CLASSES, *(max(8, round(h * width)) for h in ORIGINAL_HIDDEN), feature_dim + 1)
    layers = zip(dims[:-1], dims[1:], strict=True)
    return sum(N_CLASSES * a * b + N_CLASSES * N_CLASSES * b for a, b in layers)


WORK: dict[str, Callable[[Shapes], float]] = {
    "text-CNN": lambda s: s.batch * _kim_cnn(s),
    "GRU": lambda s: s.batch * 2 * _gru(s.max_len, s.embed, s.gru_hidden),
    "ML-GCN head": lambda s: s.batch * _kim_cnn(s),
    "Semi-CNN": lambda s: 2 * s.batch * _kim_cnn(s),  # a D_e batch + a D_u batch
    "Zero-shot GCN": lambda s: zero_shot_gcn_work(s.embed / 300, 3 * s.maps),
    "TF-IDF+LR": lambda s: 1.0,  # per title; does not depend on the tier's shapes
    "text ADDES classifier": lambda s: s.batch * _addes_features(s, s.max_len),
    "text ADDES": _text_addes_joint,
    "text ADDES generation": _text_generation,
    "SDANN": lambda s: s.batch * _sdann(s.image_width),
    "image ADDES classifier": lambda s: s.batch * _conv_stack(s.image_width),
    "image ADDES": _image_addes_joint,
    "image ADDES generation": lambda s: _image_decoder(s.image_width, s.image_latent),
}


def work(benchmark: str, shapes: Shapes) -> float:
    """The work proxy of one call of `benchmark` at `shapes` (forward multiply-adds)."""
    return float(WORK[benchmark](shapes))


# ---------------------------------------------------------------------------------------------
# cost data


def interpolate(points: Iterable[tuple[float, float]], at: float) -> float:
    """Seconds at work `at` from measured (work, seconds) points: linear through the two
    nearest points (the end segment beyond them), never decreasing with work; one point, or
    points of equal work: proportional to their mean."""
    pts = sorted(points)
    if not pts:
        raise ValueError("no measured points")
    if pts[0][0] == pts[-1][0]:
        w0, t0 = pts[0][0], statistics.fmean(t for _, t in pts)
        return t0 * at / w0 if w0 > 0 else t0
    i = min(max(bisect.bisect_left([w for w, _ in pts], at), 1), len(pts) - 1)
    (w0, t0), (w1, t1) = pts[i - 1], pts[i]
    slope = max(0.0, (t1 - t0) / (w1 - w0))
    return max(0.0, t0 + slope * (at - w0))


@dataclass(frozen=True)
class CostEntry:
    """The measurements of one (device, dtype) on one machine (an entry of the cost data)."""

    key: str  # "cpu/fp32"
    data: Mapping[str, Any]

    @property
    def threads(self) -> int:
        return int(self.data.get("threads") or 1)

    @property
    def description(self) -> str:
        machine = self.data.get("machine", {})
        what = machine.get("gpu") or machine.get("cpu") or "unknown machine"
        plural = "s" if self.threads > 1 else ""
        threads = f", {self.threads} thread{plural}" if self.data["device"] == "cpu" else ""
        return f"{what} ({self.key}{threads})"

    def seconds_per_unit(self, benchmark: str, at_work: float) -> float | None:
        """Seconds of one unit of `benchmark` at work `at_work`; None when not measured."""
        bench = self.data.get("benchmarks", {}).get(benchmark)
        if not bench or not bench.get("points"):
            return None
        return interpolate(((p["work"], p["seconds"]) for p in bench["points"].values()),
                           at_work)

    def factor(self, name: str) -> float | None:
        return self.data.get("calibration", {}).get("factors", {}).get(name)


@dataclass(frozen=True)
class CostData:
    path: Path
    entries: Mapping[str, CostEntry]

    def entry(self, device: str, dtype: str) -> CostEntry | None:
        return self.entries.get(f"{device}/{dtype}")

    def gpu_entry(self, dtype: str) -> CostEntry | None:
        """The GPU measurements of `dtype`, else of any dtype, else None."""
        gpus = [e for e in self.entries.values() if e.data["device"] != "cpu"]
        return next((e for e in gpus if e.data["dtype"] == dtype), gpus[0] if gpus else None)


def load_cost_data(path: Path = COMMITTED) -> CostData:
    """Read a cost data file (written by `python -m bench.perf --save`)."""
    try:
        raw = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise UserError(f"--cost-data {path}: not a readable cost data file ({err})") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise UserError(f"--cost-data {path}: not a cost data file (format {FORMAT!r})")
    return CostData(Path(path), {k: CostEntry(k, v) for k, v in raw.get("entries", {}).items()})


def choose_cost_data(explicit: Path | None, out: Path) -> Path:
    """--cost-data FILE, else <out>/cost_data.json when present, else the committed file."""
    if explicit is not None:
        return explicit
    local = Path(out) / "cost_data.json"
    return local if local.is_file() else COMMITTED


# ---------------------------------------------------------------------------------------------
# what a job runs


@dataclass(frozen=True)
class Part:
    """`units` calls of perf benchmark `benchmark` at work proxy `work` each."""

    benchmark: str
    units: float
    work: float


@dataclass(frozen=True)
class Sizes:
    """The data sizes and epochs a job of one modality sees at a tier."""

    n_labeled: int
    n_unlabeled: int
    n_val: int
    n_test: int
    max_epochs: int
    batch: int

    @classmethod
    def of(cls, scale: Scale, modality: str, n_labeled: int | None = None) -> Sizes:
        if modality == "image":
            return cls(n_labeled or scale.mj_n_labeled, scale.mj_n_unlabeled, scale.mj_n_val,
                       scale.mj_n_test, scale.image_max_epochs, scale.batch_size)
        return cls(n_labeled or scale.n_labeled, scale.n_unlabeled, scale.n_val, scale.n_test,
                   scale.max_epochs, scale.batch_size)


def _batches(n: float, batch: int) -> int:
    return -(-int(n) // batch)


def _default(cls: type, name: str) -> Any:
    """A constructor default (the Semi-CNN lambda grid, the Zero-shot GCN epochs)."""
    return inspect.signature(cls).parameters[name].default


def _classifier_parts(benchmark: str, w: float, n_train: int, sz: Sizes,
                      step_units: float = 1.0) -> list[Part]:
    """fit_multilabel for max_epochs (training batches + a validation pass each epoch); the
    test predictions are added by the caller."""
    per_epoch = step_units * _batches(n_train, sz.batch) + EVAL_FRACTION * _batches(sz.n_val,
                                                                                    sz.batch)
    return [Part(benchmark, sz.max_epochs * per_epoch, w)]


def job_parts(method: str, modality: str, params: Mapping[str, Any], scale: Scale
              ) -> list[Part] | None:
    """The parts of one job's training and test predictions (the shared generator and D_s
    are `generator_parts` / `synthetic_parts`); None for a method with no cost model."""
    from baselines.semi import SemiCNN
    from baselines.zero_shot import ZeroShotGCN

    s, sz = Shapes.of(scale), Sizes.of(scale, modality, params.get("n_labeled"))
    image = modality == "image"
    n_train = sz.n_labeled + int(params.get("n_synthetic") or 0)
    cnn = "SDANN" if image else "text-CNN"
    cnn_w = work(cnn, s)
    predict = [Part(cnn, EVAL_FRACTION * _batches(sz.n_test, sz.batch), cnn_w)]
    if method in ("TF-IDF+LR", "AugLR", "NoisyOR-LR"):
        w = work("TF-IDF+LR", s)
        return [Part("TF-IDF+LR", n_train, w), Part("TF-IDF+LR", EVAL_FRACTION * sz.n_test, w)]
    if method in ("text-CNN", "SDANN", "AugCNN", "NoisyOR-CNN"):
        return _classifier_parts(cnn, cnn_w, n_train, sz) + predict
    if method == "GRU":
        w = work("GRU", s)
        return (_classifier_parts("GRU", w, n_train, sz)
                + [Part("GRU", EVAL_FRACTION * _batches(sz.n_test, sz.batch), w)])
    if method in ("ML-GCN", "AugGCN"):
        if image:  # the GCN head's cost is negligible beside SDANN's convolutions
            return _classifier_parts(cnn, cnn_w, n_train, sz) + predict
        w = work("ML-GCN head", s)
        return (_classifier_parts("ML-GCN head", w, n_train, sz)
                + [Part("ML-GCN head", EVAL_FRACTION * _batches(sz.n_test, sz.batch), w)])
    if method == "Semi-CNN":
        k = len(_default(SemiCNN, "lambdas"))  # one model per lambda candidate
        # text: the measured Semi-CNN step; images: an SDANN step per D_e and per D_u batch
        step = ("SDANN", cnn_w, 2.0) if image else ("Semi-CNN", work("Semi-CNN", s), 1.0)
        fits = _classifier_parts(step[0], step[1], n_train, sz, step_units=step[2])
        val = Part(cnn, EVAL_FRACTION * _batches(sz.n_val, sz.batch), cnn_w)
        return [Part(p.benchmark, k * p.units, p.work) for p in [*fits, val]] + predict
    if method == "Zero-shot":
        epochs = _default(ZeroShotGCN, "gcn_epochs")
        gcn_w = (zero_shot_gcn_work(s.image_width, _scaled(4096, s.image_width)) if image
                 else work("Zero-shot GCN", s))
        restarts = int(params.get("gcn_restarts", 1))  # each restart is a full GCN fit
        return (_classifier_parts(cnn, cnn_w, n_train, sz)
                + [Part("Zero-shot GCN", restarts * epochs, gcn_w)] + predict)
    return None


def generator_parts(modality: str, scale: Scale, n_labeled: int | None = None) -> list[Part]:
    """Training one ADDES generator (Algorithm 1's three phases at their max epochs, each epoch
    with a validation pass), then q_C over D_u (the target prevalence used for sampling)."""
    s, sz = Shapes.of(scale), Sizes.of(scale, modality, n_labeled)
    prefix = "image ADDES" if modality == "image" else "text ADDES"
    if modality == "image":
        epochs = (scale.addes_image_epochs_classifier, scale.addes_image_epochs_vae,
                  scale.addes_image_epochs_joint)
    else:
        epochs = (scale.addes_epochs_classifier, scale.addes_epochs_vae, scale.addes_epochs_joint)
    w_c, w_j = work(f"{prefix} classifier", s), work(prefix, s)
    val = EVAL_FRACTION * _batches(sz.n_val, sz.batch)
    steps = _batches(max(sz.n_labeled, sz.n_unlabeled), max(1, sz.batch // 2))
    return [
        Part(f"{prefix} classifier", epochs[0] * (_batches(sz.n_labeled, sz.batch) + val)
             + EVAL_FRACTION * _batches(sz.n_unlabeled, sz.batch), w_c),
        Part(prefix, (epochs[1] + epochs[2]) * (steps + val), w_j),
    ]


def synthetic_parts(modality: str, scale: Scale, n: int) -> list[Part]:
    """Generating a D_s of n examples from a trained generator."""
    name = "image ADDES generation" if modality == "image" else "text ADDES generation"
    return [Part(name, n, work(name, Shapes.of(scale)))]


@dataclass(frozen=True)
class Estimate:
    """Seconds of some parts on one cost entry: `seconds` over the measured parts, and the
    benchmarks that have no measurement there (their cost is unknown, not included)."""

    seconds: float
    unmeasured: frozenset[str] = frozenset()


def estimate(parts: Iterable[Part], entry: CostEntry, factor: float = 1.0) -> Estimate:
    """Device-seconds of `parts` on `entry` (CPU: core-seconds, i.e. x its threads) x factor."""
    seconds, missing = 0.0, set()
    scale = entry.threads if entry.data["device"] == "cpu" else 1
    for part in parts:
        per_unit = entry.seconds_per_unit(part.benchmark, part.work)
        if per_unit is None:
            missing.add(part.benchmark)
        else:
            seconds += part.units * per_unit * scale * factor
    return Estimate(seconds, frozenset(missing))


# ---------------------------------------------------------------------------------------------
# calibration against finished records


class GeneratorId(NamedTuple):
    """What bench.artifacts.generator_key hashes, with the split named by its dataset and
    |D_l| (the run's data source fixes the rest): jobs with equal ids share one generator."""

    modality: str
    dataset: str
    n_labeled: int | None  # None: the scale's
    seed: int
    variant: str
    alpha: float
    beta: float
    options: str = ""  # the job's generator options (bench.artifacts.parse_options)


def generator_id(modality: str, dataset: str, seed: int, params: Mapping[str, Any]
                 ) -> GeneratorId:
    return GeneratorId(modality, dataset, params.get("n_labeled"), seed,
                       params.get("variant", "ADDES"), float(params.get("alpha", 0.1)),
                       float(params.get("beta", 0.1)), params.get("options") or "")


def generator_name(modality: str) -> str:
    """The calibration name of the generators (training + D_s) of a modality."""
    return f"{modality} ADDES generator"


def factor_name(method: str, modality: str) -> str:
    """The calibration name of a method's jobs: per modality, since e.g. AugCNN is a text-CNN
    on titles and SDANN on images."""
    return f"{method} ({modality})"


class Timing(NamedTuple):
    """One record's predicted (uncalibrated) and measured seconds."""

    seed: int
    predicted: float
    measured: float


def record_timings(records: Iterable[Mapping[str, Any]], scale: Scale, entry: CostEntry,
                   modality_of: Callable[[str], str]) -> dict[str, list[Timing]]:
    """Predicted and measured seconds per method and modality (`factor_name`), and per
    generator kind (`generator_name`), over the finished ok records of `scale`.
    A job: fit_s + predict_s against its parts at the record's threads.
    A generator: the largest data_s among the jobs that share it (the job that trained it and
    generated D_s; the others load the cache) against generator + D_s; a group whose largest
    data_s is under a tenth of the prediction is skipped (its generator came from a cache)."""
    from bench.artifacts import synthetic_size

    timings: dict[str, list[Timing]] = {}
    first: dict[GeneratorId, Timing] = {}
    for rec in records:
        if rec.get("status") != "ok" or rec.get("scale") != scale.name:
            continue
        modality, params = modality_of(rec["dataset"]), rec.get("params", {})
        threads = max(1, int(rec.get("env", {}).get("threads") or 1))
        parts = job_parts(rec["method"], modality, params, scale)
        measured = rec.get("timings", {})
        if parts is not None and "fit_s" in measured:
            timings.setdefault(factor_name(rec["method"], modality), []).append(Timing(
                rec["seed"], estimate(parts, entry).seconds / threads,
                measured["fit_s"] + measured.get("predict_s", 0.0)))
        if int(params.get("n_synthetic") or 0) > 0 and "data_s" in measured:
            n = synthetic_size(modality, scale, params)
            predicted = estimate(generator_parts(modality, scale, params.get("n_labeled"))
                                 + synthetic_parts(modality, scale, n), entry).seconds / threads
            key = generator_id(modality, rec["dataset"], rec["seed"], params)
            if key not in first or measured["data_s"] > first[key].measured:
                first[key] = Timing(rec["seed"], predicted, measured["data_s"])
    for key, t in first.items():
        if t.measured >= 0.1 * t.predicted:
            timings.setdefault(generator_name(key.modality), []).append(t)
    return timings


def _ratios(timings: Iterable[Timing]) -> list[float]:
    return [t.measured / t.predicted for t in timings if t.predicted > 0]


def fitted_factors(timings: Mapping[str, list[Timing]]) -> dict[str, float]:
    """Median of measured / predicted per calibration name."""
    return {name: statistics.median(r) for name, v in timings.items() if (r := _ratios(v))}


def held_out_ratios(timings: list[Timing]) -> list[float]:
    """Measured / calibrated prediction of each record, with the factor fitted only on the
    records of the other seed parity (even seeds predict odd ones and back: a check of the
    calibration on records it was not fitted on; empty when all seeds have one parity)."""
    out = []
    for parity in (0, 1):
        others = _ratios(t for t in timings if t.seed % 2 != parity)
        if others:
            factor = statistics.median(others)
            out += [r / factor for r in _ratios(t for t in timings if t.seed % 2 == parity)]
    return out


def calibration_table(timings: Mapping[str, list[Timing]]) -> list[dict]:
    """Per name: records, median predicted (max epochs) and measured seconds, the median
    ratio (the fitted factor), and the held-out calibrated ratios (median, share within 2x)."""
    rows = []
    for name, v in sorted(timings.items()):
        held = held_out_ratios(v)
        rows.append({
            "method": name, "records": len(v),
            "predicted s (max epochs)": statistics.median(t.predicted for t in v),
            "measured s": statistics.median(t.measured for t in v),
            "measured/predicted": statistics.median(_ratios(v)),
            "held out: measured/calibrated": statistics.median(held) if held else None,
            "held out within 2x": (f"{sum(0.5 <= r <= 2 for r in held)}/{len(held)}"
                                   if held else None)})
    return rows


def _read_records(run_dir: Path) -> list[dict]:
    from bench.runner import load_record

    return [r for p in sorted((run_dir / "records").glob("*.json"))
            if (r := load_record(p)) is not None]


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.costs --calibrate RUN_DIR`: the validation table of the cost model
    against a finished run's records; with --save, the fitted factors go into the cost data."""
    from tabulate import tabulate

    from bench.data.splits import modality_of
    from bench.scales import get_scale

    p = argparse.ArgumentParser(prog="python -m bench.costs", description=main.__doc__)
    p.add_argument("--calibrate", type=Path, nargs="+", required=True, metavar="RUN_DIR",
                   help="finished run folders of one scale (e.g. both suites' quick runs)")
    p.add_argument("--cost-data", type=Path, default=COMMITTED)
    p.add_argument("--entry", default="cpu/fp32", help="the cost entry to calibrate")
    p.add_argument("--save", action="store_true", help="write the factors into --cost-data")
    args = p.parse_args(argv)
    data = load_cost_data(args.cost_data)
    entry = data.entries.get(args.entry)
    if entry is None:
        raise SystemExit(f"{args.cost_data}: no entry {args.entry!r}")
    records = [r for run_dir in args.calibrate for r in _read_records(run_dir)]
    where = ", ".join(map(str, args.calibrate))
    if not records:
        raise SystemExit(f"{where}: no finished records")
    scales = {r["scale"] for r in records}
    if len(scales) != 1:
        raise SystemExit(f"{where}: records of several scales {sorted(scales)}")
    timings = record_timings(records, get_scale(scales.pop()), entry, modality_of)
    print("Seconds per job (median over records; generators: training + D_s)")
    print(tabulate(calibration_table(timings), headers="keys", floatfmt=".3g", missingval=""))
    if args.save:
        raw = json.loads(args.cost_data.read_text())
        commits = sorted({r.get("env", {}).get("git_commit", "?")[:7] for r in records})
        raw["entries"][args.entry]["calibration"] = {
            "source": f"{len(records)} records of {where} (commits {', '.join(commits)})",
            "command": "python -m bench.costs " + " ".join(sys.argv[1:] if argv is None else argv),
            "factors": {k: round(v, 3) for k, v in sorted(fitted_factors(timings).items())},
            "records": {k: len(v) for k, v in sorted(timings.items())},
        }
        atomic_write_text(args.cost_data, json.dumps(raw, indent=1) + "\n")
        print(f"factors written to {args.cost_data} [{args.entry}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
