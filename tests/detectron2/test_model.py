"""The backbone and meta-architecture, in-process on tiny inputs."""

from __future__ import annotations

import pytest
import torch

from .conftest import tiny_cfg


def _model(mode="proposed", *opts):
    from detectron2.modeling import build_model

    torch.manual_seed(0)
    return build_model(tiny_cfg(*opts, mode=mode))


def _batch(sizes=((64, 96), (64, 80)), with_boxes=True, seed=0):
    """Detector inputs: uint8-valued BGR images (C, H, W) and a box each."""
    from detectron2.structures import Boxes, Instances

    g = torch.Generator().manual_seed(seed)
    batch = []
    for h, w in sizes:
        # smooth content: a gradient plus a bright rectangle (the "object")
        yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
        img = torch.stack([60 + 120 * yy, 80 + 100 * xx, 100 + 50 * (xx + yy) / 2])
        img += 5 * torch.rand(3, h, w, generator=g)
        img[:, h // 4 : h // 2, w // 4 : w // 2] = 230
        item = {"image": img.round().clamp(0, 255), "height": h, "width": w}
        if with_boxes:
            inst = Instances((h, w))
            inst.gt_boxes = Boxes(torch.tensor([[w / 4, h / 4, w / 2, h / 2]]))
            inst.gt_classes = torch.tensor([2])
            item["instances"] = inst
        batch.append(item)
    return batch


def _train_losses(model, batch):
    from detectron2.utils.events import EventStorage

    model.train()
    with EventStorage() as storage:
        losses = model(batch)
        scalars = {k: v[0] for k, v in storage.latest().items()}
    return losses, scalars


def test_backbone_honours_the_contract():
    from detectron2.modeling import build_backbone

    cfg = tiny_cfg()
    backbone = build_backbone(cfg)
    inner = backbone.inner
    assert backbone.size_divisibility == inner.size_divisibility == 32
    assert backbone.padding_constraints == inner.padding_constraints
    assert backbone.output_shape() == inner.output_shape()
    x = torch.randn(2, 3, 64, 96)
    feats = backbone(x)
    assert list(feats) == list(inner.output_shape())  # exactly the FPN's features, nothing else
    for name, spec in backbone.output_shape().items():
        assert feats[name].shape[:2] == (2, spec.channels)
        assert feats[name].shape[-1] == -(-96 // spec.stride)
    _, terms = backbone.forward_with_terms(x)
    assert terms.bpp_estimated.shape == (2,)


def test_training_adds_rate_and_recon_losses_and_logs_bpp_psnr():
    model = _model()
    losses, scalars = _train_losses(model, _batch())
    assert {"loss_rate", "loss_recon", "loss_cls", "loss_box_reg", "loss_rpn_cls"} <= set(losses)
    assert all(v.dim() == 0 and torch.isfinite(v) for v in losses.values())
    # only losses in the dict; the estimated bpp and the PSNR are logged
    assert not {"bpp", "bpp_estimated", "psnr_direct"} & set(losses)
    assert {"bottleneck/bpp_estimated", "bottleneck/psnr_direct", "bottleneck/recon_rmse"} <= set(
        scalars
    )
    assert not any(k.endswith("/bpp") for k in scalars)  # training rates are estimates
    alpha = model.rate_loss.alpha
    assert losses["loss_rate"].item() == pytest.approx(
        alpha * scalars["bottleneck/bpp_estimated"], rel=1e-5
    )
    assert not hasattr(model.backbone, "terms")  # nothing kept: no graph kept alive


def _grads(module):
    return [p.grad for p in module.parameters() if p.requires_grad]


@pytest.mark.parametrize("mode", ["baseline", "proposed"])
def test_recon_gradient_reaches_the_encoder_only_in_proposed_mode(mode):
    model = _model(mode)
    losses, _ = _train_losses(model, _batch())
    model.zero_grad(set_to_none=True)
    losses["loss_recon"].backward()
    bottleneck = model.backbone.bottleneck
    analysis = _grads(bottleneck.analysis)
    probe = _grads(bottleneck.reconstruction_synthesis)
    assert any(g is not None and g.abs().sum() > 0 for g in probe)  # g_a is always trained
    if mode == "baseline":
        assert all(g is None or torch.count_nonzero(g) == 0 for g in analysis)
    else:
        assert any(g is not None and g.abs().sum() > 0 for g in analysis)
    # the detector's loss does train the encoder in both modes
    model.zero_grad(set_to_none=True)
    losses, _ = _train_losses(model, _batch())
    (losses["loss_cls"] + losses["loss_rate"]).backward()
    assert any(g is not None and g.abs().sum() > 0 for g in _grads(bottleneck.analysis))


def test_each_image_is_coded_at_its_own_size():
    """An image's bits do not depend on the batch padding or its batch mates."""
    model = _model().eval()
    small = _batch(sizes=((64, 80),))
    mixed = _batch(sizes=((64, 96),), seed=1) + small
    with torch.no_grad():
        alone = model(small)[0]["ttc"]
        together = model(mixed)[1]["ttc"]
    assert together["num_pixels"] == alone["num_pixels"] == 64 * 80
    assert together["bits_estimated"] == pytest.approx(alone["bits_estimated"], rel=1e-4)
    assert together["bits"] == alone["bits"]  # actual bits of the real streams


def test_inference_attaches_bpp_psnr_and_actual_bits():
    model = _model().eval()
    with torch.no_grad():
        outputs = model(_batch(with_boxes=False))
    for out, (h, w) in zip(outputs, ((64, 96), (64, 80)), strict=True):
        assert "instances" in out and "bpp" not in out  # the output dict holds no estimate
        info = out["ttc"]
        assert info["bpp_estimated"] == pytest.approx(info["bits_estimated"] / (h * w))
        assert info["num_pixels"] == h * w
        # real rANS bitstreams (TEST_ACTUAL_BITS in the tiny config): bits / bpp are actual
        assert info["bits"] > 0 and info["bits"] % 8 == 0
        assert info["bpp"] == pytest.approx(info["bits"] / (h * w))
        assert info["bits"] != info["bits_estimated"]
        assert 0 < info["psnr_direct"] < 100


def test_without_real_bits_no_bpp_key_carries_an_estimate():
    model = _model("proposed", "MODEL.TTC.TEST_ACTUAL_BITS", False).eval()
    with torch.no_grad():
        outputs = model(_batch(with_boxes=False))
    for out in outputs:
        assert "bpp" not in out
        assert {"bits_estimated", "bpp_estimated", "num_pixels", "psnr_direct"} == set(out["ttc"])


def test_codec_spec_travels_in_state_dict_and_checkpoints(tmp_path):
    from ttc_core.checkpoint import find_codec_spec
    from ttc_core.codec import ScalableCodec
    from ttc_detectron2 import TTCCheckpointer
    from ttc_detectron2.backbone import codec_spec_from_state_dict

    model = _model()
    spec = model.backbone.codec_spec()
    assert codec_spec_from_state_dict(model.state_dict()) == spec
    TTCCheckpointer(model, str(tmp_path)).save("model_x")
    ckpt = torch.load(tmp_path / "model_x.pth", weights_only=True)
    assert ckpt["ttc_codec"] == spec and find_codec_spec(ckpt) == spec
    # ttc-core rebuilds the codec from the checkpoint, without Detectron2
    codec = ScalableCodec.from_checkpoint(tmp_path / "model_x.pth")
    ref = model.backbone.bottleneck.state_dict()
    for key, value in codec.base.state_dict().items():
        torch.testing.assert_close(value, ref[key])
    # ...and its stream has the bits the model reports as actual
    model.eval()
    batch = _batch(sizes=((64, 80),), with_boxes=False)
    with torch.no_grad():
        info = model(batch)[0]["ttc"]
        x01 = model.backbone.to_unit_rgb(
            (batch[0]["image"][None] - model.pixel_mean) / model.pixel_std
        )
        codec.update()
        data = codec.compress(x01)
    from ttc_core import bitstream

    header = bitstream.unpack(data)
    assert 8 * len(header.layers["base"].string) == info["bits"]
    decoded = codec.decompress(data)
    assert decoded.reconstruction.shape[-2:] == (64, 80)


def test_plain_detector_weights_load_into_the_inner_backbone(tmp_path):
    """MODEL.WEIGHTS of a stock Faster R-CNN fills backbone.inner.* (and the heads)."""
    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.modeling import build_model

    cfg = tiny_cfg(
        "MODEL.META_ARCHITECTURE",
        "GeneralizedRCNN",
        "MODEL.BACKBONE.NAME",
        "build_resnet_fpn_backbone",
    )
    torch.manual_seed(1)
    plain = build_model(cfg)
    torch.save({"model": plain.state_dict()}, tmp_path / "plain.pth")
    model = _model()
    DetectionCheckpointer(model).load(str(tmp_path / "plain.pth"))
    ours = model.state_dict()
    for key, value in plain.state_dict().items():
        target = (
            key.replace("backbone.", "backbone.inner.", 1) if key.startswith("backbone.") else key
        )
        torch.testing.assert_close(ours[target], value, msg=key)


def test_meta_arch_requires_the_ttc_backbone():
    from detectron2.modeling import build_model

    from ttc_detectron2 import TTCConfigError

    with pytest.raises(TTCConfigError, match="build_ttc_backbone"):
        build_model(tiny_cfg("MODEL.BACKBONE.NAME", "build_resnet_fpn_backbone"))


def test_adam_with_global_clipping():
    from ttc_detectron2.solver import build_optimizer

    model = _model()
    cfg = tiny_cfg("SOLVER.OPTIMIZER", "ADAM", "SOLVER.CLIP_GRADIENTS.CLIP_VALUE", 0.5)
    opt = build_optimizer(cfg, model)
    assert isinstance(opt, torch.optim.Adam) and "GlobalGradClip" in type(opt).__name__
    losses, _ = _train_losses(model, _batch())
    sum(losses.values()).backward()
    params = [p for p in model.parameters() if p.grad is not None]
    before = [p.detach().clone() for p in params]
    opt.step()
    total = torch.linalg.vector_norm(
        torch.stack([torch.linalg.vector_norm(p.grad) for p in params])
    )
    assert total <= 0.5 + 1e-4  # clipped in place before the update
    assert any(not torch.equal(b, p) for b, p in zip(before, params, strict=True))


def test_codec_stays_float32_under_mixed_precision():
    from detectron2.modeling import build_backbone

    torch.manual_seed(0)
    backbone = build_backbone(tiny_cfg()).eval()
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        _, ref = backbone.forward_with_terms(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            feats, terms = backbone.forward_with_terms(x)
    assert terms.bits_estimated.dtype == torch.float32
    torch.testing.assert_close(terms.bits_estimated, ref.bits_estimated)
    assert next(iter(feats.values())).dtype == torch.bfloat16  # the detector itself does use AMP
