"""AugCNN (Section 5.3.3): text-CNN trained on D_e plus ADDES synthetic labeled data D_s.

The runner builds the training set (bench/runner.py: D_e + the first n_synthetic rows of the
cached D_s of bench/artifacts.py); the estimator is the same text-CNN as the baseline.
"""

from __future__ import annotations

from baselines.text_cnn import TextCNN
from bench.methods import MethodContext, register


@register("AugCNN", training_set="D_e+D_s",
          default_params={"variant": "ADDES", "alpha": 0.1, "beta": 0.1, "n_synthetic": None})
def aug_cnn(ctx: MethodContext) -> TextCNN:
    """text-CNN on D_e + D_s, D_s synthesised by ADDES (variant, alpha, beta, n_synthetic)."""
    s = ctx.scale
    return TextCNN(ctx.vocab_size, s.embed_dim, s.cnn_maps, ctx.train, ctx.seed)
