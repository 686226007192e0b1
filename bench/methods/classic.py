"""Registrations of the baselines trained on D_e (Table 2's first columns; Section 5.2).

Zero-shot reads only the inexact labels of D_e; TF-IDF+LR is an extra classical reference.
"""

from __future__ import annotations

from baselines.gru import GRUClassifier
from baselines.ml_gcn import MLGCN
from baselines.semi import SemiCNN
from baselines.text_cnn import TextCNN
from baselines.tfidf_lr import TfidfLogisticRegression
from baselines.zero_shot import ZeroShotGCN
from bench.data.text import TOKEN_PATTERN
from bench.methods import MethodContext, register


@register("text-CNN", training_set="D_e")
def text_cnn(ctx: MethodContext) -> TextCNN:
    """Kim's text-CNN (filters 3/4/5) on D_e, the estimated labeled set of Eq. 19."""
    s = ctx.scale
    return TextCNN(ctx.vocab_size, s.embed_dim, s.cnn_maps, ctx.train, ctx.seed)


@register("GRU", training_set="D_e")
def gru(ctx: MethodContext) -> GRUClassifier:
    """Bi-GRU (Cho et al. 2014) over word embeddings, final states -> sigmoid, on D_e."""
    s = ctx.scale
    return GRUClassifier(ctx.vocab_size, s.embed_dim, s.gru_hidden, ctx.train, ctx.seed)


@register("Semi-CNN", training_set="D_e", uses_unlabeled=True)
def semi_cnn(ctx: MethodContext) -> SemiCNN:
    """text-CNN on D_e + entropy regularisation on D_u (lambda chosen by validation mAP)."""
    s = ctx.scale
    return SemiCNN(ctx.vocab_size, s.embed_dim, s.cnn_maps, config=ctx.train, seed=ctx.seed)


@register("ML-GCN", training_set="D_e")
def ml_gcn(ctx: MethodContext) -> MLGCN:
    """ML-GCN (Chen et al. 2019): label-graph GCN classifiers on text-CNN features, all of W."""
    s = ctx.scale
    return MLGCN(ctx.vocab_size, s.embed_dim, s.cnn_maps, gcn_hidden=3 * s.cnn_maps,
                 config=ctx.train, seed=ctx.seed)


@register("Zero-shot", training_set="D_e")
def zero_shot(ctx: MethodContext) -> ZeroShotGCN:
    """Zero-shot GCN (Wang et al. 2018): T classifiers regressed from the S ones; no T labels."""
    s = ctx.scale
    return ZeroShotGCN(ctx.vocab_size, s.embed_dim, s.cnn_maps, width=s.embed_dim / 300,
                       config=ctx.train, seed=ctx.seed)


@register("TF-IDF+LR", training_set="D_e", in_paper=False)
def tfidf_lr(ctx: MethodContext) -> TfidfLogisticRegression:
    """TF-IDF word 1-2 grams + one-vs-rest logistic regression (liblinear, C = 1) on D_e."""
    return TfidfLogisticRegression(TOKEN_PATTERN, seed=ctx.seed)
