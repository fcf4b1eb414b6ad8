"""tools/train_net.py end to end on a generated tiny COCO dataset (subprocesses, CPU).

One short training run (4 iterations) is shared by the tests of this module; each test then
checks one point: losses in metrics.json, trained bottleneck, the selection evaluation and the
reported one (ttc_report.json), --eval-only reproduction, --resume.
"""

from __future__ import annotations

import json
import math
import shutil

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

EVAL_KEYS = ("bbox/AP", "bbox/AP50", "ttc/bpp_estimated", "ttc/bpp", "ttc/psnr_direct")


def _train_args(root, out, *opts, flags=()):
    args = [str(TRAIN_NET), "--config-file", str(TINY_YAML), *flags]
    for spec in coco_specs(root):
        args += ["--register-coco", spec]
    return args + [
        "DATASETS.TRAIN",
        f"('{TRAIN}',)",
        "DATASETS.TEST",
        f"('{VAL}',)",
        "OUTPUT_DIR",
        str(out),
        *opts,
    ]


@pytest.fixture(scope="module")
def run(coco_root, tmp_path_factory):
    """Initial weights written here, then 4 training iterations + the final evaluation."""
    from detectron2.modeling import build_model

    out = tmp_path_factory.mktemp("train_net")
    torch.manual_seed(0)
    init = build_model(tiny_cfg()).state_dict()
    torch.save({"model": init}, out / "init.pth")
    log = run_script(_train_args(coco_root, out / "run", "MODEL.WEIGHTS", str(out / "init.pth")))
    return {"root": coco_root, "dir": out / "run", "init": init, "log": log, "base": out}


def _selection_record(metrics):
    evals = [m for m in metrics if "selection/ttc/bpp_estimated" in m]
    assert evals, "no selection evaluation in metrics.json"
    return evals[-1]


def _report(run_dir):
    from ttc_core.selection import read_report

    report = read_report(run_dir)
    assert report is not None, f"no ttc_report.json in {run_dir}"
    return report


def test_metrics_hold_the_ttc_losses_and_logs(run):
    metrics = read_metrics(run["dir"] / "metrics.json")
    train = [m for m in metrics if "total_loss" in m]
    assert train, "no training record in metrics.json"
    for m in train:
        assert {"loss_rate", "loss_recon", "loss_cls", "loss_rpn_cls"} <= set(m)
        assert {"bottleneck/bpp_estimated", "bottleneck/psnr_direct"} <= set(m)
        assert math.isfinite(m["loss_rate"]) and math.isfinite(m["loss_recon"])
    assert max(m["iteration"] for m in train) == 3


def test_bottleneck_parameters_change(run):
    ckpt = torch.load(run["dir"] / "model_final.pth", weights_only=True)
    final = ckpt["model"]
    changed = {
        part: any(
            not torch.equal(final[k], v)
            for k, v in run["init"].items()
            if k.startswith(f"backbone.bottleneck.{part}.")
        )
        for part in ("analysis", "task_synthesis", "reconstruction_synthesis", "entropy_model")
    }
    assert all(changed.values()), changed
    # the checkpoint carries the codec spec for `ttc compress`
    assert ckpt["ttc_codec"]["base"]["prefix"] == "backbone.bottleneck."
    assert ckpt["ttc_codec"]["base"]["kwargs"]["latent_channels"] == 16


def test_evaluation_prints_ap_and_rate(run):
    log = run["log"]
    assert "copypaste: Task: bbox" in log and "copypaste: AP,AP50,AP75" in log
    assert "copypaste: Task: ttc" in log
    assert "bpp_estimated" in log and "psnr_direct" in log
    # the selection split, evaluated after the last iteration, logged with its prefix
    selection = _selection_record(read_metrics(run["dir"] / "metrics.json"))
    for key in EVAL_KEYS:
        assert f"selection/{key}" in selection, key
        assert key not in selection  # the reported split is not in the training log
    # the reported split: once, at the end, the best checkpoint, real bits
    report = _report(run["dir"])
    for key in EVAL_KEYS:
        assert key in report, key
    assert report["ttc/bpp"] > 0 and report["ttc/bpp_estimated"] > 0
    assert report["dataset"] == VAL and report["checkpoint"].endswith("model_best.pth")
    assert report["selection"]["metric"] == "selection/bbox/AP"
    assert report["selection"]["dataset"] == f"{TRAIN}:selection"
    per_image = json.loads((run["dir"] / "inference" / VAL / "ttc_rate.json").read_text())
    assert len(per_image["images"]) == 2
    sel = json.loads(
        (run["dir"] / "inference" / f"{TRAIN}:selection" / "ttc_rate.json").read_text()
    )
    assert len(sel["images"]) == 1


def test_eval_only_reproduces_the_reported_evaluation(run):
    out = run["base"] / "eval_only"
    report = _report(run["dir"])
    log = run_script(
        _train_args(
            run["root"],
            out,
            "MODEL.WEIGHTS",
            report["checkpoint"],
            flags=["--eval-only"],
        )
    )
    assert "copypaste: Task: ttc" in log
    results = json.loads((out / "eval_results.json").read_text())
    flat = {f"{task}/{k}": v for task, res in results.items() for k, v in res.items()}
    assert not (out / "ttc_report.json").exists()  # --eval-only only evaluates
    for key in EVAL_KEYS:
        a, b = flat[key], report[key]
        assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-6, abs=1e-9), key


def test_resume_continues_from_the_checkpoint(run):
    # saving the best checkpoint does not move the tag --resume reads
    assert (run["dir"] / "last_checkpoint").read_text().strip() == "model_final.pth"
    resumed = run["base"] / "resumed"
    shutil.copytree(run["dir"], resumed)
    before = read_metrics(resumed / "metrics.json")
    log = run_script(_train_args(run["root"], resumed, "SOLVER.MAX_ITER", "6", flags=["--resume"]))
    assert "Starting training from iteration 4" in log
    metrics = read_metrics(resumed / "metrics.json")
    new = metrics[len(before) :]
    train_iters = sorted(m["iteration"] for m in new if "loss_rate" in m)
    assert train_iters and train_iters[0] >= 4 and train_iters[-1] == 5
    final = torch.load(resumed / "model_final.pth", weights_only=True)
    assert final["iteration"] == 5
    # the best of both parts of the run is reported
    report = _report(resumed)
    assert report["iteration"] in (4, 6)  # the selection evaluations after iterations 4 and 6
    assert torch.load(report["checkpoint"], weights_only=True)["iteration"] == report["iteration"]
