"""The ttc depth model: losses, gradients of the two modes, predictions, head, codec spec."""

from __future__ import annotations

import pytest
import torch
from ttc_mmseg_testutils import FRAME, build_tiny_model, fake_batch

from ttc_mmseg.losses import DisparityRMSELoss


def grads(module):
    return [p.grad for p in module.parameters()]


def has_grad(module) -> bool:
    return any(g is not None and g.abs().sum() > 0 for g in grads(module))


def test_loss_terms_and_logged_values():
    model = build_tiny_model()
    model.train()
    losses = model.loss(*fake_batch())
    loss_keys = {k for k in losses if "loss" in k}
    assert loss_keys == {"decode.loss_depth", "loss_rate", "loss_recon"}
    # logged, not optimised: no "loss" in their names
    for key in ("bpp_estimated", "recon_rmse", "psnr_direct"):
        assert key in losses and not losses[key].requires_grad
    assert "bpp" not in losses  # training rates are estimates
    assert all(torch.isfinite(v).all() for v in losses.values())
    # bpp counts the pixels of the full frame: bits / (64 * 128)
    alpha = model.rate_loss.alpha
    assert losses["loss_rate"].item() == pytest.approx(
        alpha * losses["bpp_estimated"].item(), rel=1e-5
    )


def test_bpp_is_per_frame_pixel_a_quarter_of_the_bottleneck_bpp():
    model = build_tiny_model().eval()
    inputs, samples = fake_batch()
    with torch.no_grad():
        _, terms = model.backbone.forward_with_terms(inputs)
    assert tuple(terms.coded_input.shape[-2:]) == (FRAME[0] // 2, FRAME[1] // 2)
    torch.testing.assert_close(terms.bpp_estimated, terms.output.bpp / 4)
    torch.testing.assert_close(terms.bpp_estimated, terms.bits_estimated / (FRAME[0] * FRAME[1]))


@pytest.mark.parametrize("mode", ["baseline", "proposed"])
def test_reconstruction_gradient_reaches_the_encoder_only_in_proposed_mode(mode):
    model = build_tiny_model(mode=mode, beta=0.1 if mode == "proposed" else 0.0)
    model.train()
    losses = model.loss(*fake_batch())
    model.zero_grad(set_to_none=True)
    losses["loss_recon"].backward(retain_graph=True)
    bottleneck = model.backbone.bottleneck
    assert has_grad(bottleneck.reconstruction_synthesis)  # g_a always learns (probe or reward)
    if mode == "baseline":
        assert not has_grad(bottleneck.analysis)
        assert not has_grad(model.backbone.downsample)
    else:
        assert has_grad(bottleneck.analysis)
        assert has_grad(model.backbone.downsample)
    # the task and the rate still train the encoder in both modes
    model.zero_grad(set_to_none=True)
    (losses["decode.loss_depth"] + losses["loss_rate"]).backward()
    assert has_grad(bottleneck.analysis)


def test_baseline_total_loss_gives_the_encoder_no_reconstruction_gradient():
    torch.manual_seed(0)
    model = build_tiny_model(mode="baseline", beta=0.0)
    model.train()
    batch = fake_batch()
    losses = model.loss(*batch)
    model.zero_grad(set_to_none=True)
    sum(v for k, v in losses.items() if "loss" in k).backward()
    with_recon = [g.clone() for g in grads(model.backbone.bottleneck.analysis)]
    model.zero_grad(set_to_none=True)
    losses = model.loss(*batch)
    sum(v for k, v in losses.items() if "loss" in k and k != "loss_recon").backward()
    for a, b in zip(with_recon, grads(model.backbone.bottleneck.analysis), strict=True):
        torch.testing.assert_close(a, b)


def test_predictions_carry_depth_and_per_image_rate():
    model = build_tiny_model().eval()
    inputs, samples = fake_batch()
    with torch.no_grad():
        out = model.predict(inputs, samples)
    assert len(out) == 2
    for s in out:
        assert tuple(s.pred_depth_map.data.shape) == (1, *FRAME)
        assert s.bpp_estimated == pytest.approx(s.bits_estimated / (FRAME[0] * FRAME[1]))
        assert s.bpp_estimated > 0 and 0 < s.psnr_direct < 100
        # no real bitstream was coded: no bits / bpp
        assert "bits" not in s and "bpp" not in s


def test_actual_bits_from_the_real_coder_are_close_to_the_estimate():
    model = build_tiny_model().eval()
    model.test_cfg.actual_bits = True
    inputs, samples = fake_batch(n=1)
    with torch.no_grad():
        out = model.predict(inputs, samples)[0]
    assert out.bits > 0
    assert out.bpp == pytest.approx(out.bits / (FRAME[0] * FRAME[1]))
    # rANS overhead is a few bytes; the estimate is a good predictor
    assert abs(out.bits - out.bits_estimated) < 0.1 * out.bits_estimated + 64


def test_slide_inference_is_refused():
    from mmengine.config import Config
    from mmseg.registry import MODELS
    from ttc_mmseg_testutils import PROPOSED, TINY_BOTTLENECK

    cfg = Config.fromfile(str(PROPOSED))
    cfg.model.backbone.bottleneck.update(TINY_BOTTLENECK)
    cfg.model.test_cfg = dict(mode="slide", crop_size=(32, 32), stride=(16, 16))
    with pytest.raises(ValueError, match="whole"):
        MODELS.build(cfg.model)


def test_head_output_is_upsampled_by_the_learned_layer():
    model = build_tiny_model().eval()
    head = model.decode_head
    assert head.upsample is not None and head.out_channels == 1
    x = torch.randn(1, 1, 8, 16, requires_grad=True)
    y = head.to_frame(x, (33, 65))  # odd sizes: coded size 16×32, output exactly 33×65
    assert tuple(y.shape) == (1, 1, 33, 65)
    y.sum().backward()
    assert head.upsample.conv.weight.grad is not None


def test_disparity_rmse_loss_ignores_invalid_pixels():
    loss = DisparityRMSELoss(scale=128.0)
    target = torch.tensor([[[[0.0, 0.01, 0.02, 0.0]]]])
    pred = torch.tensor([[[[5.0, 0.01 + 1 / 128, 0.02 - 1 / 128, -3.0]]]])
    # errors of 1/128 on the two valid pixels: 1 px of disparity
    assert loss(pred, target).item() == pytest.approx(1.0, rel=1e-5)
    empty = loss(torch.ones(1, 1, 2, 2, requires_grad=True), torch.zeros(1, 1, 2, 2))
    assert empty.item() == pytest.approx(0.0, abs=1e-3)
    empty.backward()


def test_codec_spec_rebuilds_the_same_codec_without_mmseg():
    from ttc_core.codec import ScalableCodec

    model = build_tiny_model().eval()
    spec = model.codec_spec()
    assert spec["base"]["prefix"] == "backbone.bottleneck."
    assert spec["base_downsample"]["prefix"] == "backbone.downsample."
    assert spec["input"]["scale"] == 255.0
    codec = ScalableCodec.from_spec(spec, model.state_dict()).eval()
    x01 = torch.rand(1, 3, *FRAME)
    normalised = (x01 * 255 - codec.mean) / codec.std
    with torch.no_grad():
        torch.testing.assert_close(codec.base_input(x01), model.backbone.coded_input(normalised))
        _, terms = model.backbone.forward_with_terms(normalised)
        pseudo, recon = codec.base.decode(
            codec.base.encode(codec.base_input(x01)), tuple(terms.coded_input.shape[-2:])
        )
    torch.testing.assert_close(pseudo, terms.output.pseudo_image)
    # the reconstruction target is the [0, 1] frame at the coded size
    target = model.backbone.reconstruction_target(terms)
    assert target.shape == recon.shape and 0 <= target.min() and target.max() <= 1


def test_the_preprocessor_attributes_ttc_reads():
    """ttc_mmseg.normalization reads SegDataPreProcessor's private ``_enable_normalize`` (no
    public flag exists) and its public ``channel_conversion``: this fails if mmseg changes
    either, before a codec spec could record a wrong normalisation."""
    from mmseg.models.data_preprocessor import SegDataPreProcessor

    from ttc_mmseg.normalization import input_normalization

    mean, std = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]
    normalising = SegDataPreProcessor(mean=mean, std=std, bgr_to_rgb=True)
    plain = SegDataPreProcessor()
    assert normalising._enable_normalize is True and plain._enable_normalize is False
    assert normalising.channel_conversion is True and plain.channel_conversion is False
    # and what mmseg does with them is what ttc records
    frame = torch.full((3, 2, 2), 200, dtype=torch.uint8)
    frame[0] = 10  # channel 0 (B of a BGR frame) differs
    out = normalising(dict(inputs=[frame]), False)["inputs"][0]
    got_mean, got_std, order = input_normalization(normalising)
    assert order == "RGB" and got_mean == pytest.approx(mean) and got_std == pytest.approx(std)
    expected = (frame[[2, 1, 0]].float() - torch.tensor(mean).view(3, 1, 1)) / torch.tensor(
        std
    ).view(3, 1, 1)
    torch.testing.assert_close(out, expected)
    assert input_normalization(plain) == ([0.0, 0.0, 0.0], [1.0, 1.0, 1.0], "BGR")
    assert input_normalization(None) == ([0.0, 0.0, 0.0], [1.0, 1.0, 1.0], "RGB")
    with pytest.raises(TypeError, match="SegDataPreProcessor"):
        input_normalization(torch.nn.Identity())
