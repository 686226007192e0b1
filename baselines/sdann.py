"""SDANN (Jaderberg, Simonyan, Vedaldi, Zisserman, "Synthetic Data and Artificial Neural
Networks for Natural Scene Text Recognition", NIPS DLW 2014), the paper's image baseline [14].

The architecture of the widely used port of Jaderberg et al.'s character models: five
convolutions with 64, 128, 256, 512, 512 filters and kernels 5, 5, 3, 3, 3 ("same" padding,
ReLU), 2 x 2 max-pooling after convolutions 1, 2 and 4, then two fully connected layers of
4096 units with dropout 0.5, and a sigmoid output per target class (the character-presence
"bag of N-grams" head of the original is multi-label too). On a 32 x 100 image the last
convolution's maps are 512 x 4 x 12. Each input image is first standardised to zero mean and
unit variance, as in the original preprocessing (`addes.image.standardize`).

Deviations, documented: widths (filters and FC units) are multiplied by `width` (narrower at
the smoke and quick scales; 1.0 at paper scale); ReLU instead of maxout; Adam with early
stopping on the validation part (the original: SGD with dropout, no early stopping).

`init` ("torch", PyTorch's default, or "he"): the initial weights. PyTorch's default layer
init draws weights of variance 1 / (3 fan_in), which a ReLU halves again, so the signal of an
input shrinks by about 6x in variance per layer, over 7 layers about 500x in standard
deviation: the network starts out predicting nearly the same for every image. "he" draws them
as He et al. 2015 derive for ReLU networks (normal, variance 2 / fan_in, zero biases), which
keeps the signal's scale through the layers (maxout, the original's unit, needs no such care).
At width 1/8 the default's features vary across images by std 0.0007 at the start, He's by
0.34. Measured (MJSynth-1/-2, quick, soft D_e, 5 seeds, validation BCE against the forest's
probabilities): worse for SDANN (+0.0018, p = 0.03 / +0.0007) and ML-GCN (+0.0011 / +0.0008,
p = 0.02); He-initialised SDANN runs end about twice as early by early stopping. Not the
default (docs/findings-mjsynth.md).

`SDANNFeatures` (everything up to the last 4096-unit layer) is the CNN of the image versions of
Semi-CNN, ML-GCN, Zero-shot, AugCNN and AugGCN, as KimCNN is for text.
"""

from __future__ import annotations

import torch
from torch import nn

from addes.data import Inputs
from addes.graph import ClassGraph
from addes.image import standardize
from baselines.training import NeuralMultiLabelClassifier, TrainConfig

CONV = ((64, 5), (128, 5), (256, 3), (512, 3), (512, 3))  # (filters, kernel)
POOL_AFTER = (0, 1, 3)  # max-pooling after convolutions 1, 2 and 4
FC = 4096
INITS = ("torch", "he")  # PyTorch's default layer init; He et al. 2015 for ReLU layers


def _scaled(n: int, width: float) -> int:
    return max(4, round(n * width))


class SDANNFeatures(nn.Module):
    """Per-image standardisation (as Jaderberg et al.), conv x 5 (pool after 1, 2, 4) -> FC ->
    dropout -> FC -> dropout: features [B, FC]."""

    def __init__(self, width: float = 1.0, image_shape: tuple[int, int] = (32, 100),
                 dropout: float = 0.5, init: str = "torch"):
        super().__init__()
        if init not in INITS:
            raise ValueError(f"SDANN init must be one of {INITS}, not {init!r}")
        layers: list[nn.Module] = []
        c_in, (h, w) = 1, image_shape
        for i, (filters, kernel) in enumerate(CONV):
            c_out = _scaled(filters, width)
            layers += [nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2), nn.ReLU()]
            if i in POOL_AFTER:
                layers.append(nn.MaxPool2d(2))
                h, w = h // 2, w // 2
            c_in = c_out
        fc = _scaled(FC, width)
        self.conv = nn.Sequential(*layers)
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(c_in * h * w, fc), nn.ReLU(),
                                nn.Dropout(dropout), nn.Linear(fc, fc), nn.ReLU(),
                                nn.Dropout(dropout))
        self.out_dim = fc
        if init == "he":
            for layer in self.modules():
                if isinstance(layer, (nn.Conv2d, nn.Linear)):
                    nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
                    nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(standardize(x)))


class SDANNNet(nn.Module):
    def __init__(self, features: SDANNFeatures, n_out: int):
        super().__init__()
        self.features = features
        self.head = nn.Linear(features.out_dim, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    @property
    def output_bias(self) -> nn.Parameter:
        return self.head.bias


class SDANN(NeuralMultiLabelClassifier):
    """SDANN over the target classes, trained on whatever training set it is given."""

    def __init__(self, width: float = 1.0, config: TrainConfig = TrainConfig(), seed: int = 0,
                 init: str = "torch"):
        super().__init__(config, seed)
        self.width, self.init = width, init

    def build(self, X: Inputs, graph: ClassGraph, n_out: int) -> nn.Module:
        return SDANNNet(SDANNFeatures(self.width, tuple(X.x.shape[2:]), init=self.init), n_out)
