"""MODEL.TTC: defaults with comments, validation, clear set-up errors, shipped configs."""

from __future__ import annotations

import inspect
import re

import pytest
import torch

from ..config_pairs import changed_keys, proposed_counterpart
from .conftest import CONFIGS, TINY_YAML, tiny_cfg


def _fresh_cfg():
    from detectron2.config import get_cfg

    from ttc_detectron2 import add_ttc_config

    return add_ttc_config(get_cfg())


def test_every_ttc_key_has_a_default_and_a_comment():
    from ttc_detectron2 import config

    cfg = _fresh_cfg()
    keys = set(cfg.MODEL.TTC.keys())
    assert {
        "LATENT_CHANNELS",
        "ALPHA",
        "BETA",
        "MODE",
        "PROBE_WEIGHT",
        "INNER",
        "NORMALIZE_PSEUDO_IMAGE",
        "TEST_ACTUAL_BITS",
    } <= keys
    lines = inspect.getsource(config.add_ttc_config).splitlines()
    assigned = {}
    for i, line in enumerate(lines):
        m = re.match(r"\s*(?:t|cfg\.SOLVER)\.([A-Z_0-9]+) = ", line)
        if m:
            assigned[m.group(1)] = lines[i - 1].strip()
    assert keys <= set(assigned), f"keys without an assignment line: {keys - set(assigned)}"
    for key, previous in assigned.items():
        assert previous.startswith("#"), f"{key} has no comment line above its default"
    assert cfg.SOLVER.OPTIMIZER == "SGD"  # Detectron2's behaviour unless a config says ADAM


@pytest.mark.parametrize(
    "key, value, words",
    [
        ("MODEL.TTC.MODE", "half", "MODEL.TTC.MODE"),
        ("MODEL.TTC.ALPHA", -1.0, "MODEL.TTC.ALPHA"),
        ("MODEL.TTC.BETA", float("nan"), "MODEL.TTC.BETA"),
        ("MODEL.TTC.LATENT_CHANNELS", 0, "MODEL.TTC.LATENT_CHANNELS"),
        ("MODEL.TTC.ANALYSIS_CHANNELS", [8, 8], "MODEL.TTC.ANALYSIS_CHANNELS"),
        ("MODEL.TTC.INNER", "build_no_such_backbone", "BACKBONE_REGISTRY"),
        ("MODEL.TTC.INNER", "build_ttc_backbone", "cannot be a ttc backbone"),
        ("MODEL.TTC.ACTIVATION", "swish", "MODEL.TTC.ACTIVATION"),
        ("MODEL.TTC.DOWNSAMPLING", 12, "MODEL.TTC.DOWNSAMPLING"),
        ("MODEL.TTC.CODING_ORDER", "zigzag", "MODEL.TTC.CODING_ORDER"),
        ("SOLVER.OPTIMIZER", "LBFGS", "SOLVER.OPTIMIZER"),
        ("INPUT.FORMAT", "L", "INPUT.FORMAT"),
    ],
)
def test_invalid_values_raise_clear_errors(key, value, words):
    from ttc_detectron2 import TTCConfigError, validate_ttc_config

    cfg = tiny_cfg()
    node, name = cfg, key.split(".")
    for part in name[:-1]:
        node = node[part]
    node[name[-1]] = value
    with pytest.raises(TTCConfigError, match=re.escape(words)):
        validate_ttc_config(cfg)
    # the builders check too
    from detectron2.modeling import build_model

    with pytest.raises(TTCConfigError):
        build_model(cfg)


def test_missing_add_ttc_config_says_what_to_call():
    from detectron2.config import get_cfg

    from ttc_detectron2 import TTCConfigError, helpful_errors, validate_ttc_config

    cfg = get_cfg()
    with pytest.raises(TTCConfigError, match=r"add_ttc_config\(cfg\)") as info:
        with helpful_errors():
            cfg.merge_from_file(str(CONFIGS / "ttc_proposed_R_50_FPN_1x_coco.yaml"))
    assert isinstance(info.value.__cause__, KeyError)  # Detectron2's own error is chained
    with pytest.raises(TTCConfigError, match="add_ttc_config"):
        validate_ttc_config(get_cfg())
    # the backbone, named in a stock config without the ttc node
    cfg = get_cfg()
    cfg.MODEL.BACKBONE.NAME = "build_ttc_backbone"
    from detectron2.modeling import build_backbone

    with pytest.raises(TTCConfigError, match="add_ttc_config"):
        build_backbone(cfg)


