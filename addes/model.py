"""The ADDES model (paper Section 4) for text: encoder q_E, decoder p_D, classifier q_C, losses.

Every term of the objective is its own function; all return a mean over the batch of
per-example sums (nats), so Eq. 11's weights alpha and beta act on comparable scales.

Choices, documented:
- Label smoothing (Eq. 6): Eq. 19's 0/1 target estimates become eps / 1 - eps (eps = 0.1 by
  default) so that KL[q_C(y_t|x,G) || p(y_t|y_s,G)] stays finite.
- Label prior (Eq. 7): p(y_s, y_t|G) is factorised per class; y_s(j) ~ Bernoulli of the
  Laplace-smoothed frequency of class j in D_l, y_t(i) ~ Bernoulli of the Laplace-smoothed
  frequency of Eq. 19's estimate of target i on D_l; both clipped to [eps, 1 - eps].
- The expectations over q_C in Eq. 6-7 use the soft label vector (Section 4.3: "we directly
  input the soft labels to the decoder"): on D_l the decoder reads the true y_s and q_C(y_t|x);
  on D_u it reads q_C(y_s, y_t|x).
- Eq. 9 relaxation: decoding from z ~ N(0, I) and labels drawn from the prior, feeding back soft
  word distributions (Hu et al. 2017) truncated to their top-k words (k = 32 by default, a
  speed choice); q_C scores the soft sequence; BCE against the drawn labels.
- `classifier="mlp"` is ADDES-CNN of Section 5.6: a plain multi-label linear head, no GCN.

Deviations for "ADDES+" (issue 13), each an option, off in the published model:
- `per_token`: each example's -ELBO (Eq. 6/7: reconstruction, KL_z, label KL) divided by its
  number of scored tokens (images: its number of pixels), so that alpha * L_cons is not
  drowned by tens of nats per title (the paper's alpha = 100 for pixel sums against 0.1 for
  text suggests such a scale). Not for images at the paper's alpha = 100: L_cons then weighs
  3,200 times more against reconstruction and the decoder paints flat crops (reconstruction
  correlation 0 against 0.47 without it, MJSynth quick; docs/findings-stackoverflow.md).
- `loss_consistency(..., classifier_grad=False)`: L_cons trains the decoder only; q_C is held
  fixed in it (Hu et al. 2017), so it cannot learn to read decoder artefacts.
- `consistency_labels(..., "paired")`: L_cons's labels are y_s rows of the D_l batch, each
  decoded twice from one z with every target on and off, so the targets' gradient is not
  cancelled by a contradicting y_s draw.
- `detach_labels`: the soft labels q_C(.|x) that Eq. 6/7 feed the decoder are detached, so
  the reconstruction term cannot train q_C into a side channel that encodes x (issue 13's
  diagnostics: with enough training, the published objective makes q_C's soft y_t a code for
  x: the teacher-forced NLL rises by 0.44 nats/token when y_t is flipped, while generated titles
  do not change with y_t and q_C's validation AP falls in the joint phase).
- `free_bits` (of `gaussian_kl`, through `vae_terms` and the losses of Eq. 6/7): KL_z per
  latent dimension at least that many nats over a batch (Kingma et al. 2016), against the
  collapse of z that issue 13's diagnostics find in every configuration (no dimension with
  KL > 0.01): z free to carry content, so that paired decodes share more than the labels.
- `relax="gumbel"` (`Decoder.relaxed`): Eq. 9's decoding by straight-through Gumbel-softmax
  (one drawn word per step forward, soft gradients) instead of feeding back soft mixtures.
- `independence` (of `loss_consistency`): Hu et al. 2017's independence constraint, the fixed
  encoder re-encodes Eq. 9's decoded x^ and -log q_E(z|x^) joins L_cons.
- `coupled_target_prior`: a noisy-OR p(y_t|y_s, G) over the Eq. 18 links, used by Eq. 7 (with
  q_C's soft y_s) and by Eq. 9's prior draws instead of per-class independence (the MJSynth
  word graph: its forest's p(y_t|y_s) instead of the noisy-OR).
Images take the same options except `label_input` (the image decoder already reads the labels
as input channels); generation from the posterior is `ADDESGenerator.sample_posterior`.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from addes.data import PAD, UNK
from addes.gcn import GCNClassifierHead
from addes.graph import ClassGraph
from addes.text import Decoder, Encoder, FeatureExtractor, decoder_io, reparameterize

PROB_FLOOR = 1e-6


def bernoulli_kl(q: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """KL[Bern(q) || Bern(p)] summed over the last dimension (the label terms of Eq. 6-7)."""
    q = q.clamp(PROB_FLOOR, 1 - PROB_FLOOR)
    p = p.clamp(PROB_FLOOR, 1 - PROB_FLOOR)
    return (q * (q.log() - p.log()) + (1 - q) * ((1 - q).log() - (1 - p).log())).sum(dim=-1)


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor, free_bits: float = 0.0) -> torch.Tensor:
    """KL[N(mu, diag(exp logvar)) || N(0, I)] summed over the latent dimension (Eq. 6-7), per
    example [B].

    `free_bits` > 0 (a deviation, Kingma et al. 2016): a latent dimension whose KL averaged
    over the batch is below `free_bits` nats counts as exactly `free_bits` for every example
    (a constant: no gradient pushes it further toward the prior), so the batch mean is
    sum_d max(free_bits, mean_b KL_bd); 0.0 is the paper's term."""
    mu, logvar = mu.float(), logvar.float()  # float32 also under bf16 autocast
    kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar)
    if free_bits > 0:
        kl = torch.where(kl.mean(dim=0) >= free_bits, kl, torch.full_like(kl, free_bits))
    return kl.sum(dim=-1)


