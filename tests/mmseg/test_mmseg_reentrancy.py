"""No state between calls: the segmentors pass the codec's terms along and keep none.

Each model runs two ``loss`` calls, then ``predict`` / tensor mode / ``extract_feat`` /
``encode_decode`` back to back on two batches; after every call no module may hold a
``CodecTerms`` / ``ScalableTerms`` (or any ``*terms*`` attribute), and a batch predicted again
after another batch gives the same result as the first time.
"""

from __future__ import annotations

import copy

import pytest
import torch
from ttc_mmseg_testutils import (
    REC_PROPOSED,
    SEG_PROPOSED,
    TINY_ASPP,
    TINY_BOTTLENECK,
    TINY_ENHANCEMENT,
    TINY_FCN,
    TINY_RESNET,
    build_tiny_model,
    fake_batch,
)

RATE_KEYS = (
    "bits_estimated",
    "bpp_estimated",
    "psnr_direct",
    "psnr_scalable",
    "bpp_base_estimated",
)


def terms_held(model: torch.nn.Module) -> list[str]:
    """Attributes of any submodule that hold a pass's terms (or are named after them)."""
    from ttc_mmseg.backbone import CodecTerms
    from ttc_mmseg.enhancement import ScalableTerms

    held = []
    for name, module in model.named_modules():
        for key, value in vars(module).items():
            if isinstance(value, (CodecTerms, ScalableTerms)) or "terms" in key:
                held.append(f"{name or type(model).__name__}.{key}")
    return held


def build_enhancement(path):
    """A shipped enhancement config with the tests' tiny layers, on an untrained base built
    from its constructor arguments (no checkpoint needed to check what is kept)."""
    from mmengine.config import Config
    from mmseg.registry import MODELS

    cfg = Config.fromfile(str(path))
    cfg.model.base = dict(bottleneck=TINY_BOTTLENECK, downsample=dict(factor=2))
    cfg.model.enhancement.update(TINY_ENHANCEMENT)
    if cfg.model.type == "TTCEnhancementSegmentor":
        cfg.model.backbone.update(TINY_RESNET)
        cfg.model.decode_head.update(TINY_ASPP)
        cfg.model.auxiliary_head.update(TINY_FCN)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model


def seg_batch(seed: int):
    """Normalised frames and SegDataSamples with a random 19-class label map."""
    from mmengine.structures import PixelData

    inputs, samples = fake_batch(seed=seed)
    g = torch.Generator().manual_seed(seed)
    for sample in samples:
        h, w = sample.metainfo["img_shape"]
        sample.gt_sem_seg = PixelData(data=torch.randint(0, 19, (1, h, w), generator=g))
    return inputs, samples


MODELS_UNDER_TEST = {
    "depth": (lambda: build_tiny_model(), fake_batch),
    "segmentation-enhancement": (lambda: build_enhancement(SEG_PROPOSED), seg_batch),
    "reconstruction-enhancement": (lambda: build_enhancement(REC_PROPOSED), fake_batch),
}


def prediction(sample) -> dict:
    """What a prediction carries: its pixel data and the per-image rate results."""
    out = {key: sample.metainfo[key] for key in RATE_KEYS if key in sample.metainfo}
    for field in ("pred_depth_map", "seg_logits", "pred_sem_seg", "pred_reconstruction"):
        if field in sample:
            out[field] = sample.get(field).data.clone()
    return out


def assert_same(a: list[dict], b: list[dict]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x.keys() == y.keys()
        for key in x:
            if isinstance(x[key], torch.Tensor):
                torch.testing.assert_close(x[key], y[key], rtol=0, atol=0)
            else:
                assert x[key] == y[key], key


@pytest.mark.parametrize("kind", list(MODELS_UNDER_TEST))
def test_back_to_back_calls_keep_nothing_and_repeat_exactly(kind):
    from ttc_mmseg.segmentors import batch_img_metas

    build, make_batch = MODELS_UNDER_TEST[kind]
    torch.manual_seed(0)
    model = build()
    # large inputs: an untrained analysis transform gives |y| < 0.5 on unit-variance frames,
    # so every latent would round to zero and both batches would have the same rate
    batch_a, batch_b = ((30 * x, s) for x, s in (make_batch(seed=0), make_batch(seed=1)))
    assert terms_held(model) == []

    model.train()
    for inputs, samples in (batch_a, batch_b):
        losses = model.loss(inputs, copy.deepcopy(samples))
        assert "loss_rate" in losses
        assert terms_held(model) == [], "loss left terms behind"

    model.eval()
    with torch.no_grad():
        inputs_a, samples_a = batch_a
        inputs_b, samples_b = batch_b
        first = [prediction(s) for s in model.predict(inputs_a, copy.deepcopy(samples_a))]
        assert terms_held(model) == [], "predict left terms behind"
        tensor_a = model(inputs_a, mode="tensor")  # BaseModel → _forward
        assert terms_held(model) == [], "tensor mode left terms behind"
        other = [prediction(s) for s in model.predict(inputs_b, copy.deepcopy(samples_b))]
        model.extract_feat(inputs_b)
        model.encode_decode(inputs_b, batch_img_metas(inputs_b, samples_b))
        assert terms_held(model) == [], "extract_feat / encode_decode left terms behind"
        again = [prediction(s) for s in model.predict(inputs_a, copy.deepcopy(samples_a))]
        tensor_again = model(inputs_a, mode="tensor")
    assert terms_held(model) == []
    assert_same(first, again)
    torch.testing.assert_close(tensor_a, tensor_again, rtol=0, atol=0)
    # the other batch's rates are its own: a stale pass would have repeated them
    assert first[0]["bpp_estimated"] != other[0]["bpp_estimated"]
