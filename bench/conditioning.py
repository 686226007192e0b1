"""Does a trained text ADDES generator read its labels? Diagnostics without test data and
without true target labels (issue 13), stored in each cached generator's metadata and
printed by `python -m bench.diagnose`.

- y_t conditioning gap: a TF-IDF+LR judge trained on D_e (D_l's titles, y_s and Eq. 19's
  target estimates; fitted once per split in a process) scores paired decodes: the same z
  and y_s (rows of D_l), every target on vs every target off; per target, mean p(t) on minus
  mean p(t) off. All settings of a gap are decoded in one batched `generate` call.
- y_s conditioning gap: the same judge's source-tag columns (D_l's own y_s), for the eight
  most frequent source tags: paired decodes with that tag on vs off (other labels and z
  fixed; y_t = Eq. 19 of the row with the tag on, in both), mean p(tag) on minus off.
- NLL changes: teacher-forced validation NLL per token (z = mu, labels [y_s | q_C(y_t|x)] as
  in Eq. 6) when y_t is flipped (1 - q) and when the y_s rows are shuffled across titles,
  minus the NLL under the right labels. About 0 means the decoder does not read them.
- The NLL of a unigram model of D_l + D_u on the same validation tokens (add-0.5): a decoder
  barely below it has not learned enough language to condition on anything.
- KL of z per latent dimension on validation (posterior collapse: dimensions near 0).
- q_C's validation AP against Eq. 19 targets after each phase of Algorithm 1
  (`ADDESGenerator.phase_val_ap_`, recorded by `fit`).
- Table 3's examples (`paired_examples`): per target, titles decoded from the same z and y_s
  with that target on and off, each with the judge's p(target).

Images (`image_conditioning_report`) have no judge; the decoder's reading of y_t is the pixel
change of a target flip beside that of a new z, and whether it draws glyphs at all is the
reconstruction of validation crops (`reconstruction_agreement`): a decoder that paints a
grey text band has a per-image correlation with its input far below 1 and an MSE near that
of a flat grey image.
"""

from __future__ import annotations

import hashlib
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

from addes.model import reconstruction_nll
from addes.text import decoder_io
from addes.tokens import TOKEN_PATTERN
from addes.train import ADDESGenerator
from baselines.tfidf_lr import TfidfLogisticRegression
from bench.data.splits import Split

N_PAIRS = 500  # paired decodes per setting (fewer when D_l is smaller; SE of a gap ~0.005)
N_SOURCE_TAGS = 8  # the most frequent source tags of D_l whose y_s gap is measured
N_EXAMPLES = 10  # Table 3's title pairs per target
N_IMAGE_PAIRS = 256  # paired image decodes (images: `image_conditioning_report`)
N_RECONSTRUCTED = 512  # validation crops reconstructed (images: `reconstruction_agreement`)
ACTIVE_KL = 0.01  # nats: a latent dimension with a mean KL above this is "active"


# the suite's TF-IDF+LR fits the label columns after graph.n_inexact: with 0 it judges all
ALL_CLASSES = SimpleNamespace(n_inexact=0)
_JUDGES: dict[tuple[str, int], TfidfLogisticRegression] = {}  # this process's fitted judges
_MAX_JUDGES = 4


def frequent_sources(split: Split, n_tags: int = N_SOURCE_TAGS) -> np.ndarray:
    """Column indices of D_l's `n_tags` most frequent source tags (ties: the first listed)."""
    return np.argsort(-split.y_s.sum(axis=0), kind="stable")[:n_tags]


def _judge_key(split: Split, seed: int) -> tuple[str, int]:
    """What a judge is fitted from: D_l's titles, y_s and Eq. 19's y_t (hashed)."""
    h = hashlib.sha1("\n".join(split.labeled.texts).encode())
    for arr in (split.y_s, split.estimated_targets(split.y_s)):
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest(), seed


