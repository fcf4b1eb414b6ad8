"""Every shipped MMSeg config loads and builds; configs without the plugin import are refused."""

from __future__ import annotations

import pytest
from ttc_mmseg_testutils import BASELINE, PROPOSED, shipped_configs

from ttc_mmseg.launch import TTCConfigError, check_config

CONFIGS = shipped_configs("ttc_depth")  # the enhancement configs: test_mmseg_enhancement.py


def test_the_reference_configs_ship():
    names = {p.name for p in CONFIGS}
    assert PROPOSED.name in names and BASELINE.name in names


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_config_loads_and_builds_its_model(path):
    from mmengine.config import Config
    from mmseg.registry import MODELS

    cfg = Config.fromfile(str(path))
    assert "ttc_mmseg" in cfg.custom_imports["imports"]
    check_config(cfg, str(path))
    # reference settings
    assert cfg.optim_wrapper.optimizer.type == "Adam" and cfg.optim_wrapper.optimizer.lr == 1e-4
    assert cfg.train_dataloader.batch_size == 10
    assert cfg.model.data_preprocessor.seg_pad_val == 0
    assert cfg.model.test_cfg.mode == "whole"
    types = [t["type"] for t in cfg.train_dataloader.dataset.pipeline]
    assert types.index("LoadCityscapesDisparity") < types.index("RandomFlip")
    assert "ColorJitter" in types and "RandomCrop" not in types and "RandomResize" not in types
    model = MODELS.build(cfg.model)
    assert type(model).__name__ == "TTCDepthEstimator"
    assert model.backbone.bottleneck_kwargs["latent_channels"] == 192
    assert model.recon_reward.mode == cfg.model.codec_loss.mode


def test_modes_of_the_two_reference_configs():
    from mmengine.config import Config

    assert Config.fromfile(str(PROPOSED)).model.codec_loss.mode == "proposed"
    base = Config.fromfile(str(BASELINE)).model.codec_loss
    assert base.mode == "baseline" and base.beta == 0.0


def test_config_without_custom_imports_says_how_to_fix_it(tmp_path):
    from mmengine.config import Config

    cfg = Config.fromfile(str(PROPOSED))
    cfg.custom_imports = dict(imports=[])
    with pytest.raises(TTCConfigError, match=r"custom_imports = dict\(imports=\['ttc_mmseg'\]"):
        check_config(cfg, "my_config.py")
    # the message names the types that need the plugin
    with pytest.raises(TTCConfigError, match="TTCDepthEstimator"):
        check_config(cfg)


def test_unrelated_config_passes_the_check():
    from mmengine.config import Config

    check_config(Config(dict(model=dict(type="EncoderDecoder"))))


def test_data_root_comes_from_the_environment(monkeypatch, tmp_path):
    from mmengine.config import Config

    monkeypatch.setenv("CITYSCAPES_ROOT", str(tmp_path))
    cfg = Config.fromfile(str(PROPOSED))
    for key in ("train_dataloader", "val_dataloader", "test_dataloader"):
        assert cfg[key].dataset.data_root == f"{tmp_path}/"
    monkeypatch.delenv("CITYSCAPES_ROOT")
    assert Config.fromfile(str(PROPOSED)).train_dataloader.dataset.data_root == "data/cityscapes/"
