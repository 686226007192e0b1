"""Classifiers trained on D_e plus ADDES synthetic labeled data D_s (Section 5.3.3).

AugCNN and AugGCN are the paper's; AugLR (TF-IDF + LR on D_e + D_s, not in the paper) shows
whether ADDES data helps a strong classical model too. The runner builds the training set
(bench/runner.py: D_e + the first n_synthetic rows of the cached D_s of bench/artifacts.py);
each estimator is the same as its baseline on D_e.
"""

from __future__ import annotations

from baselines.ml_gcn import MLGCN
from baselines.sdann import SDANN
from baselines.text_cnn import TextCNN
from baselines.tfidf_lr import TfidfLogisticRegression
from bench.data.text import TOKEN_PATTERN
from bench.methods import MethodContext, register
from bench.methods.classic import cnn_features, gcn_hidden, require_modality

# the generator of D_s: variant (ADDES, ADDES-CNN, ADDES-W), Eq. 11's weights, |D_s| (None:
# the scale's n_synthetic), and how D_s's label vectors are drawn (see ADDESGenerator;
# "resample" kept on the validation evidence of `python -m bench.diagnose`, README). The
# image experiments pass alpha = 100 (Section 5.4.2).
SYNTHETIC = {"variant": "ADDES", "alpha": 0.1, "beta": 0.1, "n_synthetic": None,
             "label_sampling": "resample"}


@register("AugCNN", training_set="D_e+D_s", default_params=SYNTHETIC)
def aug_cnn(ctx: MethodContext) -> TextCNN | SDANN:
    """text-CNN (SDANN for images) on D_e + D_s, D_s synthesised by ADDES."""
    s = ctx.scale
    if ctx.modality == "image":
        return SDANN(s.image_width_mult, ctx.train, ctx.seed)
    return TextCNN(ctx.vocab_size, s.embed_dim, s.cnn_maps, ctx.train, ctx.seed)


@register("AugGCN", training_set="D_e+D_s", default_params=SYNTHETIC)
def aug_gcn(ctx: MethodContext) -> MLGCN:
    """ML-GCN on D_e + D_s (its label graph counted on the augmented labels)."""
    s = ctx.scale
    return MLGCN(ctx.vocab_size, s.embed_dim, s.cnn_maps, gcn_hidden=gcn_hidden(ctx),
                 config=ctx.train, seed=ctx.seed, features=cnn_features(ctx))


@register("AugLR", training_set="D_e+D_s", in_paper=False, default_params=SYNTHETIC,
          modalities=("text",))
def aug_lr(ctx: MethodContext) -> TfidfLogisticRegression:
    """TF-IDF + logistic regression on D_e + D_s: does ADDES data help a classical model?"""
    require_modality(ctx, "AugLR", "text")
    return TfidfLogisticRegression(TOKEN_PATTERN, seed=ctx.seed)
