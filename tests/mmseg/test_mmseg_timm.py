"""timm task networks behind the bottleneck (issue 15), MMSegmentation side.

mmseg's own ``TIMMBackbone`` as the depth base's task network inside ``TTCBackbone`` and as the
segmentation enhancement's backbone, trained a few iterations by MMEngine's Runner; weights by
local file only; every shipped timm config builds.
"""

from __future__ import annotations

import pytest
import torch
from ttc_mmseg_testutils import (
    DEPTH_DIR,
    ENH_DIR,
    shipped_configs,
    tiny_config,
    tiny_enhancement_config,
)

import ttc_mmseg  # noqa: F401

DEPTH_TIMM = DEPTH_DIR / (
    "ttc-proposed_lraspp_timm-mobilenetv3-large-d8_1xb10-100e_cityscapes-disparity-1024x2048.py"
)
SEG_TIMM = (
    ENH_DIR / "ttc-enh-proposed_deeplabv3_timm-resnet50-d8_1xb10-100e_cityscapes-seg-1024x2048.py"
)
TIMM_CONFIGS = [p for p in shipped_configs() if "timm" in p.name]


def _train(cfg):
    from mmengine.runner import Runner

    runner = Runner.from_cfg(cfg)
    before = {k: v.clone() for k, v in runner.model.state_dict().items()}
    runner.train()
    after = runner.model.state_dict()
    return runner, before, after


def _changed(before, after, prefix):
    keys = [k for k in after if k.startswith(prefix)]
    assert keys, f"no parameters under {prefix}"
    return [k for k in keys if not torch.equal(before[k], after[k])]


def test_the_shipped_timm_configs_are_named_and_found():
    assert {p.name for p in TIMM_CONFIGS} >= {DEPTH_TIMM.name, SEG_TIMM.name}
    assert len(TIMM_CONFIGS) == 4  # Proposed and Baseline of each


@pytest.mark.parametrize("path", TIMM_CONFIGS, ids=lambda p: p.name)
def test_every_shipped_timm_config_builds(path, depth_base):
    from mmengine.config import Config
    from mmseg.registry import MODELS

    cfg = Config.fromfile(str(path))
    if "base" in cfg.model:
        cfg.model.base.checkpoint = str(depth_base / "epoch_50.pth")
    model = MODELS.build(cfg.model)
    timm_net = model.backbone.backbone if "base" not in cfg.model else model.backbone
    assert type(timm_net).__name__ == "TIMMBackbone"
    x = torch.zeros(1, 3, 64, 128)
    channels = [f.shape[1] for f in timm_net(x)]
    head = model.decode_head
    wanted = head.in_channels if isinstance(head.in_channels, (list, tuple)) else [head.in_channels]
    assert [
        channels[i] for i in ([head.in_index] if isinstance(head.in_index, int) else head.in_index)
    ] == list(wanted)


def test_depth_base_trains_with_timm_mobilenetv3(cityscapes_root, tmp_path):
    cfg = tiny_config(DEPTH_TIMM, cityscapes_root, tmp_path, max_epochs=1)
    cfg.visualizer.name = "visualizer_timm_depth"
    runner, before, after = _train(cfg)
    assert _changed(before, after, "backbone.backbone.timm_model.")
    assert _changed(before, after, "backbone.bottleneck.analysis.")
    assert torch.isfinite(torch.tensor(runner.message_hub.get_scalar("train/loss").current()))


def test_segmentation_enhancement_trains_with_a_timm_resnet(cityscapes_root, depth_base, tmp_path):
    from mmengine.config import ConfigDict

    cfg = tiny_enhancement_config(SEG_TIMM, cityscapes_root, tmp_path, depth_base / "epoch_50.pth")
    # a small timm ResNet in place of the shipped ResNet-50 (channels 64 … 512)
    cfg.model.backbone = ConfigDict(
        type="TIMMBackbone",
        model_name="resnet18",
        features_only=True,
        out_indices=(1, 2, 3, 4),
        output_stride=8,
        pretrained=False,
    )
    cfg.model.decode_head.in_channels = 512
    cfg.model.auxiliary_head.in_channels = 256
    cfg.train_cfg.max_epochs = 1
    runner, before, after = _train(cfg)
    assert _changed(before, after, "backbone.timm_model.")
    assert _changed(before, after, "enhancement.analysis.")


def test_timm_weights_come_from_a_local_file(tmp_path):
    import timm
    from mmengine.config import Config
    from mmseg.registry import MODELS

    torch.manual_seed(5)
    saved = timm.create_model("mobilenetv3_large_100").state_dict()
    path = tmp_path / "mobilenetv3_large_100.pth"
    torch.save(saved, path)
    cfg = Config.fromfile(str(DEPTH_TIMM))
    inner = cfg.model.backbone.backbone
    inner.pretrained = True
    inner.pretrained_cfg_overlay = dict(file=str(path))
    model = MODELS.build(cfg.model)
    model.init_weights()  # TIMMBackbone keeps what timm loaded
    loaded = model.backbone.backbone.timm_model.state_dict()
    common = [k for k in loaded if k in saved]
    assert len(common) > 0.9 * len(loaded)
    assert all(torch.equal(loaded[k], saved[k]) for k in common)
    inner.pretrained_cfg_overlay = dict(file=str(tmp_path / "missing.pth"))
    with pytest.raises(
        FileNotFoundError, match=r"model\.backbone\.backbone\.pretrained_cfg.*missing\.pth"
    ):
        MODELS.build(cfg.model)
    del inner["pretrained_cfg_overlay"]  # pretrained=True and no file: a hub download
    with pytest.raises(ValueError, match="never"):
        MODELS.build(cfg.model)


def test_a_checkpoint_spec_rebuilds_timm_without_weights():
    from ttc_mmseg.weights import without_weights

    cfg = dict(
        type="TIMMBackbone",
        model_name="resnet50",
        pretrained=True,
        pretrained_cfg_overlay=dict(file="/somewhere/resnet50.pth"),
    )
    assert without_weights(cfg) == dict(
        type="TIMMBackbone", model_name="resnet50", pretrained=False
    )
