"""Cached ADDES artifacts: trained generators and synthetic training sets D_s (Section 5.3.3).

One generator is trained per (split fingerprint, scale, seed, variant, alpha, beta) and saved
atomically under cache_dir/generators/; a second request loads it. One D_s of the largest size
any experiment of the scale asks for (max of scale.synthetic_sweep and scale.n_synthetic) is
generated per (generator, label sampling) under cache_dir/synthetic/, and a job asking for n
synthetic examples gets its first n rows, so the sizes of Figure 3 are nested. File locks make
parallel workers wait for, rather than repeat, each other's training.

Variants (Section 5.6): "ADDES" (GCN classifier over G), "ADDES-CNN" (multi-label linear head,
no GCN), "ADDES-W" (GCN over Eq. 17 computed from the TRUE labels of D_l over all of W: the
only caller of split.oracle_target_labels here).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from addes.data import Inputs
from addes.graph import ClassGraph
from addes.train import ADDESConfig, ADDESGenerator
from bench.data.splits import Split
from bench.io import atomic_dump
from bench.locks import file_lock
from bench.scales import Scale

log = logging.getLogger("bench")

VARIANTS = ("ADDES", "ADDES-CNN", "ADDES-W")
DEFAULT_LABEL_SAMPLING = "resample"


def split_fingerprint(split: Split) -> str:
    """Hash of the bytes of D_l's inputs, its inexact labels and D_u's inputs."""
    h = hashlib.sha1()
    for arr in (split.labeled.x, split.y_s, split.unlabeled.x):
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()[:16]


def _variant(params: Mapping[str, Any]) -> str:
    variant = params.get("variant", "ADDES")
    if variant not in VARIANTS:
        raise ValueError(f"ADDES variant must be one of {VARIANTS}, not {variant!r}")
    return variant


def generator_key(split: Split, seed: int, params: Mapping[str, Any], scale: Scale) -> str:
    blob = json.dumps([split_fingerprint(split), scale.identity(), seed, _variant(params),
                       float(params.get("alpha", 0.1)), float(params.get("beta", 0.1))],
                      sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:20]


def addes_config(params: Mapping[str, Any], scale: Scale, device: str = "cpu") -> ADDESConfig:
    """ADDESConfig from the Scale's ADDES fields and the job's variant, alpha and beta."""
    return ADDESConfig(
        embed_dim=scale.addes_embed, hidden=scale.addes_hidden, latent=scale.addes_latent,
        alpha=float(params.get("alpha", 0.1)), beta=float(params.get("beta", 0.1)),
        classifier="mlp" if _variant(params) == "ADDES-CNN" else "gcn",
        epochs_classifier=scale.addes_epochs_classifier, epochs_vae=scale.addes_epochs_vae,
        epochs_joint=scale.addes_epochs_joint, batch_size=scale.batch_size,
        patience=scale.patience, device=device)


def _training_graph(split: Split, variant: str) -> ClassGraph:
    if variant != "ADDES-W":
        return split.graph
    y_all = np.concatenate([split.y_s, split.oracle_target_labels("labeled")], axis=1)
    return split.graph.reweighted_by_true_labels(y_all)


def trained_generator(split: Split, *, seed: int, params: Mapping[str, Any], scale: Scale,
                      cache_dir: Path, device: str = "cpu") -> ADDESGenerator:
    """The generator of this (split, scale, seed, variant, alpha, beta): loaded, or trained once."""
    key = generator_key(split, seed, params, scale)
    path = Path(cache_dir) / "generators" / f"{split.dataset}-{key}.joblib"
    with file_lock(path.with_suffix(".lock")):
        if path.exists():
            return ADDESGenerator.from_state_dict(joblib.load(path), device)
        variant = _variant(params)
        log.info("training %s generator for %s (seed %d) -> %s", variant, split.dataset, seed, path)
        gen = ADDESGenerator(addes_config(params, scale, device), seed).fit(
            split.labeled, split.y_s, split.unlabeled, _training_graph(split, variant),
            val=(split.val, split.val_y_s))
        atomic_dump(gen.state_dict(), path)
        return gen


def synthetic_training_set(split: Split, *, seed: int, params: Mapping[str, Any], scale: Scale,
                           cache_dir: Path, device: str = "cpu") -> tuple[Inputs, np.ndarray]:
    """D_s for a job: inputs and labels [n, |W|] (S then T). params keys: variant ("ADDES" |
    "ADDES-CNN" | "ADDES-W"), alpha, beta, n_synthetic, label_sampling (optional, default
    "resample"; see ADDESGenerator.sample_labels)."""
    n = int(params["n_synthetic"] if params.get("n_synthetic") is not None else scale.n_synthetic)
    n_max = max((*scale.synthetic_sweep, scale.n_synthetic, n))
    sampling = params.get("label_sampling") or DEFAULT_LABEL_SAMPLING
    key = generator_key(split, seed, params, scale)
    path = Path(cache_dir) / "synthetic" / f"{split.dataset}-{key}-{sampling}-{n_max}.joblib"
    with file_lock(path.with_suffix(".lock")):
        if path.exists():
            inputs, labels = joblib.load(path)
        else:
            gen = trained_generator(split, seed=seed, params=params, scale=scale,
                                    cache_dir=cache_dir, device=device)
            y_s, y_t = gen.sample_labels(n_max, sampling, seed=seed)
            inputs = gen.generate(y_s, y_t, seed=seed)
            labels = np.concatenate([y_s, y_t], axis=1).astype(np.float32)
            atomic_dump((inputs, labels), path)
    return inputs.subset(slice(0, n)), labels[:n]


def generated_examples(split: Split, *, seed: int, params: Mapping[str, Any], scale: Scale,
                       cache_dir: Path, n_per_setting: int = 10) -> list[dict]:
    """For Table 3: seeded samples, each {"inputs_labels": [class names set to 1], "text": str,
    "target_on": bool}. For each setting (all targets off, then all on), n_per_setting y_s rows
    resampled from D_l, z from the prior."""
    gen = trained_generator(split, seed=seed, params=params, scale=scale, cache_dir=cache_dir)
    rng = np.random.default_rng(seed)
    classes = split.graph.classes
    examples = []
    for target_on in (False, True):
        y_s = split.y_s[rng.integers(0, len(split.y_s), n_per_setting)]
        y_t = np.full((n_per_setting, split.graph.n_target), float(target_on), np.float32)
        texts = gen.generate(y_s, y_t, seed=seed + int(target_on)).texts
        for row, text in zip(np.concatenate([y_s, y_t], axis=1), texts, strict=True):
            names = [c for c, v in zip(classes, row, strict=True) if v > 0.5]
            examples.append({"inputs_labels": names, "text": text, "target_on": target_on})
    return examples