def scored_tokens(x: torch.Tensor) -> torch.Tensor:
    """Tokens p_D scores per title (its words and EOS), float [B]: the per-token divisor."""
    return ((x != PAD).sum(dim=1) + 1).float()


def reconstruction_nll(decoder: Decoder, states: torch.Tensor,
                       target: torch.Tensor) -> torch.Tensor:
    """-log p_D(x|z, y_s, y_t) per example (Eq. 6-7's first term): the token NLL summed over
    the target's non-PAD positions (only those are projected onto the vocabulary)."""
    scored = target != PAD
    nll = F.cross_entropy(decoder.out(states[scored]).float(), target[scored], reduction="none")
    rows = scored.nonzero()[:, 0]
    return torch.zeros(len(target), dtype=nll.dtype, device=nll.device).index_add(0, rows, nll)


def smoothed_target_prior(graph: ClassGraph, y_s: torch.Tensor, eps: float) -> torch.Tensor:
    """p(y_t = 1|y_s, G) (Eq. 6's prior): the graph's own probabilities when it has them (the
    word-corpus random forest of the MJSynth suite, `WordGraph.target_probabilities`), clipped
    to [eps, 1 - eps]; else Eq. 19's 0/1 estimate smoothed to eps / 1 - eps."""
    if hasattr(graph, "target_probabilities"):
        p = _cached_target_probabilities(graph, y_s.detach().cpu().numpy())
        return torch.as_tensor(p, dtype=y_s.dtype, device=y_s.device).clamp(eps, 1 - eps)
    links = torch.as_tensor(graph.target_links, dtype=y_s.dtype, device=y_s.device)
    hits = (y_s @ links.T) > 0
    return torch.where(hits, 1 - eps, eps).to(y_s.dtype)


def coupled_target_prior(graph: ClassGraph, q_s: torch.Tensor, eps: float) -> torch.Tensor:
    """Noisy-OR p(y_t = 1|y_s, G) over the Eq. 18 links for soft or binary y_s [B, |S|]:
    1 - (1 - eps) prod_{j linked to t} (1 - (1 - eps) q_s(j)) (a leak of eps, each link firing
    with 1 - eps), clipped to [eps, 1 - eps]: binary y_s gives exactly `smoothed_target_prior`
    (Eq. 19 smoothed); soft y_s (q_C on D_u, Eq. 7) gives the expected noisy-OR, so the prior
    follows the source tags. A graph with its own p(y_t|y_s) (the MJSynth word graph's
    forest, `smoothed_target_prior`) gives that at y_s rounded at 0.5: a plug-in without a
    gradient to q_s (the forest is not differentiable)."""
    if hasattr(graph, "target_probabilities"):
        return smoothed_target_prior(graph, (q_s.detach() > 0.5).to(q_s.dtype), eps)
    links = torch.as_tensor(graph.target_links, dtype=q_s.dtype, device=q_s.device)
    log_off = torch.log1p(-(1 - eps) * q_s.clamp(0, 1)) @ links.T
    return (1 - (1 - eps) * log_off.exp()).clamp(eps, 1 - eps)


_TARGET_PROBA_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _cached_target_probabilities(graph, y_s: np.ndarray) -> np.ndarray:
    """graph.target_probabilities(y_s), memoised per distinct binary row (a forest call per
    training step would cost as much as a small network's step; rows repeat across epochs)."""
    cache = _TARGET_PROBA_CACHE.setdefault(graph, {})
    keys = [row.tobytes() for row in (np.asarray(y_s) > 0.5)]
    missing = [i for i, k in enumerate(keys) if k not in cache]
    if missing:
        new = graph.target_probabilities(np.asarray(y_s)[missing])
        for i, row in zip(missing, new, strict=True):
            cache[keys[i]] = row
    return np.stack([cache[k] for k in keys])


