"""Text preprocessing: a tokenizer that keeps programming tokens whole, and the vocabulary.

`c#`, `c++`, `.net`, `node.js`, `asp.net`, `vb.net`, `objective-c` stay one token each; trailing
punctuation is dropped. The vocabulary is built from the training side only (D_l and D_u).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

from addes.data import BOS, EOS, PAD, SPECIAL_TOKENS, UNK

# a token starts with a letter/digit (or a dot before letters, for `.net`), may contain
# word characters, '#', '+', '.', '-' inside, and may end in '#' or '+' (c#, c++, f#).
TOKEN_PATTERN = r"(?:(?<![\w.])\.)?[a-z0-9_](?:[a-z0-9_#+.\-]*[a-z0-9_#+])?"
_TOKEN_RE = re.compile(TOKEN_PATTERN)


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens of a title, programming names kept whole.

    >>> tokenize("Using C# and C++ with .NET in node.js/ASP.NET?")
    ['using', 'c#', 'and', 'c++', 'with', '.net', 'in', 'node.js', 'asp.net']
    """
    return _TOKEN_RE.findall(text.lower())


def build_vocab(texts: Iterable[str], max_size: int, min_count: int = 1) -> tuple[str, ...]:
    """id -> token: the special tokens, then the most frequent tokens (ties by name)."""
    counts = Counter(tok for text in texts for tok in tokenize(text))
    ranked = sorted((t for t, c in counts.items() if c >= min_count), key=lambda t: (-counts[t], t))
    return SPECIAL_TOKENS + tuple(ranked[: max(0, max_size - len(SPECIAL_TOKENS))])


def encode(texts: Sequence[str], vocab: Sequence[str], max_len: int) -> np.ndarray:
    """Token ids int64 [n, max_len], unknown words -> <unk>, padded with 0, truncated."""
    index = {tok: i for i, tok in enumerate(vocab)}
    ids = np.full((len(texts), max_len), PAD, dtype=np.int64)
    for row, text in enumerate(texts):
        toks = [index.get(t, UNK) for t in tokenize(text)][:max_len]
        ids[row, : len(toks)] = toks
    return ids


assert (PAD, UNK, BOS, EOS) == (0, 1, 2, 3)
