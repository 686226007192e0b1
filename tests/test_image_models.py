"""Image ADDES (Section 5.4.2), SDANN, the image versions of the CNN baselines, Figure 5, and the
stability of the text suite's job keys."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from addes.data import Inputs
from addes.image import ConvStack, ImageADDES, ImageDecoder, ImageEncoder, channels
from addes.model import (
    consistency_labels,
    coupled_target_prior,
    label_prior,
    loss_classifier_init,
    loss_consistency,
    loss_inexact,
    loss_labeled,
    loss_unlabeled,
    smoothed_target_prior,
)
from addes.train import ADDESConfig, ADDESGenerator
from baselines.sdann import SDANN, SDANNFeatures
from baselines.training import TrainConfig
from bench import artifacts
from bench.conditioning import (
    image_conditioning_report,
    image_diagnostics_markdown,
    reconstruction_agreement,
)
from bench.experiments import IMAGE_ALPHA, resolve_params
from bench.runner import Job, RunContext, job_key, with_estimated_targets
from bench.scales import IMAGE_FIELDS, get_scale

SMOKE = get_scale("smoke")
CONFIG = ADDESConfig(latent=4, width_mult=0.0625, epochs_classifier=1, epochs_vae=1,
                     epochs_joint=1, batch_size=32, alpha=IMAGE_ALPHA)


def _model(split, classifier="gcn"):
    prior = label_prior(split.graph, split.y_s, 0.1)
    return ImageADDES(split.graph, 0.0625, 4, prior, classifier)


def test_encoder_decoder_and_feature_shapes():
    torch.manual_seed(0)
    x = torch.rand(3, 1, 32, 100)
    mu, logvar = ImageEncoder(0.125, 6)(x)
    assert mu.shape == logvar.shape == (3, 6)
    mean = ImageDecoder(0.125, 6, 26)(torch.randn(3, 6), torch.rand(3, 26))
    assert mean.shape == (3, 1, 32, 100) and mean.min() >= 0 and mean.max() <= 1
    assert ConvStack(0.125)(x).shape == (3, channels(0.125)[-1])
    assert channels(1.0) == (64, 128, 256, 512, 512)


def test_decoder_conditioning_reacts_to_labels():
    torch.manual_seed(0)
    dec = ImageDecoder(0.125, 6, 26)
    z = torch.randn(2, 6)
    y0, y1 = torch.zeros(2, 26), torch.zeros(2, 26)
    y1[:, -1] = 1.0
    assert (dec(z, y0) - dec(z, y1)).abs().max() > 1e-4
    # soft labels enter differentiably
    y = torch.full((2, 26), 0.5, requires_grad=True)
    dec(z, y).sum().backward()
    assert y.grad is not None and y.grad.abs().sum() > 0


def test_every_loss_is_finite(mj_split):
    torch.manual_seed(0)
    model = _model(mj_split)
    x = torch.from_numpy(mj_split.labeled.x[:8])
    ys = torch.from_numpy(mj_split.y_s[:8])
    l_l, logits = loss_labeled(model, x, ys, 0.1)
    l_u = loss_unlabeled(model, torch.from_numpy(mj_split.unlabeled.x[:8]))
    gen = torch.Generator().manual_seed(0)
    l_cons = loss_consistency(model, 4, 0, 1.0, 0, gen)
    for value in (l_l, l_u, l_cons, loss_inexact(logits, ys),
                  loss_classifier_init(model, x, ys, 0.1)):
        assert torch.isfinite(value), value
    (l_l + l_u + IMAGE_ALPHA * l_cons).backward()
    assert model.decoder.project.weight.grad is not None


def test_target_prior_comes_from_the_word_graph(mj_split):
    ys = torch.from_numpy(mj_split.y_s[:16])
    prior = smoothed_target_prior(mj_split.graph, ys, 0.1)
    forest = mj_split.graph.target_probabilities(mj_split.y_s[:16]).clip(0.1, 0.9)
    np.testing.assert_allclose(prior.numpy(), forest, rtol=1e-6)


def test_generator_fit_generate_roundtrip_and_determinism(mj_split):
    def fit():
        return ADDESGenerator(CONFIG, seed=0).fit(mj_split.labeled, mj_split.y_s,
                                                  mj_split.unlabeled, mj_split.graph,
                                                  val=(mj_split.val, mj_split.val_y_s))

    gen = fit()
    y_s, y_t = gen.sample_labels(6, seed=1)
    images = gen.generate(y_s, y_t, seed=2)
    assert images.modality == "image" and images.x.shape == (6, 1, 32, 100)
    assert np.isfinite(images.x).all()
    np.testing.assert_array_equal(images.x, fit().generate(y_s, y_t, seed=2).x)
    again = ADDESGenerator.from_state_dict(gen.state_dict())
    np.testing.assert_array_equal(again.generate(y_s, y_t, seed=2).x, images.x)
    np.testing.assert_allclose(again.predict_proba(mj_split.test),
                               gen.predict_proba(mj_split.test))
    z = gen.sample_z(6, seed=2)
    np.testing.assert_array_equal(gen.generate(y_s, y_t, z=z).x, images.x)


def test_sdann_contract_and_determinism(mj_split):
    y = with_estimated_targets(mj_split, mj_split.y_s)
    val = (mj_split.val, with_estimated_targets(mj_split, mj_split.val_y_s))

    def predict():
        est = SDANN(0.0625, TrainConfig(max_epochs=1), seed=0)
        est.fit(mj_split.labeled, y, graph=mj_split.graph, val=val)
        return est.predict_proba(mj_split.test)

    proba = predict()
    assert proba.shape == (len(mj_split.test), 1)
    assert ((proba >= 0) & (proba <= 1)).all()
    np.testing.assert_array_equal(proba, predict())
    features = SDANNFeatures(0.0625)
    assert features(torch.rand(2, 1, 32, 100)).shape == (2, features.out_dim)
    assert SDANNFeatures(1.0).out_dim == 4096


def test_figure5_grid(mj_split, cache_dir, tmp_path):
    from bench.report import CaptionFacts
    from bench.report.figures import fig5

    params = dict(resolve_params("AugCNN", {"alpha": IMAGE_ALPHA}, SMOKE, "image"))
    images = artifacts.generated_images(mj_split, seed=0, params=params, scale=SMOKE,
                                        cache_dir=cache_dir, n_columns=4)
    on, off = images.on, images.off
    assert on.shape == off.shape == (4, 1, 32, 100)
    caption = image_diagnostics_markdown(images.diagnostics)
    assert "moves a pixel by" in caption and "correlation with the input" in caption
    assert not np.array_equal(on, off)  # only the target label differs between the rows
    paths = fig5(on, off, tmp_path, CaptionFacts("synthetic stand-in (built-in renderer)", "smoke"))
    assert [p.name for p in paths] == ["fig5.png", "fig5.pdf"]
    assert paths[0].stat().st_size > 5_000


def test_text_job_keys_ignore_the_image_fields(tmp_path):
    """Adding the MJSynth suite left the text suite's keys (and so its records) unchanged."""
    ctx = RunContext("stackoverflow", SMOKE, tmp_path, tmp_path)
    other = RunContext("stackoverflow", replace(SMOKE, mj_n_labeled=999, image_width_mult=0.5),
                       tmp_path, tmp_path)
    job = Job("stackoverflow-1", "text-CNN", 0)
    assert job_key(job, ctx) == job_key(job, other)
    assert not set(IMAGE_FIELDS) & set(SMOKE.identity("text"))
    image_job = Job("mjsynth-1", "SDANN", 0)
    assert job_key(image_job, ctx) != job_key(image_job, other)


