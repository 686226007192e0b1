"""Registrations of the plain classifiers trained on D_e (Table 2's first columns)."""

from __future__ import annotations

from baselines.text_cnn import TextCNN
from bench.methods import MethodContext, register


@register("text-CNN", training_set="D_e")
def text_cnn(ctx: MethodContext) -> TextCNN:
    """Kim's text-CNN (filters 3/4/5) on D_e, the estimated labeled set of Eq. 19."""
    s = ctx.scale
    return TextCNN(ctx.vocab_size, s.embed_dim, s.cnn_maps, ctx.train, ctx.seed)
