"""Every shipped MMSeg config loads and builds; configs without the plugin import are refused;
the β in force is the β shown."""

from __future__ import annotations

import pytest
from ttc_mmseg_testutils import BASELINE, PROPOSED, TINY_BOTTLENECK, shipped_configs

from tests.config_pairs import changed_keys, proposed_counterpart
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
    train = cfg.train_dataloader.dataset
    assert train.type == "TTCSelectionSplit" and train.part == "fit"
    assert cfg.val_dataloader.dataset.part == "selection"
    assert cfg.test_dataloader.dataset.data_prefix.img_path == "leftImg8bit/val"
    types = [t["type"] for t in train.dataset.pipeline]
    assert types.index("LoadCityscapesDisparity") < types.index("RandomFlip")
    assert "TTCColorJitter" in types and "RandomCrop" not in types and "RandomResize" not in types
    model = MODELS.build(cfg.model)
    assert type(model).__name__ == "TTCDepthEstimator"
    assert model.backbone.bottleneck_kwargs["latent_channels"] == 192
    assert model.recon_loss.mode == cfg.model.codec_loss.mode


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
    from ttc_mmseg_testutils import split_datasets

    for key in ("train_dataloader", "val_dataloader", "test_dataloader"):
        for dataset in split_datasets(cfg[key]):
            assert dataset.data_root == f"{tmp_path}/"
    monkeypatch.delenv("CITYSCAPES_ROOT")
    cfg = Config.fromfile(str(PROPOSED))
    assert cfg.train_dataloader.dataset.dataset.data_root == "data/cityscapes/"


# -- the β in force is the β shown ------------------------------------------------------------
def test_every_baseline_config_says_beta_zero():
    from mmengine.config import Config

    baselines = []
    for path in shipped_configs():
        cfg = Config.fromfile(str(path))
        codec_loss = cfg.model.get("codec_loss") or {}
        if codec_loss.get("mode") == "baseline":
            baselines.append(path.name)
            assert codec_loss.beta == 0.0, path.name
        elif "baseline" in path.name and cfg.model.type == "TTCDepthEstimator":
            raise AssertionError(f"{path.name} is named a Baseline but is in mode {codec_loss}")
    # the reference Baseline and the demo's
    assert BASELINE.name in baselines and len(baselines) >= 2, baselines


#: what a Baseline config may change of its Proposed counterpart: the codec loss of the base
#: (β = 0, the probe) or, for an enhancement, which base it is trained on
_BASELINE_MAY_CHANGE = {
    "model.codec_loss.beta",
    "model.codec_loss.mode",
    "model.codec_loss.probe_weight",
    "model.base.checkpoint",
    "work_dir",
}


@pytest.mark.parametrize(
    "path", [p for p in shipped_configs() if "baseline" in p.name], ids=lambda p: p.name
)
def test_a_baseline_config_trains_as_its_proposed_counterpart(path):
    """Fair by construction: data, schedule, architecture, optimiser and seed are the
    Proposed config's; only the objective (or the base it sits on) differs."""
    from mmengine.config import Config

    proposed = proposed_counterpart(path)
    changed = changed_keys(*(Config.fromfile(str(p)).to_dict() for p in (path, proposed)))
    assert changed <= _BASELINE_MAY_CHANGE, sorted(changed - _BASELINE_MAY_CHANGE)


def test_a_baseline_that_inherits_a_nonzero_beta_is_refused_at_build(tmp_path):
    """A child of the Proposed config switched to mode='baseline' inherits β = 0.1: the model
    refuses to build instead of silently training with β = 0."""
    from mmengine.config import Config
    from mmseg.registry import MODELS

    child = tmp_path / "my-baseline.py"
    child.write_text(
        f"_base_ = [{str(PROPOSED)!r}]\n"
        f"model = dict(backbone=dict(bottleneck={TINY_BOTTLENECK!r}), "
        "codec_loss=dict(mode='baseline'))\n"
    )
    cfg = Config.fromfile(str(child))
    assert cfg.model.codec_loss.beta == 0.1
    with pytest.raises(ValueError, match=r"mode='baseline', beta=0\.0") as info:
        MODELS.build(cfg.model)
    assert "0.1" in str(info.value)
    # with β = 0 it builds, and the probe is g_a
    cfg.model.codec_loss.beta = 0.0
    model = MODELS.build(cfg.model)
    probe = {id(p) for p in model.probe_parameters()}
    g_a = model.backbone.bottleneck.reconstruction_synthesis
    assert probe == {id(p) for p in g_a.parameters()} and probe


def test_the_proposed_model_has_no_probe():
    from ttc_mmseg_testutils import build_tiny_model

    assert build_tiny_model().probe_parameters() == []


def test_ttc_registers_no_name_of_the_parent_registries():
    """Every name ttc_mmseg registers is new to MMEngine's root registries (where mmcv and
    other OpenMMLab packages register): in mmseg's scope a child entry silently wins, as a
    generic ``ColorJitter`` would over another package's."""
    import mmcv.transforms  # noqa: F401  (mmcv's transforms register into MMEngine's root)
    from mmseg import registry

    names = {}
    for registry_name in (
        "MODELS",
        "TRANSFORMS",
        "DATASETS",
        "METRICS",
        "HOOKS",
        "OPTIM_WRAPPERS",
        "OPTIM_WRAPPER_CONSTRUCTORS",
    ):
        reg = getattr(registry, registry_name)
        ours = [n for n, c in reg.module_dict.items() if c.__module__.startswith("ttc_mmseg.")]
        names[registry_name] = ours
        shadowed = [n for n in ours if n in reg.parent.module_dict]
        assert not shadowed, f"{registry_name}: {shadowed} shadow names of {reg.parent.scope}"
    assert "TTCColorJitter" in names["TRANSFORMS"] and "ColorJitter" not in names["TRANSFORMS"]
    assert {"RateMetric", "DisparityRMSEMetric"} <= set(names["METRICS"])
    assert "TTCReconstructionEnhancement" in names["MODELS"]
