"""The image modality of ADDES (paper Section 5.4.2): encoder, decoder, feature extractor, model.

Images are float32 [B, 1, 32, 100] in [0, 1] (MJSynth word crops).

- `ConvStack`: each image standardised (zero mean, unit variance: `standardize`), then the
  5 convolutional layers of the paper (64, 128, 256, 512, 512 filters times a
  width multiplier, kernel 4, stride 2, padding 1; LeakyReLU(0.2), no normalisation), then
  global max pooling -> [B, C_5]. On 32 x 100 the maps shrink 32x100 -> 16x50 -> 8x25 -> 4x12
  -> 2x6 -> 1x3. It is both the encoder's trunk and the classifier's feature extractor f_m
  ("the feature extractor has the same structure as the encoder").
- `ImageEncoder`, q_E(z|x): mu and log sigma^2 are linear maps of the pooled features.
- `ImageDecoder`, p_D(x|z, y_s, y_t) of Eq. 13: symmetric to the encoder. A linear map of
  [z; y] gives a C_5 x 1 x 4 map; five stride-2 transposed convolutions (kernel 4, padding 1;
  channels 512, 256, 128, 64 times the multiplier, then 1) upsample it to 32 x 128, and the
  central 100 columns are kept (crop of 14 columns each side): the odd widths 25 and 3 of the
  encoder's maps cannot be inverted exactly by stride-2 layers, and a crop keeps every layer a
  plain k4 s2 p1 transposed convolution. The labels enter the first linear map and are also
  broadcast as extra input channels of the first transposed convolution, so soft label values
  condition the decoder differentiably. A sigmoid gives the mean of a Gaussian p_D with one
  learned, shared variance (a scalar log sigma^2, clamped to sigma in [0.02, 1]; a fixed
  variance would leave the balance of reconstruction against the KL and label terms to a
  guess). The reconstruction term is the Gaussian NLL summed over the 3200 pixels.
- Eq. 9 needs no relaxation: the decoder's mean image is differentiable in (z, y), and q_C
  scores it directly (`ImageDecoder.relaxed` returns it, ignoring the text-only arguments).
- The classifier q_C: `ConvStack` features + the GCN head of Eq. 16 with one hidden layer of
  128 (`addes.gcn.GCNClassifierHead`), or ADDES-CNN's linear head.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from addes.graph import ClassGraph
from addes.model import ADDESModule, gaussian_kl
from addes.text import reparameterize

PAPER_CHANNELS = (64, 128, 256, 512, 512)
HEIGHT, WIDTH = 32, 100
DECODED_WIDTH = 128  # 4 x 2^5
LOGVAR_MIN, LOGVAR_MAX = 2 * math.log(0.02), 0.0
GCN_HIDDEN = 128  # Section 5.4.2


def standardize(x: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """Each image to zero mean and unit variance, the input normalisation of Jaderberg et al.
    (2014) for word crops. Without it the convolutional models here learned nothing: word
    images come light-on-dark and dark-on-light at any contrast, and an oracle-trained SDANN
    on 2,000 rendered images stayed at test AUC 0.50 after 10 epochs, against 0.95 with it."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    std = x.std(dim=(1, 2, 3), keepdim=True)
    return (x - mean) / (std + eps)


def channels(width_mult: float) -> tuple[int, ...]:
    """The paper's filter counts times `width_mult` (at least 4 each)."""
    return tuple(max(4, round(c * width_mult)) for c in PAPER_CHANNELS)