def label_prior(graph: ClassGraph, y_s: np.ndarray, eps: float) -> np.ndarray:
    """p(y_s, y_t|G) per class (Eq. 7): Laplace-smoothed frequencies of y_s on D_l and of Eq. 19's
    estimates of y_t, clipped to [eps, 1 - eps]; float32 [|W|]."""
    y_all = np.concatenate([y_s, graph.estimate_targets(y_s)], axis=1)
    freq = (y_all.sum(axis=0) + 1) / (len(y_all) + 2)
    return np.clip(freq, eps, 1 - eps).astype(np.float32)


def _batch_mean(per_example: torch.Tensor, x: torch.Tensor, per_token: bool) -> torch.Tensor:
    """Mean over the batch of per-example sums, each divided, when `per_token`, by its scored
    tokens (text) or its number of pixels (images: a per-pixel -ELBO)."""
    if per_token:
        per_example = per_example / (scored_tokens(x) if x.dtype == torch.long else x[0].numel())
    return per_example.mean()


def loss_labeled(model: ADDES, x: torch.Tensor, y_s: torch.Tensor, eps: float,
                 kl_weight: float = 1.0, word_dropout: float = 0.0,
                 generator: torch.Generator | None = None,
                 per_token: bool = False,
                 detach_labels: bool = False,
                 free_bits: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. 6, -L^l_G(x, y_s) per batch: recon + KL_z + KL[q_C(y_t|x,G) || p(y_t|y_s,G)].

    Also returns q_C's logits on x so that Eq. 10 can reuse them. `kl_weight` is the KL
    annealing factor on KL_z (Bowman et al. 2016; 1.0 is the paper's objective); `free_bits`
    its floor per latent dimension (`gaussian_kl`; 0.0 is the paper's).
    """
    logits_c = model.classify(x)
    q_t = torch.sigmoid(logits_c[:, model.n_inexact :])
    y = torch.cat([y_s, q_t.detach() if detach_labels else q_t], dim=1)
    recon, kl_z = model.vae_terms(x, y, word_dropout, generator, free_bits)
    kl_y = bernoulli_kl(q_t, smoothed_target_prior(model.graph, y_s, eps))
    return _batch_mean(recon + kl_weight * kl_z + kl_y, x, per_token), logits_c


def loss_unlabeled(model: ADDES, x: torch.Tensor, kl_weight: float = 1.0,
                   word_dropout: float = 0.0,
                   generator: torch.Generator | None = None, per_token: bool = False,
                   coupled_eps: float | None = None, detach_labels: bool = False,
                   free_bits: float = 0.0) -> torch.Tensor:
    """Eq. 7, -L^u_G(x): recon + KL_z + KL[q_C(y_s, y_t|x,G) || p(y_s, y_t|G)] (`free_bits`:
    see `loss_labeled`).

    With `coupled_eps` the target part of the prior is `coupled_target_prior` of q_C's own
    soft y_s (a plug-in of E_{q(y_s)} KL[q(y_t) || p(y_t|y_s, G)]), else the per-class prior."""
    q = torch.sigmoid(model.classify(x))
    recon, kl_z = model.vae_terms(x, q.detach() if detach_labels else q, word_dropout, generator,
                                  free_bits)
    prior = model.label_prior.expand_as(q)
    if coupled_eps is not None:
        n_s = model.n_inexact
        prior = torch.cat([prior[:, :n_s],
                           coupled_target_prior(model.graph, q[:, :n_s], coupled_eps)], dim=1)
    kl_y = bernoulli_kl(q, prior)
    return _batch_mean(recon + kl_weight * kl_z + kl_y, x, per_token)


def loss_generative(loss_l: torch.Tensor, loss_u: torch.Tensor) -> torch.Tensor:
    """Eq. 8: L_G = E_{p_l} L^l_G + E_{p_u} L^u_G (each already a batch mean)."""
    return loss_l + loss_u


CONS_LABELS = ("prior", "paired")


def consistency_labels(model: ADDES, n: int, generator: torch.Generator, mode: str = "prior",
                       y_s: torch.Tensor | None = None, coupled_eps: float | None = None
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """Labels [n, |W|] and latent codes [n, latent] for Eq. 9.

    "prior" (the paper): every class drawn from p(y_s, y_t|G), per class, or y_t from
    `coupled_target_prior` of the drawn y_s when `coupled_eps` is given; z ~ N(0, I).
    "paired": n // 2 rows of `y_s` (D_l's batch), each twice with one z: every target on,
    then every target off (n rounded down to even)."""
    dev = model.label_prior.device
    if mode == "prior":
        y = torch.bernoulli(model.label_prior.expand(n, -1), generator=generator)
        if coupled_eps is not None:
            n_s = model.n_inexact
            p_t = coupled_target_prior(model.graph, y[:, :n_s], coupled_eps)
            y = torch.cat([y[:, :n_s], torch.bernoulli(p_t, generator=generator)], dim=1)
        return y, torch.randn(n, model.latent, generator=generator, device=dev)
    if mode != "paired" or y_s is None:
        raise ValueError(f"consistency labels must be one of {CONS_LABELS} ('paired' needs "
                         f"y_s), not {mode!r}")
    half = max(1, n // 2)
    rows = y_s[torch.randint(len(y_s), (half,), generator=generator, device=dev)]
    n_t = model.graph.n_target
    on, off = torch.ones(half, n_t, device=dev), torch.zeros(half, n_t, device=dev)
    y = torch.cat([torch.cat([rows, on], dim=1), torch.cat([rows, off], dim=1)])
    z = torch.randn(half, model.latent, generator=generator, device=dev)
    return y, torch.cat([z, z])


@contextmanager
def frozen(params: Iterable[nn.Parameter]) -> Iterator[None]:
    """Parameters that take no gradient from what is computed inside (their requires_grad
    is restored on exit); gradients still flow through them to their inputs."""
    params = [p for p in params if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


def loss_consistency(model: ADDES, n: int, length: int, tau: float, top_k: int,
                     generator: torch.Generator, labels: tuple[torch.Tensor, torch.Tensor]
                     | None = None, classifier_grad: bool = True,
                     relax: str = "softmax", independence: float = 0.0) -> torch.Tensor:
    """Eq. 9, L_cons = E_{p(y_s,y_t) p_D(x^|...)} [-log q_C(y_s, y_t|x^, G)]: labels and z
    (`consistency_labels`; by default the prior p(y_s, y_t|G) and z ~ N(0, I)), soft
    decoding (`relax`: "softmax", Hu et al. 2017's, or "gumbel", straight-through
    Gumbel-softmax, `Decoder.relaxed`), BCE of q_C against the labels.
    `classifier_grad=False`: q_C is held fixed in this term (Hu et al. 2017); only the decoder
    learns from it. `independence` > 0 adds that weight times Hu et al. 2017's independence
    constraint on the same decoded batch, -log q_E(z|x^) with the encoder held fixed
    (`latent_nll`): the decoder must write z into x^ too, so the labels have to carry what z
    does not (alpha of Eq. 11 weighs both terms; text needs relax="gumbel", whose sequences
    the encoder reads exactly)."""
    y, z = consistency_labels(model, n, generator) if labels is None else labels
    soft_x = model.decoder.relaxed(z, y, length, tau, top_k, relax=relax, generator=generator)
    if classifier_grad:
        logits = model.classify(soft_x)
    else:
        with frozen(model.classifier_parameters()):
            logits = model.classify(soft_x)
    loss = F.binary_cross_entropy_with_logits(logits, y, reduction="none").sum(dim=1).mean()
    if independence > 0:
        with frozen(model.encoder.parameters()):
            mu, logvar = model.encoder(soft_x)
        loss = loss + independence * latent_nll(z, mu, logvar).mean()
    return loss


def latent_nll(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """-log N(z; mu, diag(exp logvar)) summed over the latent dimension, per example [B]."""
    mu, logvar = mu.float(), logvar.float()
    return 0.5 * ((z - mu).pow(2) * torch.exp(-logvar) + logvar
                  + math.log(2 * math.pi)).sum(dim=-1)


def loss_inexact(logits_c: torch.Tensor, y_s: torch.Tensor) -> torch.Tensor:
    """Eq. 10, L^s_C = E_{p_l} [-log q_C(y_s|x, G)]: BCE over the inexact classes S."""
    n_s = y_s.shape[1]
    return F.binary_cross_entropy_with_logits(logits_c[:, :n_s], y_s,
                                              reduction="none").sum(dim=1).mean()


def loss_total(l_g: torch.Tensor, l_cons: torch.Tensor, l_cs: torch.Tensor, alpha: float,
               beta: float) -> torch.Tensor:
    """Eq. 11: L_G + alpha * L_cons + beta * L^s_C."""
    return l_g + alpha * l_cons + beta * l_cs


def loss_classifier_init(model: ADDES, x: torch.Tensor, y_s: torch.Tensor,
                         eps: float) -> torch.Tensor:
    """Algorithm 1, line 1: Eq. 10 + the third term of Eq. 6 (KL of q_C(y_t|x) to the prior)."""
    logits_c = model.classify(x)
    q_t = torch.sigmoid(logits_c[:, model.n_inexact :])
    kl_y = bernoulli_kl(q_t, smoothed_target_prior(model.graph, y_s, eps)).mean()
    return loss_inexact(logits_c, y_s) + kl_y


class MLPHead(nn.Module):
    """ADDES-CNN's classifier head (Section 5.6): independent linear scores per class."""

    def __init__(self, feature_dim: int, n_classes: int):
        super().__init__()
        self.linear = nn.Linear(feature_dim, n_classes)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.linear(features)


class ADDESModule(nn.Module):
    """What text and image ADDES share: the classifier q_C = head(features(x)) (Eq. 14-16),
    the split of parameters between q_C and the generator (Algorithm 1 trains them apart),
    and the label prior buffer. Subclasses build `encoder`, `decoder` and `features`, then
    call `_init_classifier`."""

    def _init_classifier(self, graph: ClassGraph, classifier: str, feature_dim: int,
                         gcn_hidden: int, label_prior: np.ndarray) -> None:
        n_classes = len(graph.classes)
        if classifier == "gcn":
            self.head = GCNClassifierHead(graph.propagation_matrix(), feature_dim, gcn_hidden)
        elif classifier == "mlp":
            self.head = MLPHead(feature_dim, n_classes)
        else:
            raise ValueError(f"classifier must be 'gcn' or 'mlp', not {classifier!r}")
        self.register_buffer("label_prior", torch.as_tensor(label_prior, dtype=torch.float32))

    def classifier_parameters(self) -> list[nn.Parameter]:
        return list(self.features.parameters()) + list(self.head.parameters())

    def generator_parameters(self) -> list[nn.Parameter]:
        ids = {id(p) for p in self.classifier_parameters()}
        return [p for p in self.parameters() if id(p) not in ids]

    def classify(self, x) -> torch.Tensor:
        """q_C logits [B, |W|] (S then T) of inputs: ids, soft sequences or images (Eq. 14-16)."""
        return self.head(self.features(x)).float()  # float32 also under bf16 autocast


class ADDES(ADDESModule):
    """Encoder q_E(z|x), decoder p_D(x|z, y_s, y_t), classifier q_C(y_s, y_t|x, G) (Figure 2).

    The encoder and decoder share one word embedding; the classifier has its own (it is trained
    first, alone, in Algorithm 1). `classifier`: "gcn" (Eq. 14-16, a 2-layer GCN over
    graph.propagation_matrix() with one-hot node attributes) or "mlp" (ADDES-CNN).
    """

    def __init__(self, graph: ClassGraph, vocab_size: int, embed_dim: int, hidden: int,
                 latent: int, label_prior: np.ndarray, classifier: str = "gcn",
                 label_input: bool = False):
        super().__init__()
        self.graph, self.latent, self.n_inexact = graph, latent, graph.n_inexact
        n_classes = len(graph.classes)
        embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD)
        self.encoder = Encoder(embedding, hidden, latent)
        self.decoder = Decoder(embedding, hidden, latent, n_classes, label_input=label_input)
        self.features = FeatureExtractor(vocab_size, embed_dim, hidden)
        self._init_classifier(graph, classifier, self.features.out_dim, hidden, label_prior)

    def vae_terms(self, x: torch.Tensor, y: torch.Tensor, word_dropout: float = 0.0,
                  generator: torch.Generator | None = None, free_bits: float = 0.0
                  ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-example reconstruction NLL and KL_z for inputs x decoded under labels y.

        `word_dropout` replaces that fraction of the decoder's input words by <unk>
        (Bowman et al. 2016; 0.0 is the paper's model); `free_bits`: `gaussian_kl`'s."""
        mu, logvar = self.encoder(x)
        z = reparameterize(mu, logvar, generator) if self.training else mu
        inputs, target = decoder_io(x)
        if word_dropout > 0 and self.training:
            drop = torch.rand(inputs.shape, generator=generator, device=x.device) < word_dropout
            drop[:, 0] = False
            inputs = inputs.masked_fill(drop & (inputs != PAD), UNK)
        states = self.decoder(inputs, z, y)
        return (reconstruction_nll(self.decoder, states, target),
                gaussian_kl(mu, logvar, free_bits))
