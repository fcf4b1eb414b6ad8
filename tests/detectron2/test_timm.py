"""timm task networks behind the bottleneck (issue 15), Detectron2 side.

``MODEL.TTC.INNER: build_timm_fpn_backbone`` with a tiny timm model (MobileNetV3-Small 0.5,
the paper's task-network family), trained a few iterations by tools/train_net.py and by the
stock LazyConfig trainer; weights come from a local file only.
"""

from __future__ import annotations

import pytest
import torch

from .conftest import (
    TINY_YAML,
    TRAIN,
    TRAIN_NET,
    VAL,
    coco_specs,
    read_metrics,
    run_script,
    tiny_cfg,
)

TIMM = "mobilenetv3_small_050"
TIMM_OPTS = ["MODEL.TTC.INNER", "build_timm_fpn_backbone", "MODEL.TIMM.NAME", TIMM]


def test_freeze_at_follows_the_resnet_convention():
    from ttc_detectron2.timm_backbone import TimmFeatures

    def trainable(freeze_at):
        m = TimmFeatures(TIMM, freeze_at=freeze_at)
        return {n.split(".")[0] for n, p in m.model.named_parameters() if p.requires_grad}, m

    assert trainable(0)[0] == {"conv_stem", "blocks"}
    assert trainable(1)[0] == {"blocks"}  # the stem
    _, model = trainable(2)  # the stem and the first returned stage (stride 4)
    first, second = model.model.feature_info.module_name()[:2]
    params = dict(model.model.named_parameters())
    assert not any(p.requires_grad for n, p in params.items() if n.startswith(first + "."))
    assert all(p.requires_grad for n, p in params.items() if n.startswith(second + "."))
    assert not any(p.requires_grad for p in TimmFeatures(TIMM, freeze_at=5).parameters())
    with pytest.raises(ValueError, match="freeze_at"):
        TimmFeatures(TIMM, freeze_at=6)


def test_frozen_bn_keeps_timm_activations_and_bn_trains_when_asked():
    from timm.layers import BatchNormAct2d, FrozenBatchNormAct2d

    from ttc_detectron2.timm_backbone import TimmFeatures

    frozen = TimmFeatures(TIMM, freeze_at=0, norm="FrozenBN")
    kinds = {type(m) for m in frozen.modules()}
    assert FrozenBatchNormAct2d in kinds and BatchNormAct2d not in kinds
    trained = TimmFeatures(TIMM, freeze_at=2, norm="BN")
    kinds = {type(m) for m in trained.modules()}
    assert BatchNormAct2d in kinds and FrozenBatchNormAct2d in kinds  # frozen stages only
    out = trained(torch.rand(1, 3, 64, 96))
    assert {k: v.shape[1] for k, v in out.items()} == {
        k: s.channels for k, s in trained.output_shape().items()
    }
    assert list(out) == ["res2", "res3", "res4", "res5"]


def test_weights_come_from_a_local_file(tmp_path):
    import timm
    from detectron2.modeling import build_model

    torch.manual_seed(3)
    saved = timm.create_model(TIMM).state_dict()
    path = tmp_path / f"{TIMM}.pth"
    torch.save(saved, path)
    cfg = tiny_cfg(*TIMM_OPTS, "MODEL.TIMM.WEIGHTS", str(path), "MODEL.TIMM.NORM", "BN")
    model = build_model(cfg)
    loaded = model.backbone.inner.bottom_up.model.state_dict()
    common = [k for k in loaded if k in saved]
    assert len(common) > 0.9 * len(loaded)
    assert all(torch.equal(loaded[k], saved[k]) for k in common)
    missing = tiny_cfg(*TIMM_OPTS, "MODEL.TIMM.WEIGHTS", str(tmp_path / "nope.pth"))
    with pytest.raises(FileNotFoundError, match=r"MODEL\.TIMM\.WEIGHTS.*nope\.pth"):
        build_model(missing)