class ConvStack(nn.Module):
    """Per-image standardisation, 5 x (conv k4 s2 p1 + LeakyReLU), then global max pooling
    -> [B, C_5]."""

    def __init__(self, width_mult: float = 1.0, in_channels: int = 1):
        super().__init__()
        chans = channels(width_mult)
        layers: list[nn.Module] = []
        for c_in, c_out in zip((in_channels, *chans[:-1]), chans, strict=True):
            layers += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*layers)
        self.out_dim = chans[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(standardize(x)).amax(dim=(2, 3))


class ImageEncoder(nn.Module):
    """q_E(z|x) = N(mu, diag(sigma^2)) from the global-max-pooled conv features."""

    def __init__(self, width_mult: float, latent: int):
        super().__init__()
        self.trunk = ConvStack(width_mult)
        self.to_mu = nn.Linear(self.trunk.out_dim, latent)
        self.to_logvar = nn.Linear(self.trunk.out_dim, latent)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.trunk(x)
        return self.to_mu(h), self.to_logvar(h)


class ImageDecoder(nn.Module):
    """p_D(x|z, y): mean image [B, 1, 32, 100] and a shared learned log-variance."""

    def __init__(self, width_mult: float, latent: int, n_classes: int):
        super().__init__()
        chans = channels(width_mult)
        self.c0 = chans[-1]
        self.project = nn.Linear(latent + n_classes, self.c0 * 1 * 4)
        ups = list(reversed(chans[:-1])) + [1]  # 512 -> 256 -> 128 -> 64 -> 1 (times mult)
        layers: list[nn.Module] = []
        c_in = self.c0 + n_classes  # labels broadcast as extra channels of the first layer
        for i, c_out in enumerate(ups):
            layers.append(nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1))
            if i < len(ups) - 1:
                layers.append(nn.LeakyReLU(0.2))
            c_in = c_out
        self.net = nn.Sequential(*layers)
        self.logvar = nn.Parameter(torch.tensor(2 * math.log(0.1)))
        self.crop = (DECODED_WIDTH - WIDTH) // 2

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean image in [0, 1], [B, 1, 32, 100]."""
        h = F.leaky_relu(self.project(torch.cat([z, y], dim=1)), 0.2).view(-1, self.c0, 1, 4)
        h = torch.cat([h, y[:, :, None, None].expand(-1, -1, 1, 4)], dim=1)
        logits = self.net(h)[:, :, :, self.crop : self.crop + WIDTH]
        return torch.sigmoid(logits)

    def log_variance(self) -> torch.Tensor:
        return self.logvar.clamp(LOGVAR_MIN, LOGVAR_MAX)

    def relaxed(self, z: torch.Tensor, y: torch.Tensor, *_ignored, **_ignored_kw) -> torch.Tensor:
        """Eq. 9 for images: the (differentiable) mean image; no relaxation is needed."""
        return self(z, y)


def gaussian_nll(x: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """-log N(x; mean, exp(logvar) I) summed over pixels, per example [B]."""
    sq = (x - mean).pow(2).flatten(1).sum(dim=1)
    n = x[0].numel()
    return 0.5 * (sq * torch.exp(-logvar) + n * (logvar + math.log(2 * math.pi)))


class ImageADDES(ADDESModule):
    """ADDES for images, with the same interface as `addes.model.ADDES` (the losses of
    addes/model.py apply unchanged): classify, vae_terms, decoder.relaxed, features, head,
    label_prior, classifier_parameters, generator_parameters."""

    def __init__(self, graph: ClassGraph, width_mult: float, latent: int,
                 label_prior: np.ndarray, classifier: str = "gcn"):
        super().__init__()
        self.graph, self.latent, self.n_inexact = graph, latent, graph.n_inexact
        n_classes = len(graph.classes)
        self.encoder = ImageEncoder(width_mult, latent)
        self.decoder = ImageDecoder(width_mult, latent, n_classes)
        self.features = ConvStack(width_mult)
        self._init_classifier(graph, classifier, self.features.out_dim, GCN_HIDDEN, label_prior)

    def vae_terms(self, x: torch.Tensor, y: torch.Tensor, word_dropout: float = 0.0,
                  generator: torch.Generator | None = None, free_bits: float = 0.0
                  ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-example Gaussian reconstruction NLL and KL_z of images x decoded under labels y
        (`word_dropout` is text-only and ignored; `free_bits`: `addes.model.gaussian_kl`'s)."""
        mu, logvar = self.encoder(x)
        z = reparameterize(mu, logvar, generator) if self.training else mu
        mean = self.decoder(z, y).float()  # the loss in float32 also under bf16 autocast
        return (gaussian_nll(x, mean, self.decoder.log_variance()),
                gaussian_kl(mu, logvar, free_bits))