def test_image_inputs_are_images(mj_split):
    assert isinstance(mj_split.labeled, Inputs) and mj_split.modality == "image"
    assert mj_split.labeled.x.shape[1:] == (1, 32, 100)


# ---- issue 13's options on the image ADDES -----------------------------------------------------


def test_image_per_pixel_loss_is_the_pixel_sum_over_the_pixel_count(mj_split):
    torch.manual_seed(0)
    model = _model(mj_split)
    model.eval()  # z = mu: both calls see the same z
    x = torch.from_numpy(mj_split.labeled.x[:8])
    ys = torch.from_numpy(mj_split.y_s[:8])
    summed = loss_labeled(model, x, ys, 0.1)[0]
    per_pixel = loss_labeled(model, x, ys, 0.1, per_token=True)[0]
    assert torch.isfinite(per_pixel) and per_pixel.abs() < summed.abs()
    torch.testing.assert_close(per_pixel, summed / (32 * 100))
    u = torch.from_numpy(mj_split.unlabeled.x[:8])
    torch.testing.assert_close(loss_unlabeled(model, u, per_token=True),
                               loss_unlabeled(model, u) / (32 * 100))


def test_image_stop_gradient_keeps_q_c_out_of_l_cons(mj_split):
    torch.manual_seed(0)
    model = _model(mj_split)
    gen = torch.Generator().manual_seed(0)
    loss_consistency(model, 4, 0, 1.0, 0, gen, classifier_grad=False).backward()
    assert all(p.grad is None for p in model.classifier_parameters())
    assert model.decoder.project.weight.grad.abs().sum() > 0
    loss_consistency(model, 4, 0, 1.0, 0, gen).backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for p in model.classifier_parameters())


def test_image_independence_constraint_re_encodes_the_decoded_image(mj_split):
    torch.manual_seed(0)
    model = _model(mj_split)
    plain = loss_consistency(model, 4, 0, 1.0, 0, torch.Generator().manual_seed(0))
    with_z = loss_consistency(model, 4, 0, 1.0, 0, torch.Generator().manual_seed(0),
                              independence=1.0)
    assert torch.isfinite(with_z) and with_z > plain
    model.zero_grad(set_to_none=True)
    with_z.backward()
    assert all(p.grad is None for p in model.encoder.parameters())
    assert model.decoder.project.weight.grad.abs().sum() > 0


