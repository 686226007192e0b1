"""The text modality of ADDES (paper Sections 4.2 and 5.3.2): encoder, decoder, feature extractor.

- `Encoder`, q_E(z|x) of Eq. 12: a bi-GRU over word embeddings; mu and log sigma^2 are linear
  maps of the two final hidden states; z by the reparameterisation trick.
- `Decoder`, p_D(x|z, y_s, y_t) of Eq. 13 (a categorical distribution per token for text): a GRU
  with Luong et al. (2015) global attention ("general" score, no input feeding). It attends
  over a memory built from the CONDITIONING ONLY, never over the input's encoder states (the
  decoder could then copy x and ignore z and the labels, and there are no encoder states when
  generating from the prior). The memory has `n_z_slots` slots projected from z plus one slot
  per class c, y_c * e_c^on + (1 - y_c) * e_c^off with learned class embeddings, so soft label
  values (Section 4.3) enter differentiably and an "off" label is also visible. The initial
  hidden state is tanh(W [z; y_s; y_t]). Every step's GRU input is [word embedding; z], or,
  with `label_input` (a deviation, "ADDES+"), [word embedding; z; y_s; y_t]: the labels then
  reach every step directly, not only through attention slots the decoder may learn to skip.
- `FeatureExtractor`, f_m of Eq. 14: a bi-GRU whose outputs are mean-pooled over the non-padding
  positions. It reads token ids, or soft word distributions [B, L, V] (embedded as
  probs @ embedding.weight) so that Eq. 9 can score decoder output differentiably; a soft
  sequence's positions are weighted by the probability that no EOS was emitted before them.

Sequences: x holds the tokens without BOS/EOS (0 = PAD). The decoder reads [BOS, x] and predicts
[x, EOS]; positions after EOS are not scored.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from addes.data import BOS, EOS, PAD, UNK


def lengths_of(x: torch.Tensor) -> torch.Tensor:
    """Number of non-padding tokens per row of int64 [B, L] ids."""
    return (x != PAD).sum(dim=1)


def decoder_io(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Teacher-forcing input [BOS, x] and target [x, EOS] (PAD after EOS), both [B, L + 1]."""
    bsz = x.shape[0]
    bos = torch.full((bsz, 1), BOS, dtype=x.dtype, device=x.device)
    pad = torch.full((bsz, 1), PAD, dtype=x.dtype, device=x.device)
    inputs = torch.cat([bos, x], dim=1)
    target = torch.cat([x, pad], dim=1)
    target[torch.arange(bsz, device=x.device), lengths_of(x)] = EOS
    return inputs, target


RELAXATIONS = ("softmax", "gumbel")  # Eq. 9's relaxed decoding: Hu et al. 2017's, or ST Gumbel