def judge(split: Split, seed: int) -> TfidfLogisticRegression:
    """TF-IDF+LR on D_e: D_l's titles with [y_s | Eq. 19's y_t] (no true target label).

    Only the columns a diagnostic reads are fitted, the targets and the N_SOURCE_TAGS most
    frequent source tags; the other source columns are left constant (p = 0, never read).
    Fitted once per (D_e, seed) in a process and reused by every generator of that split."""
    key = _judge_key(split, seed)
    if key not in _JUDGES:
        y = np.concatenate([split.y_s, split.estimated_targets(split.y_s)], axis=1)
        unread = np.ones(split.graph.n_inexact, bool)
        unread[frequent_sources(split)] = False
        y[:, np.flatnonzero(unread)] = 0.0
        if len(_JUDGES) >= _MAX_JUDGES:
            _JUDGES.clear()
        _JUDGES[key] = TfidfLogisticRegression(TOKEN_PATTERN, seed=seed).fit(
            split.labeled, y, graph=ALL_CLASSES)
    return _JUDGES[key]


def _pairs(split: Split, gen: ADDESGenerator, seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return split.y_s[rng.integers(0, len(split.y_s), n)].copy(), gen.sample_z(n, seed=seed)


def _judged_decodes(gen: ADDESGenerator, judge_: TfidfLogisticRegression, settings:
                    list[tuple[np.ndarray, np.ndarray]], z: np.ndarray, seed: int
                    ) -> list[np.ndarray]:
    """The judge's probabilities [n, |W|] of titles decoded from z under each (y_s, y_t)
    setting; all settings in one `generate` call (batched decoding), z shared."""
    n = len(z)
    y_s = np.concatenate([ys for ys, _ in settings])
    y_t = np.concatenate([yt for _, yt in settings])
    p = judge_.predict_proba(gen.generate(y_s, y_t, seed=seed, z=np.tile(z, (len(settings), 1))))
    return [p[i * n : (i + 1) * n] for i in range(len(settings))]


def paired_examples(split: Split, gen: ADDESGenerator, judge_: TfidfLogisticRegression,
                    seed: int, n: int = N_EXAMPLES) -> list[dict]:
    """Table 3: for each target t, n pairs of titles decoded from one z ~ N(0, I) and one y_s
    row of D_l, with y_t = Eq. 19's estimate from y_s except t, set to 1 in the first title of
    the pair and 0 in the second; each title with the judge's p(t). Rows in pair order, each
    {"target", "pair", "target_on", "inputs_labels" (class names set to 1), "text",
    "judge"}; a decoder that reads y_t gives the "on" title the higher score."""
    n_s, n_t = split.graph.n_inexact, split.graph.n_target
    rows_s, rows_t, z_all = [], [], []
    for j in range(n_t):
        y_s, z = _pairs(split, gen, seed + j, n)
        y_t = split.estimated_targets(y_s).astype(np.float32)
        for on in (1.0, 0.0):
            y_t[:, j] = on
            rows_s.append(y_s)
            rows_t.append(y_t.copy())
            z_all.append(z)
    y_s, y_t = np.concatenate(rows_s), np.concatenate(rows_t)
    titles = gen.generate(y_s, y_t, seed=seed, z=np.concatenate(z_all))
    scores = judge_.predict_proba(titles)[:, n_s:]
    classes = split.graph.classes
    examples = []
    for j, target in enumerate(split.targets):
        for k in range(n):
            for block, on in ((2 * j, True), (2 * j + 1, False)):
                i = block * n + k
                labels = np.concatenate([y_s[i], y_t[i]])
                examples.append({"target": target, "pair": k, "target_on": on,
                                 "inputs_labels": [c for c, v in zip(classes, labels,
                                                                      strict=True) if v > 0.5],
                                 "text": titles.texts[i], "judge": float(scores[i, j])})
    return examples


def target_gap(split: Split, gen: ADDESGenerator, judge_: TfidfLogisticRegression, seed: int,
               n: int) -> dict[str, float]:
    """Per target: mean judge p(t) over n decodes with every target on minus the same z and
    y_s with every target off."""
    y_s, z = _pairs(split, gen, seed, n)
    n_s, n_t = split.graph.n_inexact, split.graph.n_target
    p_on, p_off = _judged_decodes(gen, judge_, [(y_s, np.full((n, n_t), on, np.float32))
                                                for on in (1.0, 0.0)], z, seed)
    gap = p_on[:, n_s:].mean(axis=0) - p_off[:, n_s:].mean(axis=0)
    return {t: float(gap[j]) for j, t in enumerate(split.targets)}


def source_gap(split: Split, gen: ADDESGenerator, judge_: TfidfLogisticRegression, seed: int,
               n: int, n_tags: int = N_SOURCE_TAGS) -> dict[str, float]:
    """Per frequent source tag: mean judge p(tag) over n decodes with the tag on minus off
    (same z, other source tags, and y_t = Eq. 19 of the row with the tag on)."""
    if n_tags > N_SOURCE_TAGS:
        raise ValueError(f"the judge scores the {N_SOURCE_TAGS} most frequent source tags, "
                         f"not {n_tags}")
    y_s, z = _pairs(split, gen, seed, n)
    tags = frequent_sources(split, n_tags)
    settings = []
    for j in tags:
        on, off = y_s.copy(), y_s.copy()
        on[:, j], off[:, j] = 1.0, 0.0
        y_t = split.estimated_targets(on).astype(np.float32)
        settings += [(on, y_t), (off, y_t)]
    p = _judged_decodes(gen, judge_, settings, z, seed)
    return {split.inexact[j]: float(p[2 * i][:, j].mean() - p[2 * i + 1][:, j].mean())
            for i, j in enumerate(tags)}


def linked_flip_gap(split: Split, gen: ADDESGenerator, judge_: TfidfLogisticRegression,
                    seed: int, n: int = N_PAIRS) -> dict[str, dict[str, float]]:
    """Does y_t carry anything apart from its linked sources? On D_l, y_t is Eq. 19 of y_s,
    so a decoder may read the sources R_t (Eq. 18 links) and ignore y_t. Per target t, the
    judge's mean p(t) on minus off over n paired decodes (same z, y_s rows of D_l) for three
    flips: "y_t" (t alone, y_s and the other targets (Eq. 19 of y_s) fixed), "R_t" (every
    linked source on vs off, t held at 0), "joint" (R_t and t together: y_t = Eq. 19 of the
    flipped y_s, the combinations D_l holds). Lone ~ 0 with joint ~ R_t > 0 says the decoder
    reads y_s and not y_t."""
    n = min(n, len(split.labeled))
    y_s, z = _pairs(split, gen, seed, n)
    n_s = split.graph.n_inexact
    out = {}
    for j, t in enumerate(split.targets):
        links = split.graph.target_links[j]
        s_on, s_off = y_s.copy(), y_s.copy()
        s_on[:, links], s_off[:, links] = 1.0, 0.0
        t_on, t_off = (split.estimated_targets(y_s) for _ in range(2))
        t_on[:, j], t_off[:, j] = 1.0, 0.0
        held = split.estimated_targets(s_on)
        held[:, j] = 0.0
        pairs = {"y_t": ((y_s, t_on), (y_s, t_off)),
                 "R_t": ((s_on, held), (s_off, split.estimated_targets(s_off))),
                 "joint": ((s_on, split.estimated_targets(s_on)),
                           (s_off, split.estimated_targets(s_off)))}
        p = {name: [judge_.predict_proba(gen.generate(ys, yt.astype(np.float32), seed=seed,
                                                      z=z))[:, n_s + j].mean()
                    for ys, yt in pair] for name, pair in pairs.items()}
        out[t] = {name: float(on - off) for name, (on, off) in p.items()}
    return out


@torch.no_grad()
def nll_changes(split: Split, gen: ADDESGenerator, seed: int) -> dict[str, float]:
    """Teacher-forced validation NLL per token (nats) under the right labels, and its change
    with y_t flipped (1 - q_C(y_t|x)) and with y_s rows shuffled across titles."""
    model, dev = gen.model_, gen.config.device
    model.eval()
    x = torch.from_numpy(split.val.x).to(dev)
    y_s = torch.as_tensor(split.val_y_s, dtype=torch.float32, device=dev)
    q_t = torch.sigmoid(model.classify(x)[:, model.n_inexact :])
    mu, _ = model.encoder(x)
    inputs, target = decoder_io(x)
    tokens = float((target != 0).sum())
    perm = torch.as_tensor(np.random.default_rng(seed).permutation(len(x)), device=dev)

    def nll(ys: torch.Tensor, yt: torch.Tensor) -> float:
        states = model.decoder(inputs, mu, torch.cat([ys, yt], dim=1))
        return float(reconstruction_nll(model.decoder, states, target).sum()) / tokens

    base = nll(y_s, q_t)
    return {"nll_per_token": base, "unigram_nll_per_token": unigram_nll(split),
            "flip_y_t": nll(y_s, 1 - q_t) - base, "shuffle_y_s": nll(y_s[perm], q_t) - base}


def unigram_nll(split: Split) -> float:
    """Validation NLL per scored token (words and EOS) of an add-0.5 unigram model counted
    on D_l and D_u: the floor any decoder should be well below."""
    def scored(x: np.ndarray) -> np.ndarray:
        target = decoder_io(torch.from_numpy(x))[1].numpy()
        return target[target != 0]

    counts = np.bincount(np.concatenate([scored(split.labeled.x), scored(split.unlabeled.x)]),
                         minlength=len(split.labeled.vocab)) + 0.5
    return float(-np.log(counts / counts.sum())[scored(split.val.x)].mean())


@torch.no_grad()
def kl_per_dimension(split: Split, gen: ADDESGenerator) -> list[float]:
    """Mean KL[q_E(z_d|x) || N(0, 1)] per latent dimension over the validation titles."""
    model = gen.model_
    model.eval()
    mu, logvar = model.encoder(torch.from_numpy(split.val.x).to(gen.config.device))
    kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar)
    return [float(v) for v in kl.mean(dim=0)]


