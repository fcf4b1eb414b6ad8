"""End to end through MMEngine's Runner, from the shipped proposed config made tiny."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from ttc_mmseg_testutils import FRAME, PROPOSED, tiny_config

import ttc_mmseg  # noqa: F401


def read_scalars(work_dir: Path) -> list[dict]:
    records = []
    for path in sorted(work_dir.glob("*/vis_data/scalars.json")):
        records += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return records


def read_logs(work_dir: Path) -> str:
    return "\n".join(p.read_text() for p in sorted(work_dir.glob("*/*.log")))


@pytest.fixture(scope="module")
def trained(cityscapes_root, tmp_path_factory):
    """2 epochs × 2 iterations (4 of the 5 training frames, batch 2), validation on the
    selection split (the fifth frame) after each epoch."""
    from mmengine.runner import Runner

    work = tmp_path_factory.mktemp("work")
    runner = Runner.from_cfg(tiny_config(PROPOSED, cityscapes_root, work, max_epochs=2))
    before = {k: v.clone() for k, v in runner.model.backbone.bottleneck.state_dict().items()}
    runner.train()
    return runner, work, before


def test_losses_are_logged(trained):
    _, work, _ = trained
    train = [r for r in read_scalars(work) if "loss" in r]
    assert len(train) == 4  # logger interval 1
    for record in train:
        for key in ("decode.loss_depth", "loss_rate", "loss_recon", "bpp_estimated", "psnr_direct"):
            assert key in record, (key, sorted(record))
        assert "bpp" not in record  # training rates are estimates
        total = record["decode.loss_depth"] + record["loss_rate"] + record["loss_recon"]
        assert record["loss"] == pytest.approx(total, rel=1e-4)


def test_the_codec_loss_in_force_is_logged(trained):
    _, work, _ = trained
    assert "codec loss in force: mode=proposed, alpha=1.0, beta=0.1" in read_logs(work)


def test_bottleneck_parameters_change(trained):
    runner, _, before = trained
    after = runner.model.backbone.bottleneck.state_dict()
    changed = {k.split(".")[0] for k in before if not torch.equal(before[k], after[k])}
    assert {"analysis", "entropy_model", "task_synthesis", "reconstruction_synthesis"} <= changed


def test_validation_reports_disparity_rmse_and_rate_of_the_selection_split(trained):
    _, work, _ = trained
    val = [r for r in read_scalars(work) if "selection/rmse" in r]
    assert len(val) == 2  # one per epoch
    for record in val:
        assert record["selection/rmse"] > 0 and record["selection/bpp_estimated"] > 0
        assert 0 <= record["selection/delta1"] <= 1 and record["selection/psnr_direct"] > 0
        # no real bits were coded: no bpp; no unprefixed (reported-split) metric
        assert "selection/bpp" not in record and "rmse" not in record
    log = read_logs(work)
    assert "disparity RMSE [px]" in log and "bpp (estimated)" in log
    assert "direct reconstruction PSNR" in log and "bpp (actual)" not in log
    assert (work / "best_selection_rmse_epoch_2.pth").exists() or (
        work / "best_selection_rmse_epoch_1.pth"
    ).exists()


def test_bpp_is_present_only_with_real_bits(trained):
    """No ``bpp`` key carries an estimate: the reported split's metrics without and with real
    bitstreams."""
    from ttc_mmseg.selection import real_bits

    runner = trained[0]
    estimated = runner.test_loop.run()
    assert "bpp" not in estimated and estimated["bpp_estimated"] > 0
    with real_bits(runner.model):
        actual = runner.test_loop.run()
    assert actual["bpp_estimated"] == pytest.approx(estimated["bpp_estimated"])
    # 8 × the rANS string length per frame: at least one byte, near the estimate
    assert actual["bpp"] >= 8 / (FRAME[0] * FRAME[1])
    assert abs(actual["bpp"] - actual["bpp_estimated"]) < 0.1 * actual["bpp_estimated"] + 64 / (
        FRAME[0] * FRAME[1]
    )


def test_checkpoint_carries_the_codec_spec_and_ttc_core_rebuilds_it(trained, tmp_path):
    from PIL import Image

    from ttc_core.cli import main as ttc

    _, work, _ = trained
    ckpt = work / "epoch_2.pth"
    # torch >= 2.6 default weights_only=True: works because ttc_mmseg allows the numpy /
    # HistoryBuffer types MMEngine pickles
    data = torch.load(ckpt, map_location="cpu")
    assert data["ttc_codec"]["base"]["prefix"] == "backbone.bottleneck."
    image = tmp_path / "frame.png"
    Image.new("RGB", FRAME[::-1], (90, 120, 60)).save(image)
    # compress in a process that never imports MMSegmentation / MMEngine
    code = (
        "import sys; from ttc_core.cli import main; rc = main(sys.argv[1:]); "
        "assert not any(m.split('.')[0] in ('mmseg', 'mmengine', 'mmcv', 'ttc_mmseg') "
        "for m in sys.modules), 'framework imported'; sys.exit(rc)"
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "compress",
            str(image),
            "-c",
            str(ckpt),
            "-o",
            str(tmp_path / "f.ttc"),
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    # decompress in this process (its safe_globals context must not break later resumes)
    assert (
        ttc(
            [
                "decompress",
                str(tmp_path / "f.ttc"),
                "-c",
                str(ckpt),
                "-o",
                str(tmp_path / "out.png"),
            ]
        )
        == 0
    )
    assert (tmp_path / "out.png").exists()


def test_resume_continues_training(trained, cityscapes_root, tmp_path):
    import shutil

    from mmengine.runner import Runner

    work = tmp_path / "work"
    shutil.copytree(trained[1], work)
    cfg = tiny_config(PROPOSED, cityscapes_root, work, max_epochs=3)
    cfg.resume = True
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.epoch == 3 and runner.iter == 6
    # (a second Runner in one process reuses the first one's visualiser, so read the log)
    log = (work / runner.timestamp / f"{runner.timestamp}.log").read_text()
    assert "resumed epoch: 2, iter: 4" in log
    assert "Epoch(train) [1]" not in log and "Epoch(train) [3]" in log
    assert "Epoch(val) [3][1/1]    selection/rmse:" in log
    assert (work / "epoch_3.pth").exists()


def test_metric_depth_variant_runs_with_mmsegs_depth_metric(cityscapes_root, tmp_path):
    import math

    from mmengine.runner import Runner
    from ttc_mmseg_testutils import METRIC_DEPTH

    cfg = tiny_config(METRIC_DEPTH, cityscapes_root, tmp_path / "work", max_epochs=1)
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.val()
    # ours (metres) and mmseg's DepthMetric side by side, told apart by its prefix
    assert metrics["selection/rmse"] > 0 and metrics["selection/bpp_estimated"] > 0
    for key in ("mmseg/rmse", "mmseg/d1", "mmseg/abs_rel", "mmseg/silog"):
        assert math.isfinite(metrics[f"selection/{key}"]), key
    metrics = runner.test()  # the reported split: unprefixed
    assert metrics["rmse"] > 0 and math.isfinite(metrics["mmseg/rmse"])