def test_image_coupled_prior_is_the_word_forest_at_the_rounded_y_s(mj_split):
    q_s = torch.rand(16, mj_split.graph.n_inexact, generator=torch.Generator().manual_seed(0))
    coupled = coupled_target_prior(mj_split.graph, q_s, 0.1)
    forest = mj_split.graph.target_probabilities((q_s > 0.5).numpy()).clip(0.1, 0.9)
    np.testing.assert_allclose(coupled.numpy(), forest, rtol=1e-6)
    model = _model(mj_split)
    y, z = consistency_labels(model, 8, torch.Generator().manual_seed(0), coupled_eps=0.1)
    assert y.shape == (8, len(mj_split.graph.classes)) and z.shape == (8, 4)


def test_image_generator_with_every_option_and_posterior_generation(mj_split):
    config = replace(CONFIG, per_token=True, cons_classifier_grad=False, cons_labels="paired",
                     label_prior="coupled", detach_labels=True)
    gen = ADDESGenerator(config, seed=0).fit(mj_split.labeled, mj_split.y_s,
                                             mj_split.unlabeled, mj_split.graph,
                                             val=(mj_split.val, mj_split.val_y_s))
    y_s, y_t, z = gen.sample_posterior(mj_split.unlabeled, 6, seed=1)
    images = gen.generate(y_s, y_t, seed=2, z=z)
    assert images.x.shape == (6, 1, 32, 100) and np.isfinite(images.x).all()
    again = gen.sample_posterior(mj_split.unlabeled, 6, seed=1)
    np.testing.assert_array_equal(again[2], z)
    y_s, y_t = gen.sample_labels(6, "coupled", seed=1)
    assert y_t.shape == (6, mj_split.graph.n_target)
    report = image_conditioning_report(mj_split, gen, seed=0, n=16)
    assert report["y_t_pixel_change"] > 0 and report["z_pixel_change"] > 0
    assert -1.0 <= report["recon_corr"] <= 1.0 and report["recon_mse"] > 0
    assert len(report["kl_z"]) == config.latent and set(report["q_C_val_AP"]) == {
        "classifier", "generative", "joint"}
    decoder, n_s = gen.model_.decoder, mj_split.graph.n_inexact
    forward = decoder.forward

    def blind(z, y):  # a decoder that ignores y_t: no pixel moves with it
        return forward(z, torch.cat([y[:, :n_s], torch.zeros_like(y[:, n_s:])], dim=1))

    decoder.forward = blind
    assert image_conditioning_report(mj_split, gen, seed=0, n=16)["y_t_pixel_change"] == 0.0


def test_sdann_he_init_keeps_the_signal_through_the_relu_layers():
    """`init="he"`: every conv / linear weight drawn with variance 2 / fan_in, biases 0, so
    features of different images differ at the start; the job param reaches SDANN and the
    features every CNN-based image method uses."""
    from bench.methods import MethodContext, get_method
    from bench.methods.classic import cnn_features

    torch.manual_seed(0)
    he = SDANNFeatures(0.25, init="he")
    for layer in he.modules():
        if isinstance(layer, (torch.nn.Conv2d, torch.nn.Linear)):
            fan_in = layer.weight[0].numel()
            assert layer.weight.var().item() == pytest.approx(2.0 / fan_in, rel=0.2)
            assert not layer.bias.any()
    x = torch.rand(64, 1, 32, 100)
    torch.manual_seed(0)
    default = SDANNFeatures(0.25).eval()
    assert he.eval()(x).std(dim=0).mean() > 10 * default(x).std(dim=0).mean()
    ctx = MethodContext(get_scale("smoke"), 0, "image", 0, TrainConfig(), {"init": "he"})
    assert get_method("SDANN").build(ctx).init == "he"
    features = cnn_features(ctx)(Inputs(x=np.zeros((2, 1, 32, 100), np.float32)))
    assert features.fc[1].bias.abs().sum() == 0
    with pytest.raises(ValueError, match="init"):
        SDANNFeatures(0.25, init="xavier")


def test_reconstruction_agreement_by_hand():
    """Per-image Pearson correlation, pixel MSE, and the flat-grey MSE of each input."""
    x = np.array([[0.0, 1.0, 0.0, 1.0], [0.2, 0.2, 0.6, 0.6]], np.float32).reshape(2, 1, 2, 2)
    same = reconstruction_agreement(x, 0.5 * x + 0.1)  # brightness and contrast changed only
    assert same["recon_corr"] == pytest.approx(1.0, abs=1e-4)
    assert same["recon_mse"] == pytest.approx(np.mean((0.5 * x - 0.1) ** 2), rel=1e-5)
    assert same["flat_grey_mse"] == pytest.approx((0.25 + 0.04) / 2, rel=1e-5)
    flat = reconstruction_agreement(x, np.full_like(x, 0.5))
    assert flat["recon_corr"] == 0.0
    inverted = reconstruction_agreement(x, 1.0 - x)
    assert inverted["recon_corr"] == pytest.approx(-1.0, abs=1e-4)