def gumbel_noise(like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Standard Gumbel noise -log(-log U) of `like`'s shape (U clamped away from 0 and 1)."""
    u = torch.rand(like.shape, generator=generator, device=like.device, dtype=like.dtype)
    return -torch.log(-torch.log(u.clamp(1e-10, 1 - 1e-7)))


def straight_through(hard: torch.Tensor, soft: torch.Tensor) -> torch.Tensor:
    """`hard`'s value with `soft`'s gradient (Bengio et al. 2013's straight-through estimator)."""
    return hard + (soft - soft.detach())


class SoftTokens(NamedTuple):
    """A soft sequence: at each position, word ids [B, L, k] with probabilities [B, L, k] (a
    full distribution when k = V: `SoftTokens.dense`), and the probability of EOS [B, L]."""

    probs: torch.Tensor
    ids: torch.Tensor
    eos: torch.Tensor

    @classmethod
    def dense(cls, probs: torch.Tensor) -> SoftTokens:
        """From soft word distributions [B, L, V]."""
        ids = torch.arange(probs.shape[2], device=probs.device).expand_as(probs)
        return cls(probs, ids, probs[:, :, EOS])


class Encoder(nn.Module):
    """q_E(z|x) = N(mu, diag(sigma^2)); mu, log sigma^2 from the bi-GRU's final states (Eq. 12)."""

    def __init__(self, embedding: nn.Embedding, hidden: int, latent: int):
        super().__init__()
        self.embedding = embedding
        self.gru = nn.GRU(embedding.embedding_dim, hidden, batch_first=True, bidirectional=True)
        self.to_mu = nn.Linear(2 * hidden, latent)
        self.to_logvar = nn.Linear(2 * hidden, latent)

    def forward(self, x: torch.Tensor | SoftTokens) -> tuple[torch.Tensor, torch.Tensor]:
        """x: int64 ids [B, L], or a generated sequence (`SoftTokens`, for Hu et al. 2017's
        independence constraint): its words embedded as probs @ embedding and its length the
        number of positions before the first EOS, exact for the one-hot forward values of
        straight-through Gumbel decoding (`Decoder.relaxed(relax="gumbel")`)."""
        if isinstance(x, SoftTokens):
            e = (x.probs.unsqueeze(3) * self.embedding(x.ids)).sum(dim=2)
            lengths = torch.cumprod(1 - x.eos.detach(), dim=1).sum(dim=1).round().long()
        else:
            e, lengths = self.embedding(x), lengths_of(x)
        packed = nn.utils.rnn.pack_padded_sequence(e, lengths.clamp(min=1).cpu(),
                                                   batch_first=True, enforce_sorted=False)
        _, h_n = self.gru(packed)  # [2, B, H]
        h = torch.cat([h_n[0], h_n[1]], dim=1)
        return self.to_mu(h), self.to_logvar(h)


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """z = mu + sigma * eps, eps ~ N(0, I) (the reparameterisation trick of Eq. 12)."""
    eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    return mu + torch.exp(0.5 * logvar) * eps


class Decoder(nn.Module):
    """p_D(x|z, y_s, y_t): attention GRU conditioned on z and soft labels (see module docstring)."""

    def __init__(self, embedding: nn.Embedding, hidden: int, latent: int, n_classes: int,
                 n_z_slots: int = 4, label_input: bool = False):
        super().__init__()
        self.embedding = embedding
        self.hidden, self.n_z_slots, self.label_input = hidden, n_z_slots, label_input
        self.init = nn.Linear(latent + n_classes, hidden)
        self.z_slots = nn.Linear(latent, n_z_slots * hidden)
        self.class_on = nn.Parameter(0.1 * torch.randn(n_classes, hidden))
        self.class_off = nn.Parameter(0.1 * torch.randn(n_classes, hidden))
        context = latent + (n_classes if label_input else 0)
        self.gru = nn.GRU(embedding.embedding_dim + context, hidden, batch_first=True)
        self.score = nn.Linear(hidden, hidden, bias=False)  # Luong "general": h^T W_a m
        self.combine = nn.Linear(2 * hidden, hidden)  # h~ = tanh(W_c [c; h])
        self.out = nn.Linear(hidden, embedding.num_embeddings)

    def condition(self, z: torch.Tensor, y: torch.Tensor
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Initial hidden state [1, B, H], attention memory [B, k + |W|, H] and the context
        appended to every step's input ([B, latent] z, or [z; y] with `label_input`)."""
        zy = torch.cat([z, y], dim=1)
        h0 = torch.tanh(self.init(zy)).unsqueeze(0)
        z_mem = self.z_slots(z).view(z.shape[0], self.n_z_slots, self.hidden)
        y3 = y.unsqueeze(2)
        class_mem = y3 * self.class_on + (1 - y3) * self.class_off
        return h0, torch.cat([z_mem, class_mem], dim=1), zy if self.label_input else z

    def attend(self, h: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        """Luong global attention: h [B, T, H] over memory [B, M, H] -> h~ [B, T, H]
        (apply `self.out` for the word logits)."""
        weights = torch.softmax(self.score(h) @ memory.transpose(1, 2), dim=2)
        return torch.tanh(self.combine(torch.cat([weights @ memory, h], dim=2)))

    def forward(self, inputs: torch.Tensor, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Teacher-forced attentional states h~ [B, T, H] for the decoder input ids [B, T];
        the caller projects only the positions it scores (most of a title is padding)."""
        h0, memory, context = self.condition(z, y)
        e = self.embedding(inputs)
        steps = context.unsqueeze(1).expand(-1, e.shape[1], -1)
        out, _ = self.gru(torch.cat([e, steps], dim=2), h0)
        return self.attend(out, memory)

    def _step(self, e: torch.Tensor, context: torch.Tensor, h: torch.Tensor,
              memory: torch.Tensor, frozen_out: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """One decoding step: logits [B, V] and the new GRU state. With `frozen_out` no gradient
        reaches the output projection's weights (it still reaches everything before it)."""
        out, h = self.gru(torch.cat([e, context], dim=1).unsqueeze(1), h)
        h_tilde = self.attend(out, memory).squeeze(1)
        if frozen_out:
            return F.linear(h_tilde, self.out.weight.detach(), self.out.bias.detach()), h
        return self.out(h_tilde), h

    def relaxed(self, z: torch.Tensor, y: torch.Tensor, length: int, tau: float,
                top_k: int, relax: str = "softmax",
                generator: torch.Generator | None = None) -> SoftTokens:
        """Differentiable free-running decoding for Eq. 9 (Hu et al. 2017): each step feeds
        back the soft word distribution softmax(logits / tau), truncated to its `top_k` most
        probable words and renormalised (a speed choice: the dense probs @ embedding.weight
        product over a 20k vocabulary costs more than the rest of a training step). The fed-back
        embeddings are detached from the embedding table, and the output projection's weights
        from this path: gradients reach the decoder's conditioning, attention and GRU through the
        probabilities, while the per-step dense [V, E] and [V, H] weight gradients, which would
        dominate the step's time, are skipped (both tables learn from reconstruction).

        `relax="gumbel"` (a deviation, issue 13's suspect 4; Jang et al. 2017): straight-through
        Gumbel-softmax. Each step draws one word from softmax(logits) (Gumbel-max, noise from
        `generator`), feeds back and scores exactly that word (a one-hot forward value, as in
        sampling), while gradients flow through softmax((logits + g) / tau) over the top-k
        words of the perturbed distribution. q_C then judges sequences the sampler can produce,
        not high-entropy mixtures that no sampled title reproduces."""
        if relax not in RELAXATIONS:
            raise ValueError(f"relax must be one of {RELAXATIONS}, not {relax!r}")
        h, memory, context = self.condition(z, y)
        table = self.embedding.weight.detach()
        e = table[torch.full((z.shape[0],), BOS, dtype=torch.long, device=z.device)]
        steps = []
        for _ in range(length):
            logits, h = self._step(e, context, h, memory, frozen_out=True)
            if relax == "gumbel":
                logits = logits + gumbel_noise(logits, generator)
            p = torch.softmax(logits / tau, dim=1)
            top_p, top_i = p.topk(min(top_k, p.shape[1]), dim=1)
            top_p = top_p / top_p.sum(dim=1, keepdim=True)
            eos = p[:, EOS]
            if relax == "gumbel":  # forward: the drawn word (topk's first); backward: top_p's
                top_p = straight_through(F.one_hot(torch.zeros_like(top_i[:, 0]), top_p.shape[1])
                                         .to(top_p.dtype), top_p)
                eos = straight_through((top_i[:, 0] == EOS).to(eos.dtype), eos)
            steps.append((top_p, top_i, eos))
            e = (top_p.unsqueeze(2) * table[top_i]).sum(dim=1)
        probs, ids, eos = (torch.stack(t, dim=1) for t in zip(*steps, strict=True))
        return SoftTokens(probs, ids, eos)

    @torch.no_grad()
    def sample(self, z: torch.Tensor, y: torch.Tensor, length: int, temperature: float,
               generator: torch.Generator) -> torch.Tensor:
        """Ancestral sampling of token ids [B, length], PAD after EOS (PAD, UNK and BOS are never
        drawn). Finished rows leave the batch; words are drawn by inverse CDF (torch.multinomial
        is several times slower over a large vocabulary)."""
        h, memory, context = self.condition(z, y)
        out = torch.full((z.shape[0], length), PAD, dtype=torch.long, device=z.device)
        rows = torch.arange(z.shape[0], device=z.device)
        tok = torch.full_like(rows, BOS)
        for t in range(length):
            logits, h = self._step(self.embedding(tok), context, h, memory)
            logits[:, [PAD, UNK, BOS]] = float("-inf")
            cdf = torch.softmax(logits.div_(temperature), dim=1).cumsum_(dim=1)
            u = torch.rand(len(rows), 1, generator=generator, device=z.device) * cdf[:, -1:]
            tok = torch.searchsorted(cdf, u).squeeze(1).clamp(max=cdf.shape[1] - 1)
            out[rows, t] = tok
            keep = tok != EOS
            if not bool(keep.any()):
                break
            rows, tok, context = rows[keep], tok[keep], context[keep]
            h, memory = h[:, keep], memory[keep]
        return out

class FeatureExtractor(nn.Module):
    """f_m of Eq. 14: bi-GRU outputs mean-pooled over (softly) non-padding positions -> [B, 2H]."""

    def __init__(self, vocab_size: int, embed_dim: int, hidden: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD)
        self.gru = nn.GRU(embed_dim, hidden, batch_first=True, bidirectional=True)
        self.out_dim = 2 * hidden

    def forward(self, x: torch.Tensor | SoftTokens) -> torch.Tensor:
        """x: int64 ids [B, L], or a soft sequence (`SoftTokens`)."""
        if isinstance(x, SoftTokens):
            e = (x.probs.unsqueeze(3) * self.embedding(x.ids)).sum(dim=2)
            alive = torch.cumprod(1 - x.eos, dim=1)
            mask = torch.cat([torch.ones_like(alive[:, :1]), alive[:, :-1]], dim=1)
            mask = mask * (1 - x.eos)  # an EOS position is not a word
        else:
            e, mask = self.embedding(x), (x != PAD).float()
        out, _ = self.gru(e)
        mask = mask.unsqueeze(2)
        return (out * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-6)