@pytest.mark.parametrize(
    "key, expected",
    [
        ("MODEL.TTC.ALPA", "did you mean MODEL.TTC.ALPHA"),
        ("MODEL.TTC.ENHANCEMENT.STANDALON", "did you mean MODEL.TTC.ENHANCEMENT.STANDALONE"),
        ("DATASETS.SELECTION.SEEDS", "did you mean DATASETS.SELECTION.SEED"),
    ],
)
def test_a_misspelled_key_is_named_with_the_nearest_valid_one(tmp_path, key, expected):
    from detectron2.config import get_cfg

    from ttc_detectron2 import TTCConfigError, add_ttc_config, helpful_errors

    cfg = add_ttc_config(get_cfg())
    with pytest.raises(TTCConfigError, match=expected) as info:
        with helpful_errors():
            cfg.merge_from_list([key, "1"])  # command-line options
    assert "add_ttc_config" not in str(info.value)
    head, _, leaf = key.rpartition(".")
    text = ""
    for depth, part in enumerate([*head.split("."), leaf]):
        text += "  " * depth + f"{part}:" + (" 1\n" if part == leaf else "\n")
    path = tmp_path / "typo.yaml"
    path.write_text(text)
    with pytest.raises(TTCConfigError, match=expected):  # a config file
        with helpful_errors():
            cfg.merge_from_file(str(path))


def test_unregistered_plugin_says_what_to_import():
    from fvcore.common.registry import Registry

    from ttc_detectron2 import TTCConfigError, explain, helpful_errors

    # the exact error of a registry that never saw `import ttc_detectron2`
    fresh = Registry("META_ARCH")
    with pytest.raises(TTCConfigError, match="import ttc_detectron2"):
        with helpful_errors():
            fresh.get("TTCGeneralizedRCNN")
    assert "import ttc_detectron2" in explain(
        KeyError("No object named 'build_ttc_backbone' found in 'BACKBONE' registry!")
    )
    # other errors pass through untouched
    assert explain(KeyError("No object named 'Foo' found in 'META_ARCH' registry!")) is None
    with pytest.raises(KeyError):
        with helpful_errors():
            fresh.get("SomethingElse")


def test_registered_names_match_the_error_helper():
    from detectron2.modeling import BACKBONE_REGISTRY, META_ARCH_REGISTRY

    from ttc_detectron2.errors import REGISTERED

    for name in REGISTERED["META_ARCH"]:
        assert name in META_ARCH_REGISTRY
    for name in REGISTERED["BACKBONE"]:
        assert name in BACKBONE_REGISTRY


def _yaml_configs():
    """The ttc detector configs (the plain detector the study pretrains, ``faster_rcnn_*``, is
    tested in test_pretrain.py)."""
    found = sorted(CONFIGS.glob("*.yaml")) + sorted(CONFIGS.glob("demo/*.yaml"))
    return [p for p in found if not p.name.startswith("faster_rcnn_")] + [TINY_YAML]


@pytest.mark.parametrize("path", _yaml_configs(), ids=lambda p: p.name)
def test_every_yaml_config_parses(path):
    from ttc_detectron2 import validate_ttc_config

    cfg = _fresh_cfg()
    cfg.merge_from_file(str(path))
    validate_ttc_config(cfg)
    # model selection apart from the reported split, in every config
    s = cfg.DATASETS.SELECTION
    assert s.ENABLED and s.METRIC and s.MODE in ("max", "min")
    assert not set(cfg.DATASETS.TRAIN) & set(cfg.DATASETS.TEST)
    if cfg.MODEL.META_ARCHITECTURE == "TTCReconstructionEnhancement":
        e = cfg.MODEL.TTC.ENHANCEMENT
        if e.STANDALONE or e.CONTINUED:  # only the entropy model trains: select on the rate
            assert (s.METRIC, s.MODE) == ("ttc/bpp_enhancement_estimated", "min")
        else:
            assert (s.METRIC, s.MODE) == ("ttc/psnr_scalable", "max")
        return  # the enhancement layer's configs: tests/detectron2/test_enhancement.py
    assert s.METRIC == "bbox/AP"
    assert cfg.MODEL.META_ARCHITECTURE == "TTCGeneralizedRCNN"
    assert cfg.MODEL.BACKBONE.NAME == "build_ttc_backbone"


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.py")), ids=lambda p: p.name)
def test_every_lazy_config_loads(path):
    from detectron2.config import LazyConfig

    cfg = LazyConfig.load(str(path))
    assert {"model", "dataloader", "optimizer", "lr_multiplier", "train"} <= set(cfg.keys())


def _reference_yaml():
    return [
        CONFIGS / "ttc_proposed_R_50_FPN_1x_coco.yaml",
        CONFIGS / "ttc_baseline_R_50_FPN_1x_coco.yaml",
    ]


