"""No module keeps a batch's codec terms between calls (issue 13).

The codec's quantities of a batch travel as return values
(``TTCBackbone.forward_with_terms`` → ``TTCGeneralizedRCNN``), so training forwards, inference
and Detectron2's test-time augmentation (``GeneralizedRCNNWithTTA``, which calls
``inference(..., do_postprocess=False)``) can follow each other in any order.
"""

from __future__ import annotations

import torch

from .conftest import tiny_cfg
from .test_model import _batch


def _instance_state(model: torch.nn.Module) -> dict[str, dict[str, object]]:
    """Every module's plain attributes (not parameters, buffers or submodules), by identity
    for tensors and containers, by value otherwise; ``training`` is left out (the caller's
    ``train()`` / ``eval()`` sets it)."""
    state = {}
    for name, module in model.named_modules():
        attrs = {}
        for attr, value in vars(module).items():
            if attr in ("_parameters", "_buffers", "_modules", "training"):
                continue
            if isinstance(value, (torch.Tensor, list, dict, tuple)):
                attrs[attr] = ("id", id(value))
            elif isinstance(value, (bool, int, float, str, type(None))):
                attrs[attr] = ("value", value)
            else:
                attrs[attr] = ("type", type(value).__name__)
        state[name] = attrs
    return state


def _terms_held(model: torch.nn.Module) -> list[str]:
    from ttc_detectron2 import CodecTerms

    return [
        f"{name or 'model'}.{attr}"
        for name, module in model.named_modules()
        for attr, value in vars(module).items()
        if isinstance(value, CodecTerms)
    ]


def _uint8(batch):
    # the TTA mapper resizes numpy images: give it what a DatasetMapper gives (uint8 CHW)
    for item in batch:
        item["image"] = item["image"].to(torch.uint8)
    return batch


def _same_outputs(a, b) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x["ttc"] == y["ttc"]
        ia, ib = x["instances"], y["instances"]
        assert len(ia) == len(ib)
        assert torch.equal(ia.pred_boxes.tensor, ib.pred_boxes.tensor)
        assert torch.equal(ia.scores, ib.scores)


def test_training_tta_and_inference_back_to_back_leave_nothing_behind():
    from detectron2.modeling import GeneralizedRCNNWithTTA, build_model
    from detectron2.utils.events import EventStorage

    cfg = tiny_cfg(
        "TEST.AUG.ENABLED",
        True,
        "TEST.AUG.MIN_SIZES",
        (64, 80),
        "TEST.AUG.MAX_SIZE",
        160,
        "TEST.AUG.FLIP",
        True,
    )
    torch.manual_seed(0)
    model = build_model(cfg)
    before = _instance_state(model)

    model.train()
    with EventStorage():
        for seed in (0, 1):  # two training forwards, back to back
            losses = model(_batch(seed=seed))
            assert {"loss_rate", "loss_recon"} <= set(losses)
            sum(losses.values()).backward()
    assert _terms_held(model) == []

    model.eval()
    inputs = _uint8(_batch(with_boxes=False, seed=2))
    with torch.no_grad():
        first = model(inputs)
        tta = GeneralizedRCNNWithTTA(cfg, model, batch_size=2)
        augmented = tta(_uint8(_batch(with_boxes=False, seed=2)))
        again = model(inputs)

    # TTA ran inference(..., do_postprocess=False) on 2 sizes × (plain, flipped) per image
    assert len(augmented) == len(inputs)
    for out, item in zip(augmented, inputs, strict=True):
        inst = out["instances"]
        assert len(inst) > 0 and inst.image_size == (item["height"], item["width"])
        assert "ttc" not in out  # the merged TTA result: boxes only, as Detectron2 gives them
    # a repeated inference is identical, whatever ran in between
    for out in first:
        assert {"bits_estimated", "bpp_estimated", "bits", "bpp", "psnr_direct"} <= set(out["ttc"])
    _same_outputs(first, again)
    # no module gained or swapped an attribute, none holds a batch's terms
    assert _terms_held(model) == []
    assert _instance_state(model) == before


def test_the_backbone_is_reentrant():
    """Each call returns its own terms; a later call changes nothing of an earlier one's."""
    from detectron2.modeling import build_backbone

    torch.manual_seed(0)
    backbone = build_backbone(tiny_cfg()).eval()
    x, y = torch.randn(2, 3, 64, 96), torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        _, terms_x = backbone.forward_with_terms(x, [(64, 96), (48, 80)])
        kept = terms_x.bits_estimated.clone()
        _, terms_y = backbone.forward_with_terms(y)
        _, alone = backbone.forward_with_terms(x[1:], [(48, 80)])
    assert terms_x.image_sizes == [(64, 96), (48, 80)] and terms_y.image_sizes == [(64, 96)]
    assert torch.equal(terms_x.bits_estimated, kept)
    # the second image of x was coded at its own size, as without its batch mate
    torch.testing.assert_close(terms_x.bits_estimated[1], alone.bits_estimated[0])
