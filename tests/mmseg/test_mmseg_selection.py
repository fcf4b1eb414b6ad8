"""Model selection apart from the reported split (issue 12 §2, METHOD §8), MMSeg side.

The selection split is carved from the training split; periodic evaluations, the best
checkpoint and early stopping use its ``selection/`` metrics only; the reported split is
evaluated once, at the end, with real bits, into ``ttc_report.json``.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from mmengine.hooks import Hook
from mmseg.registry import HOOKS
from ttc_mmseg_testutils import (
    BASELINE,
    CONFIG_DIR,
    PROPOSED,
    shipped_configs,
    write_tiny_config,
)

import ttc_mmseg  # noqa: F401
from ttc_core.selection import read_report
from ttc_mmseg.selection import TTCSelectionSplit, check_protocol


def split_cfg(root, part, **kw):
    return dict(
        type="CityscapesDisparityDataset",
        data_root=str(root),
        data_prefix=dict(img_path="leftImg8bit/train", depth_map_path="disparity/train"),
        pipeline=[
            dict(type="LoadImageFromFile"),
            dict(type="LoadCityscapesDisparity"),
            dict(type="PackSegInputs"),
        ],
    ), dict(part=part, **kw)


def build_part(root, part, **kw):
    dataset, args = split_cfg(root, part, **kw)
    return TTCSelectionSplit(dataset=dataset, **args)


# -- the dataset wrapper ------------------------------------------------------------------------
def test_fit_and_selection_partition_the_training_split(cityscapes_root):
    fit, selection = build_part(cityscapes_root, "fit"), build_part(cityscapes_root, "selection")
    assert (len(fit), len(selection)) == (4, 1)  # 10 % of 5 frames, at least one
    images = sorted(p.name for p in (cityscapes_root / "leftImg8bit" / "train").rglob("*.png"))
    assert sorted(fit.keys + selection.keys) == images and not set(fit.keys) & set(selection.keys)
    # the items are those images, through the dataset's own pipeline
    paths = [Path(selection[i]["data_samples"].img_path).name for i in range(len(selection))]
    assert paths == selection.keys
    assert selection.metainfo == fit.dataset.metainfo
    assert selection.ttc_name == "CityscapesDisparityDataset(leftImg8bit/train):selection"
    # deterministic: the same split again
    assert build_part(cityscapes_root, "selection").keys == selection.keys


def test_a_failed_item_is_redrawn_inside_the_part(cityscapes_root, monkeypatch):
    fit = build_part(cityscapes_root, "fit")
    full = fit.dataset
    outside = set(range(len(full))) - set(fit.indices)
    bad = fit.indices[0]
    asked = []
    prepare = type(full).prepare_data

    def flaky(self, idx):
        asked.append(idx)
        return None if idx == bad else prepare(self, idx)

    monkeypatch.setattr(type(full), "prepare_data", flaky)
    item = fit[0]
    assert Path(item["data_samples"].img_path).name != fit.keys[0]
    assert asked[0] == bad and not set(asked) & outside  # re-drawn, never from the selection


def test_parts_built_back_to_back_keep_their_own_pipelines(cityscapes_root):
    """mmengine's ``get_subset`` copies with a memo shared across calls (a mutable default);
    an ``id`` reused after garbage collection then "copies" a stale object, e.g. a dataset in
    place of a pipeline. The parts index the dataset instead: many builds, each item loads."""
    import gc

    for _ in range(12):
        part = build_part(cityscapes_root, "selection")
        assert callable(part.dataset.pipeline)
        assert "data_samples" in part[0]
        del part
        gc.collect()


def test_size_seed_and_file_list(cityscapes_root):
    assert len(build_part(cityscapes_root, "selection", size=2)) == 2
    chosen = {tuple(build_part(cityscapes_root, "selection", seed=s).keys) for s in range(8)}
    assert len(chosen) > 1  # another seed, another split
    fit = build_part(cityscapes_root, "fit")
    name = fit.keys[0]
    listed = build_part(cityscapes_root, "selection", files=[name])
    assert listed.keys == [name]
    with pytest.raises(ValueError, match="not in the training split"):
        build_part(cityscapes_root, "selection", files=["nope.png"])
    with pytest.raises(ValueError, match="part must be one of"):
        build_part(cityscapes_root, "test")


# -- the protocol of every shipped config --------------------------------------------------------
@pytest.mark.parametrize("path", shipped_configs(), ids=lambda p: p.name)
def test_every_shipped_config_selects_on_a_selection_split(path):
    from mmengine.config import Config

    assert "test_dataloader = val_dataloader" not in path.read_text()
    cfg = Config.fromfile(str(path))
    assert check_protocol(cfg) is None  # no warning: validates on the selection split
    assert cfg.test_dataloader.dataset.data_prefix.img_path == "leftImg8bit/val"
    hook = cfg.default_hooks.checkpoint
    assert str(hook.save_best).startswith("selection/"), hook.save_best
    for h in cfg.custom_hooks:
        if h["type"] == "EarlyStoppingHook":
            assert h["monitor"] == hook.save_best


def test_no_base_config_evaluates_the_reported_split_for_selection():
    for path in (CONFIG_DIR / "_base_").rglob("*.py"):
        assert "test_dataloader = val_dataloader" not in path.read_text(), path
        assert "test_evaluator = val_evaluator" not in path.read_text(), path


def test_configs_that_select_on_the_reported_split_are_refused():
    from mmengine.config import Config

    cfg = Config.fromfile(str(PROPOSED))
    bad = copy.deepcopy(cfg)
    bad.val_dataloader = bad.test_dataloader
    with pytest.raises(ValueError, match="same images"):
        check_protocol(bad)
    bad = copy.deepcopy(cfg)
    bad.val_dataloader.dataset.dataset = bad.test_dataloader.dataset
    with pytest.raises(ValueError, match="carved from the reported split"):
        check_protocol(bad)
    bad = copy.deepcopy(cfg)
    bad.val_dataloader.dataset.seed = 1
    with pytest.raises(ValueError, match="carved differently"):
        check_protocol(bad)
    bad = copy.deepcopy(cfg)
    bad.test_evaluator = bad.val_evaluator
    with pytest.raises(ValueError, match="unprefixed"):
        check_protocol(bad)
    bad = copy.deepcopy(cfg)
    bad.val_evaluator = bad.test_evaluator
    with pytest.raises(ValueError, match="prefix='selection'"):
        check_protocol(bad)
    plain = copy.deepcopy(cfg)
    plain.val_dataloader.dataset = plain.val_dataloader.dataset.dataset
    assert "does not evaluate a selection split" in check_protocol(plain)


# -- a short run: selection on the selection split, one reported evaluation at the end -----------
@HOOKS.register_module(force=True)
class PhaseRecorderHook(Hook):
    """Test-only: which images each phase saw, in order, and the metrics of each evaluation."""

    priority = "VERY_LOW"

    def __init__(self):
        self.events: list[tuple[str, object]] = []

    def _paths(self, data_batch) -> list[str]:
        return [Path(s.img_path).name for s in data_batch["data_samples"]]

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.events.append(("train", self._paths(data_batch)))

    def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.events.append(("val", self._paths(data_batch)))

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.events.append(("test", self._paths(data_batch)))

    def after_val_epoch(self, runner, metrics=None):
        self.events.append(("val_metrics", (runner.epoch, dict(metrics))))

    def after_test_epoch(self, runner, metrics=None):
        self.events.append(("test_metrics", dict(metrics)))


@pytest.fixture(scope="module")
def reported_run(cityscapes_root, tmp_path_factory):
    """``tools/train.py``'s code (:func:`ttc_mmseg.launch.train`) on the tiny Baseline, 3
    epochs with a selection evaluation after each."""
    from ttc_mmseg.launch import train

    tmp = tmp_path_factory.mktemp("reported")
    cfg = write_tiny_config(
        tmp / "tiny.py",
        BASELINE,
        cityscapes_root,
        max_epochs=3,
        extra=(
            "custom_hooks = [dict(type='TTCCheckpointHook'), dict(type='PhaseRecorderHook')]\n"
            "visualizer = dict(name='visualizer_reported_run')"
        ),
    )
    work = tmp / "work"
    runner = train([str(cfg), "--work-dir", str(work)])
    recorder = next(h for h in runner.hooks if isinstance(h, PhaseRecorderHook))
    return runner, work, recorder.events


def test_training_and_selection_never_see_the_reported_split(reported_run, cityscapes_root):
    _, _, events = reported_run
    kinds = [k for k, _ in events]
    first_test = kinds.index("test")
    # the reported split is evaluated once, after training and every selection evaluation
    assert "train" not in kinds[first_test:] and "val" not in kinds[first_test:]
    assert kinds.count("test_metrics") == 1
    tested = [p for k, paths in events if k == "test" for p in paths]
    val_images = sorted(p.name for p in (cityscapes_root / "leftImg8bit" / "val").rglob("*.png"))
    assert sorted(tested) == val_images  # each image of the reported split, once
    selection = build_part(cityscapes_root, "selection").keys
    fit = build_part(cityscapes_root, "fit").keys
    assert {p for k, ps in events if k == "val" for p in ps} == set(selection)
    assert {p for k, ps in events if k == "train" for p in ps} == set(fit)


def test_the_best_checkpoint_was_chosen_on_the_selection_metric_only(reported_run):
    _, work, events = reported_run
    evaluations = [v for k, v in events if k == "val_metrics"]
    assert len(evaluations) == 3
    for _, metrics in evaluations:
        assert metrics and all(key.startswith("selection/") for key in metrics)
    best_epoch, best = min(
        ((epoch, m["selection/rmse"]) for epoch, m in evaluations), key=lambda t: t[1]
    )
    report = read_report(work)
    assert report["selection"] == dict(
        metric="selection/rmse",
        value=pytest.approx(best),
        rule="best",
        order="less",
        dataset="CityscapesDisparityDataset(leftImg8bit/train):selection",
        epoch=best_epoch,
    )
    assert Path(report["checkpoint"]).name == f"best_selection_rmse_epoch_{best_epoch}.pth"
    assert report["iteration"] == 2 * best_epoch  # 2 iterations per epoch


def test_the_report_holds_the_reported_split_with_real_bits(reported_run):
    _, work, events = reported_run
    report = json.loads((work / "ttc_report.json").read_text())
    assert report["split"] == "report"
    assert report["dataset"] == "CityscapesDisparityDataset(leftImg8bit/val)"
    assert report["num_images"] == 2
    tested = next(v for k, v in events if k == "test_metrics")
    for key in ("rmse", "delta1", "bpp", "bpp_estimated", "psnr_direct"):
        assert report[key] == pytest.approx(tested[key]), key
    # real bitstreams: bpp is the actual rate (rANS strings of at least a few bytes)
    assert report["bpp"] > 0 and report["bpp"] != report["bpp_estimated"]
    assert not any(k.startswith("selection/") for k in report if k != "selection")


def test_no_report_option(cityscapes_root, tmp_path):
    from ttc_mmseg.launch import train

    cfg = write_tiny_config(
        tmp_path / "tiny.py",
        PROPOSED,
        cityscapes_root,
        max_epochs=1,
        extra="visualizer = dict(name='visualizer_no_report')",
    )
    train([str(cfg), "--work-dir", str(tmp_path / "work"), "--no-report"])
    assert read_report(tmp_path / "work") is None


def test_without_a_best_checkpoint_the_final_model_is_reported(cityscapes_root, tmp_path):
    from ttc_mmseg.launch import train

    cfg = write_tiny_config(
        tmp_path / "tiny.py",
        PROPOSED,
        cityscapes_root,
        max_epochs=1,
        extra="visualizer = dict(name='visualizer_last')",
    )
    work = tmp_path / "work"
    train(
        [
            str(cfg),
            "--work-dir",
            str(work),
            "--cfg-options",
            "default_hooks.checkpoint.save_best=None",
        ]
    )
    report = read_report(work)
    assert report["selection"]["rule"] == "last" and report["selection"]["metric"] is None
    assert Path(report["checkpoint"]).name == "epoch_1.pth" and report["iteration"] == 2
    assert report["bpp"] > 0