def test_config_errors_name_the_key():
    from detectron2.modeling import build_model

    from ttc_detectron2 import TTCConfigError

    with pytest.raises(TTCConfigError, match="MODEL.TIMM.NAME"):
        build_model(tiny_cfg(*TIMM_OPTS[:2], "MODEL.TIMM.NAME", "no_such_net"))
    with pytest.raises(TTCConfigError, match="MODEL.FPN.IN_FEATURES"):
        build_model(tiny_cfg(*TIMM_OPTS, "MODEL.TIMM.OUT_INDICES", "[2, 3, 4]"))


def test_train_net_trains_a_timm_detector(coco_root, tmp_path):
    out = tmp_path / "run"
    args = [str(TRAIN_NET), "--config-file", str(TINY_YAML)]
    for spec in coco_specs(coco_root):
        args += ["--register-coco", spec]
    args += [
        *TIMM_OPTS,
        "MODEL.TIMM.FREEZE_AT",
        "0",
        "DATASETS.TRAIN",
        f"('{TRAIN}',)",
        "DATASETS.TEST",
        f"('{VAL}',)",
        "SOLVER.MAX_ITER",
        "3",
        "SOLVER.CHECKPOINT_PERIOD",
        "1",
        "TEST.EVAL_PERIOD",
        "0",
        "OUTPUT_DIR",
        str(out),
    ]
    run_script(args)
    train = [m for m in read_metrics(out / "metrics.json") if "total_loss" in m]
    assert train and all("loss_cls" in m for m in train)
    first = torch.load(out / "model_0000000.pth", weights_only=False)["model"]
    last = torch.load(out / "model_final.pth", weights_only=False)["model"]
    inner = [k for k in last if k.startswith("backbone.inner.bottom_up.model.")]
    assert inner and any(not torch.equal(first[k], last[k]) for k in inner)


def test_lazy_config_trains_a_timm_detector(coco_root, tmp_path):
    """The LazyConfig path: ``TimmFeatures`` as the FPN's bottom-up network, run by
    Detectron2's stock lazy trainer."""
    from detectron2.config import LazyCall as L
    from detectron2.config import LazyConfig

    from ttc_detectron2.timm_backbone import TimmFeatures

    from .test_lazy import _stock_script, _tiny_lazy

    path = _tiny_lazy(coco_root, tmp_path / "run", max_iter=3)
    cfg = LazyConfig.load(str(path))
    cfg.model.backbone.inner.bottom_up = L(TimmFeatures)(
        name=TIMM, in_channels=3, freeze_at=0, out_features=["res2", "res3", "res4", "res5"]
    )
    cfg.train.checkpointer.period = 1
    LazyConfig.save(cfg, str(path))
    run_script([_stock_script(), "--config-file", str(path)], cwd=tmp_path)
    first = torch.load(tmp_path / "run" / "model_0000000.pth", weights_only=True)["model"]
    last = torch.load(tmp_path / "run" / "model_final.pth", weights_only=True)["model"]
    inner = [k for k in last if k.startswith("backbone.inner.bottom_up.model.")]
    assert inner and any(not torch.equal(first[k], last[k]) for k in inner)


@pytest.mark.parametrize(
    "name",
    ["ttc_proposed_timm-resnet50_FPN_1x_coco.yaml", "ttc_baseline_timm-resnet50_FPN_1x_coco.yaml"],
)
def test_shipped_timm_configs_build(name):
    from detectron2.config import get_cfg
    from detectron2.modeling import build_model

    from ttc_detectron2 import add_ttc_config
    from ttc_detectron2.timm_backbone import TimmFeatures

    from .conftest import CONFIGS

    cfg = add_ttc_config(get_cfg())
    cfg.merge_from_file(str(CONFIGS / name))
    cfg.MODEL.DEVICE = "cpu"
    model = build_model(cfg)
    bottom_up = model.backbone.inner.bottom_up
    assert isinstance(bottom_up, TimmFeatures)
    assert [s.channels for s in bottom_up.output_shape().values()] == [256, 512, 1024, 2048]
    assert model.recon_loss.mode == ("baseline" if "baseline" in name else "proposed")
