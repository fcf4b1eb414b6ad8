"""The study's pretrained detector: built by `python -m ttc_detectron2.pretrain`, cached, and
loaded into the ttc demo detectors (backbone keys → backbone.inner.*)."""

import json
from pathlib import Path

import pytest
import torch

from ttc_core.study.pretrain import (
    RECORD,
    PretrainError,
    Pretraining,
    cache_key,
    ensure_pretrained,
    read_record,
)

REPO = Path(__file__).resolve().parents[2]
CONFIG = "configs/detectron2/demo/faster_rcnn_R_18_FPN_pretrain_synthetic-coco.yaml"
TINY = Pretraining(
    CONFIG,
    coco=(4, 2, (64, 96)),
    seed=1,
    options=(
        "SOLVER.MAX_ITER", "2", "SOLVER.WARMUP_ITERS", "0", "SOLVER.IMS_PER_BATCH", "2",
        "INPUT.MIN_SIZE_TRAIN", "(64,)", "INPUT.MAX_SIZE_TRAIN", "96",
        "INPUT.MIN_SIZE_TEST", "64", "INPUT.MAX_SIZE_TEST", "96",
    ),
)  # fmt: skip


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    cache = tmp_path_factory.mktemp("pretrained")
    logs: list[str] = []
    record = ensure_pretrained(TINY, REPO, cache=cache, log=logs.append)
    return cache, record, logs


def test_pretraining_builds_a_recorded_plain_detector(built):
    cache, record, _ = built
    assert not record["cached"]
    folder = Path(record["folder"])
    assert folder.parent == cache and folder.name == cache_key(TINY, REPO)
    saved = json.loads((folder / RECORD).read_text())
    assert saved["sha256"] == record["sha256"] and saved["data"]["seed"] == 1
    assert "ttc_detectron2.pretrain" in saved["command"]
    # evaluated once, on its own held-out scenes, by Detectron2's COCOEvaluator
    assert set(saved["box_AP"]) >= {"AP", "AP50"}
    state = torch.load(record["path"], map_location="cpu", weights_only=False)["model"]
    assert any(k.startswith("backbone.bottom_up.") for k in state)
    assert not any("bottleneck" in k for k in state)  # a plain detector


def test_pretraining_is_reused_and_checked(built, tmp_path):
    cache, record, _ = built
    logs: list[str] = []
    again = ensure_pretrained(TINY, REPO, cache=cache, log=logs.append)
    assert again["cached"] and again["sha256"] == record["sha256"]
    assert any("reused" in m for m in logs)
    # another schedule is another entry
    other = Pretraining(CONFIG, TINY.coco, TINY.seed, (*TINY.options, "SOLVER.BASE_LR", "0.002"))
    assert cache_key(other, REPO) != cache_key(TINY, REPO)
    with pytest.raises(ValueError, match="seed of their own"):
        Pretraining(CONFIG, TINY.coco, seed=0)
    # weights changed behind the record's back are refused, not silently used
    copy = tmp_path / "entry"
    copy.mkdir()
    saved = json.loads((Path(record["folder"]) / RECORD).read_text())
    (copy / "train").mkdir()
    (copy / saved["weights"]).write_bytes(Path(record["path"]).read_bytes()[:-10])
    (copy / RECORD).write_text(json.dumps(saved))
    with pytest.raises(PretrainError, match="does not match the sha256"):
        read_record(copy)


def test_ttc_demo_detector_starts_from_the_pretrained_weights(built):
    from detectron2.config import get_cfg
    from detectron2.modeling import build_model

    import ttc_detectron2
    from ttc_detectron2.checkpoint import TTCCheckpointer

    _, record, _ = built
    cfg = get_cfg()
    ttc_detectron2.add_ttc_config(cfg)
    cfg.merge_from_file(
        str(REPO / "configs/detectron2/demo/ttc_proposed_R_18_FPN_demo_synthetic-coco.yaml")
    )
    cfg.MODEL.DEVICE = "cpu"
    model = build_model(cfg)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    TTCCheckpointer(model).load(record["path"])
    plain = torch.load(record["path"], map_location="cpu", weights_only=False)["model"]
    after = model.state_dict()
    inner = [k for k in after if k.startswith("backbone.inner.") and k.endswith(".weight")]
    assert inner
    for key in inner:
        source = key.replace("backbone.inner.bottom_up.", "backbone.bottom_up.").replace(
            "backbone.inner.", "backbone."
        )
        assert torch.equal(after[key], torch.as_tensor(plain[source])), key
    # the heads come along; the ttc base layer starts from scratch
    head = "roi_heads.box_predictor.cls_score.weight"
    assert torch.equal(after[head], torch.as_tensor(plain[head]))
    for key in (k for k in after if k.startswith("backbone.bottleneck.")):
        assert torch.equal(after[key], before[key]), key


def _cfg(path):
    from detectron2.config import get_cfg

    import ttc_detectron2

    cfg = get_cfg()
    ttc_detectron2.add_ttc_config(cfg)
    cfg.merge_from_file(str(REPO / path))
    return cfg


@pytest.mark.parametrize("method", ["proposed", "baseline"])
def test_the_pretraining_config_is_the_demo_detectors_inner_network(method):
    """It must load into the ttc demo detectors: same ResNet, FPN, anchors and heads, the input
    resize and normalisation they use; only the normalisation layers may differ (BN from
    scratch, frozen in the ttc runs)."""
    plain = _cfg(CONFIG)
    ttc = _cfg(f"configs/detectron2/demo/ttc_{method}_R_18_FPN_demo_synthetic-coco.yaml")
    assert plain.MODEL.META_ARCHITECTURE == "GeneralizedRCNN"
    assert ttc.MODEL.TTC.INNER == plain.MODEL.BACKBONE.NAME == "build_resnet_fpn_backbone"
    same = [
        "MODEL.RESNETS.DEPTH", "MODEL.RESNETS.RES2_OUT_CHANNELS", "MODEL.RESNETS.OUT_FEATURES",
        "MODEL.FPN.IN_FEATURES", "MODEL.FPN.OUT_CHANNELS", "MODEL.ANCHOR_GENERATOR.SIZES",
        "MODEL.ANCHOR_GENERATOR.ASPECT_RATIOS", "MODEL.RPN.IN_FEATURES",
        "MODEL.ROI_HEADS.NAME", "MODEL.ROI_HEADS.IN_FEATURES", "MODEL.ROI_HEADS.NUM_CLASSES",
        "MODEL.ROI_BOX_HEAD.NAME", "MODEL.ROI_BOX_HEAD.NUM_FC", "MODEL.ROI_BOX_HEAD.FC_DIM",
        "MODEL.ROI_BOX_HEAD.POOLER_RESOLUTION", "MODEL.PIXEL_MEAN", "MODEL.PIXEL_STD",
        "INPUT.MIN_SIZE_TRAIN", "INPUT.MAX_SIZE_TRAIN", "INPUT.FORMAT",
    ]  # fmt: skip
    for key in same:
        a, b = plain, ttc
        for part in key.split("."):
            a, b = a[part], b[part]
        assert a == b, key
    # its data are its own: no dataset of the study's
    assert not set(plain.DATASETS.TRAIN + plain.DATASETS.TEST) & set(
        ttc.DATASETS.TRAIN + ttc.DATASETS.TEST
    )
