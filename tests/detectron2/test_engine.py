"""Small pieces of the launcher: the DDP wrapper choice, the rate evaluator, --register-coco."""

from __future__ import annotations

import json

import pytest

from .conftest import tiny_cfg


@pytest.mark.parametrize("device, expected", [("cpu", {"device_ids": None}), ("cuda", {})])
def test_ddp_wrapper_is_cpu_safe_and_keeps_the_gpu_default(monkeypatch, device, expected):
    from ttc_detectron2 import engine

    seen = {}

    def fake_create_ddp_model(model, **kwargs):
        seen.update(kwargs)
        return model

    monkeypatch.setattr(engine, "create_ddp_model", fake_create_ddp_model)
    cfg = tiny_cfg("MODEL.DEVICE", device)
    sentinel = object()
    assert engine.TTCTrainer.build_ddp_model(cfg, sentinel) is sentinel
    # CUDA: exactly Detectron2's DefaultTrainer call; CPU: device_ids=None on top
    assert seen == {"broadcast_buffers": False, **expected}


def test_default_trainer_still_wraps_ddp_by_the_name_ttc_rebinds():
    """``_wrapping_ddp_with`` rebinds ``detectron2.engine.defaults.create_ddp_model`` while
    ``DefaultTrainer.__init__`` runs: that holds only while Detectron2 calls it by that name."""
    from detectron2.engine import DefaultTrainer
    from detectron2.engine import defaults as d2_defaults

    from ttc_detectron2 import engine

    assert "create_ddp_model" in DefaultTrainer.__init__.__code__.co_names
    assert DefaultTrainer.__init__.__globals__ is vars(d2_defaults)
    original = d2_defaults.create_ddp_model
    seen = []
    with engine._wrapping_ddp_with(lambda model: seen.append(model) or "wrapped"):
        assert d2_defaults.create_ddp_model("model", broadcast_buffers=False) == "wrapped"
    assert seen == ["model"] and d2_defaults.create_ddp_model is original
    with pytest.raises(RuntimeError), engine._wrapping_ddp_with(lambda model: model):
        raise RuntimeError("the base class failed")
    assert d2_defaults.create_ddp_model is original  # restored on errors too


def test_trainer_is_default_trainer_with_the_ttc_checkpointer(registered, tmp_path):
    """``DefaultTrainer.__init__`` builds the trainer; every checkpointing hook saves through
    the one ``TTCCheckpointer``, and the model trains on the fit part of DATASETS.TRAIN."""
    from detectron2.engine import hooks

    from ttc_detectron2.checkpoint import TTCCheckpointer
    from ttc_detectron2.engine import SelectionCheckpointer, TTCTrainer

    cfg = tiny_cfg("OUTPUT_DIR", str(tmp_path), "TEST.EVAL_PERIOD", 2)
    cfg.freeze()
    trainer = TTCTrainer(cfg)
    assert isinstance(trainer.checkpointer, TTCCheckpointer)
    assert trainer.cfg.DATASETS.TRAIN == (f"{registered[0]}:fit",)
    assert tuple(trainer.selection_datasets) == (f"{registered[0]}:selection",)
    saving = [h for h in trainer._hooks if isinstance(h, hooks.PeriodicCheckpointer)]
    best = [h for h in trainer._hooks if isinstance(h, SelectionCheckpointer)]
    assert saving and best
    assert all(h.checkpointer is trainer.checkpointer for h in saving)
    assert all(h._checkpointer is trainer.checkpointer for h in best)


def test_rate_evaluator_averages_per_image_records(tmp_path):
    from ttc_detectron2 import TTCRateEvaluator

    ev = TTCRateEvaluator(distributed=False, output_dir=str(tmp_path))
    ev.reset()
    # per-image records in the vocabulary: estimates *_estimated, real bitstreams bits / bpp
    ev.process(
        [{"image_id": 1}, {"image_id": 2}],
        [
            {
                "ttc": {
                    "bits_estimated": 100.0,
                    "bpp_estimated": 0.1,
                    "num_pixels": 1000,
                    "psnr_direct": 30.0,
                    "bits": 120.0,
                    "bpp": 0.12,
                }
            },
            {
                "ttc": {
                    "bits_estimated": 300.0,
                    "bpp_estimated": 0.3,
                    "num_pixels": 1000,
                    "psnr_direct": 20.0,
                    "bits": 320.0,
                    "bpp": 0.32,
                }
            },
        ],
    )
    res = ev.evaluate()["ttc"]
    assert res == pytest.approx(
        {"bpp_estimated": 0.2, "bpp": 0.22, "psnr_direct": 25.0, "num_images": 2.0}
    )
    written = json.loads((tmp_path / "ttc_rate.json").read_text())
    assert written["summary"] == res and len(written["images"]) == 2
    # without real bitstreams there is no "bpp" (actual) key: estimates are never passed off
    ev.reset()
    ev.process(
        [{"image_id": 1}], [{"ttc": {"bits_estimated": 1.0, "bpp_estimated": 0.5, "num_pixels": 2}}]
    )
    assert ev.evaluate()["ttc"] == {"bpp_estimated": 0.5, "num_images": 1.0}
    # an image without real bits among coded ones: no mean "bpp" over a part of the images
    ev.reset()
    ev.process(
        [{"image_id": 1}, {"image_id": 2}],
        [
            {"ttc": {"bpp_estimated": 0.5, "bits": 8.0, "bpp": 4.0}},
            {"ttc": {"bpp_estimated": 0.7}},
        ],
    )
    assert "bpp" not in ev.evaluate()["ttc"]
    with pytest.raises(KeyError, match="TTCGeneralizedRCNN"):
        ev.process([{"image_id": 1}], [{"instances": None}])


def test_register_coco_spec(coco_root):
    from detectron2.data import DatasetCatalog, MetadataCatalog

    from ttc_detectron2.data import parse_coco_spec, register_coco_spec

    ann = coco_root / "annotations" / "instances_val2017.json"
    spec = f"spec_val={ann}:{coco_root / 'val2017'}"
    assert parse_coco_spec(spec) == ("spec_val", str(ann), str(coco_root / "val2017"))
    assert register_coco_spec(spec) == "spec_val" == register_coco_spec(spec)  # idempotent
    assert len(DatasetCatalog.get("spec_val")) == 2
    assert MetadataCatalog.get("spec_val").evaluator_type == "coco"
    with pytest.raises(ValueError, match="NAME=JSON:IMAGE_ROOT"):
        parse_coco_spec("no_equals_sign")
    with pytest.raises(FileNotFoundError, match="annotation file"):
        register_coco_spec(f"x={coco_root}/missing.json:{coco_root}")


def test_missing_pretrained_weights_fail_early_and_clearly(tmp_path):
    from ttc_detectron2 import TTCConfigError
    from ttc_detectron2.engine import check_weights

    cfg = tiny_cfg("MODEL.WEIGHTS", str(tmp_path / "nope.pkl"), "OUTPUT_DIR", str(tmp_path))
    with pytest.raises(TTCConfigError, match="MODEL.WEIGHTS"):
        check_weights(cfg)
    (tmp_path / "last_checkpoint").write_text("model_final.pth")
    check_weights(cfg, resume=True)  # resuming reads OUTPUT_DIR, not MODEL.WEIGHTS
    check_weights(tiny_cfg("MODEL.WEIGHTS", ""))  # from scratch