def conditioning_report(split: Split, gen: ADDESGenerator, seed: int,
                        n: int = N_PAIRS) -> dict[str, Any]:
    """Every diagnostic above for one generator, as plain numbers (JSON-ready)."""
    n = min(n, len(split.labeled))
    judge_ = judge(split, seed)
    kl = kl_per_dimension(split, gen)
    y_t, y_s = target_gap(split, gen, judge_, seed, n), source_gap(split, gen, judge_, seed, n)
    return {"n_pairs": n, "y_t_gap": y_t, "y_t_gap_min": min(y_t.values()),
            "y_s_gap": y_s, "y_s_gap_mean": float(np.mean(list(y_s.values()))),
            "y_s_gap_min": min(y_s.values()), "nll": nll_changes(split, gen, seed),
            "kl_z": kl, "active_dims": int(sum(v > ACTIVE_KL for v in kl)),
            "q_C_val_AP": dict(getattr(gen, "phase_val_ap_", {}))}


def reconstruction_agreement(images: np.ndarray, reconstructions: np.ndarray,
                             eps: float = 1e-6) -> dict[str, float]:
    """How much of each image [n, C, H, W] its reconstruction keeps: the mean over images of
    the Pearson correlation of their pixels (1: the same picture up to brightness and
    contrast; 0 for a flat reconstruction), the pixel MSE, and the MSE of a flat image of
    each input's own mean grey (what a decoder that draws nothing inside the crop scores)."""
    x = images.reshape(len(images), -1).astype(np.float64)
    r = reconstructions.reshape(len(reconstructions), -1).astype(np.float64)
    xc, rc = x - x.mean(axis=1, keepdims=True), r - r.mean(axis=1, keepdims=True)
    corr = (xc * rc).mean(axis=1) / (xc.std(axis=1) * rc.std(axis=1) + eps)
    return {"recon_corr": float(corr.mean()), "recon_mse": float(((x - r) ** 2).mean()),
            "flat_grey_mse": float((xc ** 2).mean())}


