"""Training ADDES (Algorithm 1) and sampling synthetic labeled text or images from it.

    gen = ADDESGenerator(ADDESConfig(embed_dim=300, hidden=150, latent=64, ...), seed=0)
    gen.fit(labeled, y_s, unlabeled, graph, val=(val_inputs, val_y_s))
    y_s, y_t = gen.sample_labels(30000, "resample", seed=0)
    synthetic = gen.generate(y_s, y_t, seed=0)

Algorithm 1: (1) the classifier q_C alone on Eq. 10 + the third term of Eq. 6; (2) encoder and
decoder on Eq. 11 with q_C frozen (its L^s_C term is then a constant and skipped); (3) all
three on Eq. 11. Every step reads N = batch_size // 2 examples of D_l and N of D_u (so a step
sees batch_size examples); an epoch is one pass over the larger of the two, the smaller one
cycled. Each phase keeps the weights of its best validation objective; the joint phase stops
after `patience` epochs without improvement. The validation objective is Eq. 6 + beta * Eq. 10
on the split's validation part with its inexact labels only (z = mu; the stochastic L_cons is
left out), and Eq. 10 + Eq. 6's third term in phase 1. Targets' true labels are never read.

Deviations, behind flags that are off by default: KL annealing of KL_z from 0 to 1 over
`kl_anneal_steps` steps of phase 2, and word dropout of the decoder input (Bowman et al. 2016).
L_cons is estimated on `cons_batch` prior samples per step, decoded for `relaxed_length` steps
(speed choices; see Eq. 9).

Options of "ADDES+" (issue 13; off by default, each in addes/model.py or addes/text.py):
`per_token` (per-token -ELBO), `cons_classifier_grad=False` (q_C held fixed in L_cons),
`cons_labels="paired"` (L_cons over D_l's y_s with paired y_t flips), `label_input` (labels
in every decoder step's input), `label_prior="coupled"` (noisy-OR p(y_t|y_s, G) in Eq. 7 and
Eq. 9; D_s's "coupled" label sampling draws from it too), `detach_labels` (q_C's soft labels
reach the decoder without a gradient), `free_bits` (KL_z floored per latent dimension, Kingma
et al. 2016: against the collapse of z), `cons_relax="gumbel"` (Eq. 9 decoded by
straight-through Gumbel-softmax), `independence` (Hu et al. 2017's independence constraint:
the fixed encoder must recover z from Eq. 9's decoded x). `fit` also records q_C's validation
AP against Eq. 19 targets after each phase (`phase_val_ap_`), a diagnostic.

Both modalities share this class and its training loop; the modality comes from the inputs
(`Inputs.modality`): token ids build `addes.model.ADDES` (embed_dim, hidden, latent), images
build `addes.image.ImageADDES` (width_mult, latent; embed_dim and hidden are unused). For
images, `generate` returns the decoder's mean images (p_D's mean; its pixel noise is not added).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from sklearn.metrics import average_precision_score

from addes.data import EOS, PAD, Inputs
from addes.graph import ClassGraph
from addes.model import (
    ADDES,
    consistency_labels,
    coupled_target_prior,
    label_prior,
    loss_classifier_init,
    loss_consistency,
    loss_generative,
    loss_inexact,
    loss_labeled,
    loss_total,
    loss_unlabeled,
)
from addes.text import RELAXATIONS, reparameterize
from addes.training import TrainConfig, autocast, make_optimizer

LABEL_STRATEGIES = ("prior", "resample", "tied", "coupled", "posterior")
# strategies that need D_u: `sample_posterior` draws the labels and z together
POSTERIOR_STRATEGIES = ("posterior",)
LABEL_PRIORS = ("independent", "coupled")
PHASES = ("classifier", "generative", "joint")  # Algorithm 1's lines 1, 2 and 3-6


@dataclass(frozen=True)
class ADDESConfig:
    embed_dim: int = 300
    hidden: int = 150
    latent: int = 64
    alpha: float = 0.1
    beta: float = 0.1
    classifier: str = "gcn"  # "gcn" (ADDES) | "mlp" (ADDES-CNN)
    epochs_classifier: int = 20
    epochs_vae: int = 20
    epochs_joint: int = 40
    batch_size: int = 64
    lr: float = 1e-3
    patience: int = 3
    label_smoothing_eps: float = 0.1
    cons_batch: int = 8  # prior samples per step for L_cons (Eq. 9)
    cons_tau: float = 1.0  # softmax temperature of the relaxed decoding (Eq. 9)
    cons_top_k: int = 32  # words kept per step of the relaxed decoding (Eq. 9)
    kl_anneal_steps: int = 0  # deviation when > 0 (Bowman et al. 2016)
    word_dropout: float = 0.0  # deviation when > 0 (Bowman et al. 2016)
    device: str = "cpu"
    dtype: str = "fp32"  # "bf16": forward passes under bf16 autocast (addes.training.autocast)
    width_mult: float = 1.0  # images: the paper's filter counts times this
    # ADDES+ options (issue 13); the defaults are the published model
    per_token: bool = False  # -ELBO per scored token (text)
    cons_classifier_grad: bool = True  # False: q_C held fixed in L_cons (Hu et al. 2017)
    cons_labels: str = "prior"  # "paired": D_l's y_s, each with all targets on and off
    label_input: bool = False  # labels in every decoder step's input (text)
    label_prior: str = "independent"  # "coupled": noisy-OR p(y_t|y_s, G), Eq. 7 and Eq. 9
    detach_labels: bool = False  # q_C's soft labels reach the decoder without a gradient
    free_bits: float = 0.0  # > 0: KL_z per latent dimension floored at this (nats, a batch)
    cons_relax: str = "softmax"  # "gumbel": Eq. 9 by straight-through Gumbel-softmax (text)
    independence: float = 0.0  # > 0: Hu et al. 2017's -log q_E(z|x^) in L_cons, this weight

    def __post_init__(self):
        if self.label_prior not in LABEL_PRIORS:
            raise ValueError(f"label_prior must be one of {LABEL_PRIORS}, not "
                             f"{self.label_prior!r}")
        if self.free_bits < 0:
            raise ValueError(f"free_bits must be >= 0, not {self.free_bits!r}")
        if self.cons_relax not in RELAXATIONS:
            raise ValueError(f"cons_relax must be one of {RELAXATIONS}, not "
                             f"{self.cons_relax!r}")
        if self.independence < 0:
            raise ValueError(f"independence must be >= 0, not {self.independence!r}")
        if self.cons_labels not in ("prior", "paired"):
            raise ValueError(f"cons_labels must be 'prior' or 'paired', not "
                             f"{self.cons_labels!r}")

    @property
    def coupled_eps(self) -> float | None:
        """eps of the noisy-OR prior when it is on, else None (addes.model's convention)."""
        return self.label_smoothing_eps if self.label_prior == "coupled" else None


def relaxed_length(labeled: Inputs) -> int:
    """Steps of the relaxed decoding of Eq. 9: the 99th percentile of D_l's title lengths, plus
    one for EOS (a speed choice: most titles are far shorter than the padded length)."""
    lengths = (labeled.x != PAD).sum(axis=1)
    return int(np.percentile(lengths, 99)) + 1


def _paired_batches(n_l: int, n_u: int, half: int, gen: torch.Generator
                    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """One epoch of (D_l index, D_u index) batches of `half` each, the smaller set cycled."""
    steps = -(-max(n_l, n_u) // half)

    def cycled(n: int) -> torch.Tensor:
        reps = -(-steps * half // n)
        return torch.cat([torch.randperm(n, generator=gen) for _ in range(reps)])[: steps * half]

    idx_l, idx_u = cycled(n_l), cycled(n_u)
    for i in range(steps):
        yield idx_l[i * half : (i + 1) * half], idx_u[i * half : (i + 1) * half]


class ADDESGenerator:
    """ADDES for text or images, scikit-learn-like: fit, sample_labels, generate,
    predict_proba, state_dict / from_state_dict."""

    def __init__(self, config: ADDESConfig, seed: int):
        self.config, self.seed = config, seed

    def _build_model(self, prior: np.ndarray) -> torch.nn.Module:
        cfg = self.config
        if self.modality_ == "image":
            from addes.image import ImageADDES

            model = ImageADDES(self.graph_, cfg.width_mult, cfg.latent, prior, cfg.classifier)
        else:
            model = ADDES(self.graph_, len(self.vocab_), cfg.embed_dim, cfg.hidden, cfg.latent,
                          prior, cfg.classifier, cfg.label_input)
        return model.to(cfg.device)

    # ---- training ---------------------------------------------------------------------------

    def fit(self, labeled: Inputs, y_s: np.ndarray, unlabeled: Inputs, graph: ClassGraph,
            val: tuple[Inputs, np.ndarray] | None) -> ADDESGenerator:
        cfg, dev = self.config, self.config.device
        if len(unlabeled) == 0 or len(labeled) == 0:
            raise ValueError(f"ADDES needs labeled and unlabeled examples; got |D_l| = "
                             f"{len(labeled)}, |D_u| = {len(unlabeled)}")
        if cfg.independence > 0 and labeled.modality == "text" and cfg.cons_relax != "gumbel":
            raise ValueError("the independence constraint re-encodes Eq. 9's decoded titles: "
                             "text needs cons_relax='gumbel' (one word per step)")
        torch.manual_seed(self.seed)
        self.graph_, self.vocab_ = graph, labeled.vocab
        self.modality_ = labeled.modality
        self.max_len_ = labeled.x.shape[1]
        self.cons_len_ = relaxed_length(labeled) if self.modality_ == "text" else 0
        self.y_s_ = np.asarray(y_s, dtype=np.float32)
        prior = label_prior(graph, self.y_s_, cfg.label_smoothing_eps)
        self.model_ = self._build_model(prior)
        order = torch.Generator().manual_seed(self.seed)  # batch order, on the CPU
        noise = torch.Generator(device=dev).manual_seed(self.seed + 1)  # z, labels, dropout
        x_l = torch.from_numpy(labeled.x).to(dev)
        ys = torch.from_numpy(self.y_s_).to(dev)
        x_u = torch.from_numpy(unlabeled.x).to(dev)
        val_t = None if val is None else (torch.from_numpy(val[0].x).to(dev),
                                          torch.as_tensor(val[1], dtype=torch.float32, device=dev))
        self.phase_val_ap_: dict[str, float] = {}
        self._fit_classifier(x_l, ys, val_t, order)
        self._record_val_ap("classifier", val)
        self._fit_generative(x_l, ys, x_u, val_t, order, noise, joint=False)
        self._record_val_ap("generative", val)
        self._fit_generative(x_l, ys, x_u, val_t, order, noise, joint=True)
        self._record_val_ap("joint", val)
        self.target_prevalence_ = self.predict_proba(unlabeled)[:, graph.n_inexact :].mean(axis=0)
        self.model_.eval()
        return self

    def _record_val_ap(self, phase: str, val: tuple[Inputs, np.ndarray] | None) -> None:
        """q_C's mean AP over targets on validation against Eq. 19's estimates from the
        validation y_s (no true target label), after one phase of Algorithm 1."""
        if val is None:
            return
        y_t = self.graph_.estimate_targets(val[1])
        scores = self.predict_proba(val[0])[:, self.graph_.n_inexact :]
        aps = [average_precision_score(t, p) for t, p in zip(y_t.T, scores.T, strict=True)
               if 0 < t.sum() < len(t)]
        self.phase_val_ap_[phase] = float(np.mean(aps)) if aps else float("nan")

    def _fit_classifier(self, x_l, ys, val_t, order: torch.Generator) -> None:
        """Algorithm 1, line 1."""
        cfg, model = self.config, self.model_
        opt = make_optimizer(model.classifier_parameters(), TrainConfig(lr=cfg.lr))
        eps = cfg.label_smoothing_eps

        def objective(x, y):
            return loss_classifier_init(model, x, y, eps)

        best = (float("inf"), None)
        for _ in range(cfg.epochs_classifier):
            model.train()
            for idx in torch.randperm(len(x_l), generator=order).split(cfg.batch_size):
                with self._precision():
                    loss = objective(x_l[idx], ys[idx])
                _step(opt, loss)
            best = self._keep_best(best, objective, val_t)
        self._restore(best)

    def _fit_generative(self, x_l, ys, x_u, val_t, order: torch.Generator,
                        noise: torch.Generator, joint: bool) -> None:
        """Algorithm 1, line 2 (joint=False: q_C frozen) and lines 3-6 (joint=True)."""
        cfg, model = self.config, self.model_
        params = list(model.parameters()) if joint else model.generator_parameters()
        for p in model.classifier_parameters():
            p.requires_grad_(joint)
        opt = make_optimizer(params, TrainConfig(lr=cfg.lr))
        best, bad, step = (float("inf"), None), 0, 0
        for _ in range(cfg.epochs_joint if joint else cfg.epochs_vae):
            model.train()
            for il, iu in _paired_batches(len(x_l), len(x_u), max(1, cfg.batch_size // 2), order):
                kl_w = _kl_weight(step, 0 if joint else cfg.kl_anneal_steps)
                with self._precision():
                    loss = self._eq11(x_l[il], ys[il], x_u[iu], noise, kl_w, with_cs=joint)
                _step(opt, loss)
                step += 1
            prev = best[0]
            best = self._keep_best(best, self._val_objective, val_t)
            bad = 0 if best[0] < prev else bad + 1
            if joint and val_t is not None and bad >= cfg.patience:
                break
        self._restore(best)
        for p in model.classifier_parameters():
            p.requires_grad_(True)

    def _eq11(self, x_l, ys, x_u, gen, kl_weight: float, with_cs: bool) -> torch.Tensor:
        cfg, model = self.config, self.model_
        l_l, logits_c = loss_labeled(model, x_l, ys, cfg.label_smoothing_eps, kl_weight,
                                     cfg.word_dropout, gen, cfg.per_token, cfg.detach_labels,
                                     cfg.free_bits)
        l_u = loss_unlabeled(model, x_u, kl_weight, cfg.word_dropout, gen, cfg.per_token,
                             cfg.coupled_eps, cfg.detach_labels, cfg.free_bits)
        labels = consistency_labels(model, cfg.cons_batch, gen, cfg.cons_labels, ys,
                                    cfg.coupled_eps)
        l_cons = loss_consistency(model, cfg.cons_batch, self.cons_len_, cfg.cons_tau,
                                  cfg.cons_top_k, gen, labels, cfg.cons_classifier_grad,
                                  cfg.cons_relax, cfg.independence)
        l_cs = loss_inexact(logits_c, ys) if with_cs else torch.zeros((), device=ys.device)
        return loss_total(loss_generative(l_l, l_u), l_cons, l_cs, cfg.alpha, cfg.beta)

    def _val_objective(self, x, y) -> torch.Tensor:
        cfg = self.config
        l_l, logits_c = loss_labeled(self.model_, x, y, cfg.label_smoothing_eps,
                                     per_token=cfg.per_token)
        return l_l + cfg.beta * loss_inexact(logits_c, y)

    @torch.no_grad()
    def _keep_best(self, best: tuple[float, Any], objective, val_t) -> tuple[float, Any]:
        """(objective, weights) of the better of `best` and the current model on validation;
        without validation data the current weights always win."""
        if val_t is None:
            return float("-inf"), None
        self.model_.eval()
        x, y = val_t
        bs = 8 * self.config.batch_size
        with self._precision():
            total = sum(float(objective(x[i : i + bs], y[i : i + bs])) * len(x[i : i + bs])
                        for i in range(0, len(x), bs)) / len(x)
        if total < best[0]:
            return total, copy.deepcopy(self.model_.state_dict())
        return best

    def _precision(self):
        return autocast(self.config.device, self.config.dtype)

    def _restore(self, best: tuple[float, Any]) -> None:
        if best[1] is not None:
            self.model_.load_state_dict(best[1])

    # ---- sampling ---------------------------------------------------------------------------

    def sample_labels(self, n: int, strategy: str = "resample", seed: int = 0
                      ) -> tuple[np.ndarray, np.ndarray]:
        """Label vectors (y_s [n, |S|], y_t [n, |T|]) for synthetic examples.

        "prior": every class drawn independently from p(y_s, y_t|G) (the Eq. 7 prior, also the
        p(y_s, y_t) of Eq. 9). "resample": y_s rows resampled with replacement from D_l (keeping
        real co-occurrences), y_t drawn independently of y_s at the prevalence of q_C(y_t|x) on
        D_u, so targets appear in every inexact context. "tied" (not the paper's intent, a
        diagnostic): y_s resampled from D_l and y_t = the graph's estimate from y_s (Eq. 19 for
        text), i.e. labeled exactly as D_e is. "coupled" (ADDES+, text graphs): y_s resampled
        from D_l, y_t drawn from the noisy-OR p(y_t|y_s, G) of `coupled_target_prior`, the
        paper's p(y_s, y_t|G) with y_s's real co-occurrences. "posterior" needs D_u and draws
        z with the labels: `sample_posterior`.
        """
        rng = np.random.default_rng(seed)
        n_s = self.graph_.n_inexact
        if strategy == "prior":
            y = (rng.random((n, len(self.graph_.classes))) < self._prior()).astype(np.float32)
            return y[:, :n_s], y[:, n_s:]
        if strategy == "resample":
            y_s = self.y_s_[rng.integers(0, len(self.y_s_), n)]
            y_t = (rng.random((n, self.graph_.n_target)) < self.target_prevalence_)
            return y_s.copy(), y_t.astype(np.float32)
        if strategy == "tied":
            y_s = self.y_s_[rng.integers(0, len(self.y_s_), n)].copy()
            return y_s, self.graph_.estimate_targets(y_s).astype(np.float32)
        if strategy == "coupled":
            y_s = self.y_s_[rng.integers(0, len(self.y_s_), n)].copy()
            p_t = coupled_target_prior(self.graph_, torch.from_numpy(y_s),
                                       self.config.label_smoothing_eps).numpy()
            return y_s, (rng.random(p_t.shape) < p_t).astype(np.float32)
        if strategy in POSTERIOR_STRATEGIES:
            raise ValueError(f"label strategy {strategy!r} draws labels and z from D_u: "
                             f"use sample_posterior")
        raise ValueError(f"label strategy must be one of {LABEL_STRATEGIES}, not {strategy!r}")

    @torch.no_grad()
    def sample_posterior(self, unlabeled: Inputs, n: int, seed: int = 0,
                         batch_size: int = 1024) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Labels and latent codes for generation from the posterior (Section 4: z "sampled
        from the prior p(z) or posterior p_E(z|x)"; the labels from q_C(y_s, y_t|x_u, G), the
        posterior of unlabeled data that Section 4.3 names for p(y_s, y_t)): n rows of D_u,
        each used once per pass (a permutation, cycled when n > |D_u|); z ~ q_E(z|x_u) and
        every label drawn from Bernoulli(q_C(y|x_u, G)).
        Returns (y_s [n, |S|], y_t [n, |T|], z [n, latent]); pass z to `generate`."""
        if len(unlabeled) == 0:
            raise ValueError("posterior generation needs unlabeled examples (D_u is empty)")
        rng = np.random.default_rng(seed)
        rows = np.concatenate([rng.permutation(len(unlabeled))
                               for _ in range(-(-n // len(unlabeled)))])[:n]
        x = torch.from_numpy(unlabeled.x[rows]).to(self.config.device)
        gen = torch.Generator(device=self.config.device).manual_seed(seed)
        self.model_.eval()
        z, q = [], []
        for xb in x.split(batch_size):
            with self._precision():
                mu, logvar = self.model_.encoder(xb)
                z.append(reparameterize(mu.float(), logvar.float(), gen))
                q.append(torch.sigmoid(self.model_.classify(xb)))
        y = torch.bernoulli(torch.cat(q), generator=gen).cpu().numpy().astype(np.float32)
        n_s = self.graph_.n_inexact
        return y[:, :n_s], y[:, n_s:], torch.cat(z).cpu().numpy()

    def _prior(self) -> np.ndarray:
        return self.model_.label_prior.cpu().numpy()

    def sample_z(self, n: int, seed: int = 0) -> np.ndarray:
        """n latent codes z ~ N(0, I), float32 [n, latent] (what `generate` draws for a seed)."""
        gen = torch.Generator().manual_seed(seed)
        return torch.randn(n, self.config.latent, generator=gen).numpy()

    @torch.no_grad()
    def generate(self, y_s: np.ndarray, y_t: np.ndarray, z_from: str = "prior", seed: int = 0,
                 temperature: float = 1.0, batch_size: int = 2048,
                 z: np.ndarray | None = None) -> Inputs:
        """x_syn ~ p_D(x|z, y_s, y_t) with z ~ N(0, I) drawn from `seed`, or the given z
        [n, latent] (Figure 5 decodes the same z under different labels). Text: ancestral
        sampling of tokens from softmax(logits / temperature) (1: the decoder's own
        distribution; lower: more typical titles); images: the decoder's mean images float32
        [n, 1, 32, 100] (temperature unused)."""
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, not {temperature!r}")
        if z_from != "prior":
            raise ValueError(f"z_from must be 'prior', not {z_from!r} (for the posterior, pass "
                             f"the z of `sample_posterior`)")
        self.model_.eval()
        dev = self.config.device
        gen = torch.Generator(device=dev).manual_seed(seed)
        y = torch.as_tensor(np.concatenate([y_s, y_t], axis=1), dtype=torch.float32, device=dev)
        z_all = None if z is None else torch.as_tensor(z, dtype=torch.float32, device=dev)
        if z_all is not None and len(z_all) != len(y):
            raise ValueError(f"{len(z_all)} latent codes for {len(y)} label vectors")
        image = getattr(self, "modality_", "text") == "image"
        chunks = []
        for i in range(0, len(y), batch_size):
            yb = y[i : i + batch_size]
            zb = (torch.randn(len(yb), self.config.latent, generator=gen, device=dev)
                  if z_all is None else z_all[i : i + batch_size])
            if image:
                with self._precision():
                    chunks.append(self.model_.decoder(zb, yb).float())
            else:
                chunks.append(self.model_.decoder.sample(zb, yb, self.max_len_ + 1, temperature,
                                                         gen))
        if image:
            return Inputs(np.ascontiguousarray(torch.cat(chunks).cpu().numpy()))
        ids = torch.cat(chunks).cpu().numpy()[:, : self.max_len_]  # step L+1 can only be EOS
        ids[ids == EOS] = PAD
        texts = tuple(" ".join(self.vocab_[t] for t in row if t > EOS) for row in ids)
        return Inputs(np.ascontiguousarray(ids), texts, self.vocab_)

    @torch.no_grad()
    def predict_proba(self, X: Inputs, batch_size: int = 1024) -> np.ndarray:
        """q_C(y_s, y_t|x, G): float64 [n, |W|], S then T."""
        self.model_.eval()
        x = torch.from_numpy(X.x).to(self.config.device)
        with self._precision():
            logits = torch.cat([self.model_.classify(x[i : i + batch_size])
                                for i in range(0, len(x), batch_size)])
        return torch.sigmoid(logits).cpu().numpy().astype(np.float64)

    # ---- persistence ------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to rebuild the fitted generator (plain, picklable objects)."""
        return {"config": asdict(self.config), "seed": self.seed, "graph": self.graph_,
                "modality": self.modality_,
                "vocab": self.vocab_, "max_len": self.max_len_, "cons_len": self.cons_len_,
                "y_s": self.y_s_,
                "target_prevalence": self.target_prevalence_,
                "phase_val_ap": getattr(self, "phase_val_ap_", {}),
                "model": {k: v.cpu() for k, v in self.model_.state_dict().items()}}

    @classmethod
    def from_state_dict(cls, state: dict[str, Any], device: str = "cpu") -> ADDESGenerator:
        config = ADDESConfig(**{**state["config"], "device": device})
        self = cls(config, state["seed"])
        self.graph_, self.vocab_, self.max_len_ = state["graph"], state["vocab"], state["max_len"]
        self.cons_len_ = state["cons_len"]
        self.modality_ = state.get("modality", "text")
        self.y_s_, self.target_prevalence_ = state["y_s"], state["target_prevalence"]
        self.phase_val_ap_ = state.get("phase_val_ap", {})
        self.model_ = self._build_model(state["model"]["label_prior"].numpy())
        self.model_.load_state_dict(state["model"])
        self.model_.eval()
        return self


def _kl_weight(step: int, anneal_steps: int) -> float:
    """Weight of KL_z at `step`: linear from 0 to 1 over `anneal_steps` (1 when that is 0)."""
    return 1.0 if anneal_steps <= 0 else min(1.0, step / anneal_steps)


def _step(opt: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    if not torch.isfinite(loss):
        raise FloatingPointError(f"ADDES training loss became {loss.item()}")
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