@pytest.mark.parametrize("path", _reference_yaml(), ids=lambda p: p.name)
def test_reference_configs_build_on_cpu(path):
    from detectron2.modeling import build_model

    from ttc_detectron2 import TTCBackbone, TTCGeneralizedRCNN

    cfg = _fresh_cfg()
    cfg.merge_from_file(str(path))
    assert cfg.SOLVER.OPTIMIZER == "ADAM" and cfg.SOLVER.BASE_LR == 1e-4
    assert cfg.SOLVER.IMS_PER_BATCH == 4 and cfg.SOLVER.CLIP_GRADIENTS.CLIP_VALUE == 1.0
    assert cfg.DATASETS.TRAIN == ("coco_2017_train",) and cfg.DATASETS.TEST == ("coco_2017_val",)
    cfg.MODEL.DEVICE = "cpu"
    model = build_model(cfg)
    assert isinstance(model, TTCGeneralizedRCNN) and isinstance(model.backbone, TTCBackbone)
    assert model.backbone.bottleneck.latent_channels == 192
    assert model.recon_loss.detach_reconstruction == (cfg.MODEL.TTC.MODE == "baseline")
    assert model.backbone.inner.bottom_up.stages[0][0].conv1.weight.shape[0] == 64  # R-50 res2
    spec = model.backbone.codec_spec()
    assert spec["base"]["prefix"] == "backbone.bottleneck."
    assert spec["input"] == {
        "mean": [0.0, 0.0, 0.0],
        "std": [1.0, 1.0, 1.0],
        "scale": 1.0,
        "channel_order": "RGB",
        # the test-time ResizeShortestEdge, so `ttc compress` codes the evaluated size
        "resize_shortest_edge": [cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MAX_SIZE_TEST],
    }


def test_reference_lazy_config_builds_on_cpu():
    from detectron2.config import LazyConfig, instantiate

    from ttc_detectron2 import TTCGeneralizedRCNN

    cfg = LazyConfig.load(str(CONFIGS / "ttc_proposed_R_50_FPN_1x_coco_lazy.py"))
    model = instantiate(cfg.model)
    assert isinstance(model, TTCGeneralizedRCNN)
    assert model.backbone.codec_spec()["base"]["kwargs"]["latent_channels"] == 192
    # the same architecture as the YAML version
    from detectron2.modeling import build_model

    ycfg = _fresh_cfg()
    ycfg.merge_from_file(str(CONFIGS / "ttc_proposed_R_50_FPN_1x_coco.yaml"))
    ycfg.MODEL.DEVICE = "cpu"
    ymodel = build_model(ycfg)
    lazy_shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    yaml_shapes = {k: tuple(v.shape) for k, v in ymodel.state_dict().items()}
    assert lazy_shapes == yaml_shapes
    assert model.backbone.codec_spec() == ymodel.backbone.codec_spec()
    torch.testing.assert_close(model.pixel_mean, ymodel.pixel_mean)


# -- issue 12: the β in force is the β shown ----------------------------------------------------
def _baseline_configs():
    out = []
    for path in _yaml_configs():
        cfg = _fresh_cfg()
        cfg.merge_from_file(str(path))
        if cfg.MODEL.META_ARCHITECTURE == "TTCGeneralizedRCNN" and cfg.MODEL.TTC.MODE == "baseline":
            out.append(path)
    return out


def test_there_are_baseline_configs():
    names = {p.name for p in _baseline_configs()}
    assert {
        "ttc_baseline_R_50_FPN_1x_coco.yaml",
        "ttc_baseline_R_18_FPN_demo_synthetic-coco.yaml",
    } <= names


@pytest.mark.parametrize("path", _baseline_configs(), ids=lambda p: p.name)
def test_baseline_config_files_say_beta_0(path):
    import yaml

    cfg = _fresh_cfg()
    cfg.merge_from_file(str(path))
    assert cfg.MODEL.TTC.BETA == 0.0
    # the file itself says so (not a value inherited from somewhere else)
    own = yaml.safe_load(path.read_text())["MODEL"]["TTC"]
    assert own["MODE"] == "baseline" and own["BETA"] == 0.0


def _merged(path):
    cfg = _fresh_cfg()
    cfg.merge_from_file(str(path))
    return cfg


#: what a Baseline config may change of its Proposed counterpart: the base's objective (β = 0,
#: the probe) or, for an enhancement, which base it is trained on; and where it writes
_BASELINE_MAY_CHANGE = {
    "MODEL.TTC.MODE",
    "MODEL.TTC.BETA",
    "MODEL.TTC.PROBE_WEIGHT",
    "MODEL.TTC.ENHANCEMENT.BASE_WEIGHTS",
    "OUTPUT_DIR",
}