@torch.no_grad()
def image_reconstructions(split: Split, gen: ADDESGenerator, n: int = N_RECONSTRUCTED
                          ) -> tuple[np.ndarray, np.ndarray]:
    """(validation crops, their reconstructions): decoded from the encoder's mean under the
    crop's y_s and q_C's targets, the labels Eq. 6 reconstructs a D_l example with."""
    model, device = gen.model_.eval(), gen.config.device
    x = torch.from_numpy(split.val.x[:n]).to(device)
    y_s = torch.from_numpy(split.val_y_s[:n]).float().to(device)
    y_t = torch.sigmoid(model.classify(x))[:, split.graph.n_inexact:]
    recon = model.decoder(model.encoder(x)[0], torch.cat([y_s, y_t], dim=1))
    return x.cpu().numpy(), recon.float().cpu().numpy()


def image_conditioning_report(split: Split, gen: ADDESGenerator, seed: int,
                              n: int = N_IMAGE_PAIRS) -> dict[str, Any]:
    """The image generator's diagnostics (no judge: an image classifier good enough to judge
    letters is a model of its own): mean absolute pixel change of the decoded mean image when
    every target is switched on vs off (same z and y_s rows of D_l), beside the change when z
    is redrawn under the same labels (the scale of what the decoder does read); how well it
    reconstructs validation crops (`reconstruction_agreement`); KL of z per dimension on
    validation; q_C's validation AP after each phase."""
    y_s, z = _pairs(split, gen, seed, n)
    n_t = split.graph.n_target
    on, off = (np.full((n, n_t), v, np.float32) for v in (1.0, 0.0))
    x_on = gen.generate(y_s, on, z=z).x
    y_t_change = float(np.abs(x_on - gen.generate(y_s, off, z=z).x).mean())
    z_change = float(np.abs(x_on - gen.generate(y_s, on, z=gen.sample_z(n, seed + 1)).x).mean())
    kl = kl_per_dimension(split, gen)
    return {"n_pairs": n, "y_t_pixel_change": y_t_change, "z_pixel_change": z_change,
            "y_t_over_z": y_t_change / z_change if z_change > 0 else float("nan"),
            **reconstruction_agreement(*image_reconstructions(split, gen)),
            "kl_z": kl, "active_dims": int(sum(v > ACTIVE_KL for v in kl)),
            "q_C_val_AP": dict(getattr(gen, "phase_val_ap_", {}))}


