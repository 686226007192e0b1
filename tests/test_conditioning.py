"""The ADDES decoders p_D(x|z, y_s, y_t) (Eq. 13) follow each label on its own, text and image.

tests/test_addes_model.py checks generation end to end, but there the toy word follows y_s and
y_t together; a decoder blind to y_t passes it. Here each label has its own mark, and the three
labels are drawn independently:
  s0 -> the word "kiwi" / a bright block on the left; t0 -> "lime" / a block on the right;
  s1 -> nothing (a distractor).
In full ADDES training the decoder reads q_C(y_t|x), which Eq. 6 fits to p(y_t|y_s, G), a
function of y_s, so y_t cannot be varied apart from y_s there. The decoders are therefore
trained here on the reconstruction and KL_z terms of Eq. 6 (`vae_terms`) with both label
vectors given, and then decoded from z ~ N(0, I) with ONE label switched: the mark of that
label must follow it, the other label's mark must not move.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from addes.graph import ClassGraph
from addes.image import ImageADDES
from addes.model import ADDES, label_prior

SPECIALS = ("<pad>", "<unk>", "<bos>", "<eos>")
VOCAB = SPECIALS + tuple(f"w{i}" for i in range(16)) + ("kiwi", "lime")
KIWI, LIME = len(VOCAB) - 2, len(VOCAB) - 1
N_TRAIN = 256


def _labels(n: int, seed: int) -> np.ndarray:
    """[s0, s1, t0], each on with probability 1/2, independently."""
    return (np.random.default_rng(seed).random((n, 3)) < 0.5).astype(np.float32)


def _graph(y: np.ndarray) -> ClassGraph:
    return ClassGraph.from_inexact_labels(y[:, :2], ("s0", "s1"), ("t0",),
                                          np.array([[True, False]]))


def _train(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, epochs: int) -> None:
    """Adam on the generator's parameters, loss = mean(recon + KL_z) under the given labels."""
    opt = torch.optim.Adam(model.generator_parameters(), lr=3e-3)
    order = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(x), generator=order).split(64):
            recon, kl = model.vae_terms(x[batch], y[batch], generator=order)
            opt.zero_grad()
            (recon + kl).mean().backward()
            opt.step()
    model.eval()


def _switched(base: tuple[float, float, float], column: int, value: float,
              n: int) -> torch.Tensor:
    y = torch.tensor([base] * n)
    y[:, column] = value
    return y


# ---------------------------------------------------------------------------------------------
# text


@pytest.fixture(scope="module")
def text_model() -> ADDES:
    y = _labels(N_TRAIN, 1)
    rng = np.random.default_rng(2)
    x = np.zeros((N_TRAIN, 6), np.int64)
    for i, (s0, _, t0) in enumerate(y):  # 4 fillers, plus kiwi if s0, lime if t0; shuffled
        words = [*rng.integers(4, KIWI, 4), *([KIWI] * int(s0)), *([LIME] * int(t0))]
        x[i, : len(words)] = rng.permutation(words)
    torch.manual_seed(0)
    model = ADDES(_graph(y), len(VOCAB), 16, 32, 4, label_prior(_graph(y), y[:, :2], 0.1), "mlp")
    _train(model, torch.from_numpy(x), torch.from_numpy(y), epochs=30)
    return model


def _word_rates(model: ADDES, y: torch.Tensor) -> tuple[float, float]:
    """Share of titles decoded from z ~ N(0, I) under labels y that hold kiwi, lime."""
    gen = torch.Generator().manual_seed(3)
    z = torch.randn(len(y), model.latent, generator=gen)
    with torch.no_grad():
        ids = model.decoder.sample(z, y, 7, 1.0, gen)
    return float((ids == KIWI).any(1).float().mean()), float((ids == LIME).any(1).float().mean())


@pytest.mark.parametrize("other", [0.0, 1.0])
def test_text_decoder_follows_the_target_label_alone(text_model, other):
    base = (other, 0.0, 0.0)  # s0 fixed (off, then on); t0 switched
    kiwi_on, lime_on = _word_rates(text_model, _switched(base, 2, 1.0, 300))
    kiwi_off, lime_off = _word_rates(text_model, _switched(base, 2, 0.0, 300))
    assert lime_on > 0.6 and lime_on - lime_off > 0.4, (lime_on, lime_off)
    assert abs(kiwi_on - kiwi_off) < 0.2, (kiwi_on, kiwi_off)  # s0's word does not move


@pytest.mark.parametrize("other", [0.0, 1.0])
def test_text_decoder_follows_an_inexact_label_alone(text_model, other):
    base = (0.0, 0.0, other)  # t0 fixed (off, then on); s0 switched
    kiwi_on, lime_on = _word_rates(text_model, _switched(base, 0, 1.0, 300))
    kiwi_off, lime_off = _word_rates(text_model, _switched(base, 0, 0.0, 300))
    assert kiwi_on > 0.6 and kiwi_on - kiwi_off > 0.4, (kiwi_on, kiwi_off)
    assert abs(lime_on - lime_off) < 0.2, (lime_on, lime_off)  # t0's word does not move


# ---------------------------------------------------------------------------------------------
# image

LEFT, RIGHT = (slice(8, 24), slice(10, 30)), (slice(8, 24), slice(70, 90))


@pytest.fixture(scope="module")
def image_model() -> ImageADDES:
    y = _labels(N_TRAIN, 4)
    rng = np.random.default_rng(5)
    x = rng.normal(0.2, 0.05, (N_TRAIN, 1, 32, 100)).astype(np.float32)
    for column, (rows, cols) in ((0, LEFT), (2, RIGHT)):
        x[y[:, column] == 1, 0, rows, cols] += 0.6
    torch.manual_seed(0)
    graph = _graph(y)
    model = ImageADDES(graph, 0.0625, 4, label_prior(graph, y[:, :2], 0.1), "mlp")
    _train(model, torch.from_numpy(np.clip(x, 0, 1)), torch.from_numpy(y), epochs=25)
    return model


def _block_means(model: ImageADDES, y: torch.Tensor) -> tuple[float, float]:
    """Mean intensity of the left (s0) and right (t0) blocks of images decoded under y."""
    z = torch.randn(len(y), model.latent, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        images = model.decoder(z, y)[:, 0]
    return float(images[:, LEFT[0], LEFT[1]].mean()), float(images[:, RIGHT[0], RIGHT[1]].mean())


@pytest.mark.parametrize("other", [0.0, 1.0])
def test_image_decoder_follows_the_target_label_alone(image_model, other):
    base = (other, 0.0, 0.0)
    left_on, right_on = _block_means(image_model, _switched(base, 2, 1.0, 64))
    left_off, right_off = _block_means(image_model, _switched(base, 2, 0.0, 64))
    assert right_on - right_off > 0.25, (right_on, right_off)
    assert abs(left_on - left_off) < 0.15, (left_on, left_off)


@pytest.mark.parametrize("other", [0.0, 1.0])
def test_image_decoder_follows_an_inexact_label_alone(image_model, other):
    base = (0.0, 0.0, other)
    left_on, right_on = _block_means(image_model, _switched(base, 0, 1.0, 64))
    left_off, right_off = _block_means(image_model, _switched(base, 0, 0.0, 64))
    assert left_on - left_off > 0.25, (left_on, left_off)
    assert abs(right_on - right_off) < 0.15, (right_on, right_off)