@pytest.mark.parametrize(
    "path", [p for p in _yaml_configs() if "baseline" in p.name], ids=lambda p: p.name
)
def test_a_baseline_config_trains_as_its_proposed_counterpart(path):
    """Fair by construction: data, schedule, architecture, solver and seed are the Proposed
    config's; only the objective (or the base it sits on) differs."""
    changed = changed_keys(_merged(path), _merged(proposed_counterpart(path)))
    assert changed <= _BASELINE_MAY_CHANGE, sorted(changed - _BASELINE_MAY_CHANGE)


def test_baseline_with_nonzero_beta_is_refused_naming_the_keys():
    from detectron2.modeling import build_model

    from ttc_detectron2 import TTCConfigError, validate_ttc_config

    cfg = _fresh_cfg()
    cfg.merge_from_file(str(CONFIGS / "ttc_baseline_R_50_FPN_1x_coco.yaml"))
    validate_ttc_config(cfg)
    cfg.MODEL.TTC.BETA = 0.1
    with pytest.raises(
        TTCConfigError, match=r"MODEL\.TTC\.MODE.*baseline.*MODEL\.TTC\.BETA = 0\.1"
    ):
        validate_ttc_config(cfg)
    with pytest.raises(TTCConfigError, match="MODEL.TTC.BETA 0.0"):
        build_model(tiny_cfg("MODEL.TTC.BETA", 0.1, mode="baseline"))
    # the Proposed mode takes any β >= 0
    validate_ttc_config(tiny_cfg("MODEL.TTC.BETA", 0.5))


def test_the_beta_in_force_is_logged_and_checkpointed(tmp_path):
    import logging

    from detectron2.modeling import build_model

    from ttc_detectron2 import TTCCheckpointer

    records = []
    handler = logging.Handler(logging.INFO)
    handler.emit = records.append
    log = logging.getLogger("ttc_detectron2.meta_arch")
    level = log.level
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        model = build_model(tiny_cfg(mode="baseline"))
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
    text = "\n".join(r.getMessage() for r in records)
    assert "'mode': 'baseline'" in text and "'beta': 0.0" in text
    TTCCheckpointer(model, str(tmp_path)).save("m")
    objective = torch.load(tmp_path / "m.pth", weights_only=True)["ttc_objective"]
    assert objective == {"mode": "baseline", "alpha": 1.0, "beta": 0.0, "probe_weight": 1.0}


# -- issue 12: the selection split keys -----------------------------------------------------------
def test_selection_keys_have_defaults_and_comments():
    from ttc_detectron2 import config

    cfg = _fresh_cfg()
    s = cfg.DATASETS.SELECTION
    assert dict(s) == {
        "ENABLED": True,
        "SIZE": 0.1,
        "SEED": 0,
        "FILES": [],
        "METRIC": "bbox/AP",
        "MODE": "max",
    }
    lines = inspect.getsource(config.add_ttc_config).splitlines()
    for i, line in enumerate(lines):
        if re.match(r"\s*s\.([A-Z_0-9]+) = ", line):
            assert lines[i - 1].strip().startswith("#"), line


@pytest.mark.parametrize(
    "key, value",
    [
        ("SIZE", 0.0),
        ("SIZE", 2.5),
        ("SIZE", -1.0),
        ("SEED", 0.5),
        ("MODE", "best"),
        ("METRIC", ""),
        ("METRIC", "selection/bbox/AP"),
        ("FILES", [""]),
        ("ENABLED", "yes"),
    ],
)
def test_invalid_selection_values_raise_clear_errors(key, value):
    from ttc_detectron2 import TTCConfigError, validate_ttc_config

    cfg = tiny_cfg()
    cfg.DATASETS.SELECTION[key] = value
    with pytest.raises(TTCConfigError, match=f"DATASETS.SELECTION.{key}"):
        validate_ttc_config(cfg)


def test_a_whole_number_of_selection_images_says_how_to_write_it():
    from ttc_detectron2 import TTCConfigError, helpful_errors, validate_ttc_config

    cfg = tiny_cfg("DATASETS.SELECTION.SIZE", 3.0)
    validate_ttc_config(cfg)
    with pytest.raises(TTCConfigError, match=r"3\.0"):
        with helpful_errors():
            tiny_cfg("DATASETS.SELECTION.SIZE", 3)


def test_the_enhancement_cannot_select_on_detection_metrics():
    from ttc_detectron2 import TTCConfigError, validate_ttc_config

    cfg = _fresh_cfg()
    cfg.merge_from_file(str(CONFIGS / "ttc_enhancement-recon_proposed-base_1x_coco.yaml"))
    validate_ttc_config(cfg)
    cfg.DATASETS.SELECTION.METRIC = "bbox/AP"
    with pytest.raises(TTCConfigError, match="DATASETS.SELECTION.METRIC"):
        validate_ttc_config(cfg)
