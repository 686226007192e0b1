"""Containers for model inputs, shared by ADDES, the baselines and the harness.

`Inputs` holds what a classifier or generator may look at for one set of examples: token ids
(text) or pixels (images), plus the raw titles for text models that want strings (TF-IDF).
Labels are never stored here: they travel beside the inputs as explicit arrays, so that what a
method is given is visible at the call site.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PAD, UNK, BOS, EOS = 0, 1, 2, 3
SPECIAL_TOKENS = ("<pad>", "<unk>", "<bos>", "<eos>")


@dataclass(frozen=True, eq=False)
class Inputs:
    """Examples of one part of a split.

    x: int64 [n, L] token ids (0 = padding) for text, float32 [n, 1, H, W] for images.
    texts: the raw titles, text only. vocab: id -> token, text only (shared, not copied).
    """

    x: np.ndarray
    texts: tuple[str, ...] | None = None
    vocab: tuple[str, ...] | None = None

    def __len__(self) -> int:
        return len(self.x)

    @property
    def modality(self) -> str:
        return "text" if self.x.dtype.kind in "iu" else "image"

    def subset(self, index: np.ndarray | slice) -> Inputs:
        idx = np.arange(len(self))[index] if isinstance(index, slice) else np.asarray(index)
        texts = None if self.texts is None else tuple(self.texts[i] for i in idx)
        return Inputs(self.x[idx], texts, self.vocab)

    def concat(self, other: Inputs) -> Inputs:
        if self.x.shape[1:] != other.x.shape[1:]:
            raise ValueError(
                f"cannot concatenate inputs of shapes {self.x.shape} and {other.x.shape}")
        texts = None
        if self.texts is not None and other.texts is not None:
            texts = self.texts + other.texts
        return Inputs(np.concatenate([self.x, other.x]), texts, self.vocab or other.vocab)

    def decode(self, i: int) -> str:
        """The tokens of text example i joined by spaces (padding and specials dropped)."""
        assert self.vocab is not None, "decode needs a vocabulary"
        return " ".join(self.vocab[t] for t in self.x[i] if t > EOS)