def conditioning_markdown(report: dict[str, Any]) -> str:
    """A short Markdown section of `conditioning_report`."""
    nll = report["nll"]
    fmt = lambda d: ", ".join(f"{k} {v:+.3f}" for k, v in d.items())  # noqa: E731
    ap = ", ".join(f"{k} {v:.3f}" for k, v in report["q_C_val_AP"].items()) or "not recorded"
    return (f"## Conditioning (validation and D_l only; no true target label)\n\n"
            f"- y_t gap (judge on D_e, {report['n_pairs']} paired decodes): "
            f"{fmt(report['y_t_gap'])}\n"
            f"- y_s gap (8 most frequent source tags): {fmt(report['y_s_gap'])} "
            f"(mean {report['y_s_gap_mean']:+.3f})\n"
            f"- teacher-forced val NLL {nll['nll_per_token']:.3f} nats/token (unigram model of "
            f"D_l + D_u: {nll['unigram_nll_per_token']:.3f}); change with y_t "
            f"flipped {nll['flip_y_t']:+.4f}, with y_s shuffled {nll['shuffle_y_s']:+.4f}\n"
            f"- KL of z per dimension: {', '.join(f'{v:.2f}' for v in report['kl_z'])} "
            f"({report['active_dims']} active > {ACTIVE_KL})\n"
            f"- q_C validation AP (Eq. 19 targets) after each phase: {ap}\n")


def image_diagnostics_markdown(report: dict[str, Any]) -> str:
    """Figure 5's caption facts from `image_conditioning_report` (what a cached generator's
    metadata holds; keys it lacks are left out): does the decoder read y_t, and does it draw?"""
    lines = []
    if "y_t_pixel_change" in report:
        lines.append(f"- Switching every target on vs off moves a pixel by "
                     f"{report['y_t_pixel_change']:.4f} on average (same z and y_s, "
                     f"{report['n_pairs']} pairs); redrawing z moves it by "
                     f"{report['z_pixel_change']:.4f} (ratio {report['y_t_over_z']:.2f}).")
    if "recon_corr" in report:
        lines.append(f"- Reconstructions of validation crops: per-image correlation with the "
                     f"input {report['recon_corr']:.2f} (1: every stroke kept), pixel MSE "
                     f"{report['recon_mse']:.4f} against {report['flat_grey_mse']:.4f} for a "
                     f"flat image of each crop's own mean grey.")
    if "active_dims" in report:
        lines.append(f"- Latent z: {report['active_dims']} of {len(report['kl_z'])} dimensions "
                     f"active (KL > {ACTIVE_KL} nats), total KL "
                     f"{sum(report['kl_z']):.1f} nats.")
    return "\n".join(lines)


def linked_flip_markdown(flips: dict[str, dict[str, float]]) -> str:
    """One Markdown line of `linked_flip_gap`."""
    cells = "; ".join(f"{t}: y_t alone {g['y_t']:+.3f}, R_t alone {g['R_t']:+.3f}, joint "
                      f"{g['joint']:+.3f}" for t, g in flips.items())
    return (f"- judge p(t) gap when y_t, its linked sources R_t, or both are flipped (paired "
            f"decodes): {cells}\n")
