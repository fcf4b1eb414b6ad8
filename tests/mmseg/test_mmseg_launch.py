"""The launchers: tools/train.py, tools/test.py, MMSeg's own tools, torchrun on CPU (gloo)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from ttc_mmseg_testutils import PROPOSED, REPO, write_tiny_config

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable


def env(**extra) -> dict:
    e = dict(os.environ, OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="", PYTHONHASHSEED="0")
    e["PYTHONPATH"] = os.pathsep.join([str(HERE), *filter(None, [os.environ.get("PYTHONPATH")])])
    e.update(extra)
    return e


def run(cmd, timeout=600, **kw):
    proc = subprocess.run(
        [str(c) for c in cmd],
        cwd=REPO,
        env=env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        **kw,
    )
    return proc


def test_train_then_test_from_the_command_line(cityscapes_root, tmp_path):
    cfg = write_tiny_config(tmp_path / "tiny.py", PROPOSED, cityscapes_root, max_epochs=1)
    work = tmp_path / "work"
    proc = run([PYTHON, "tools/train.py", cfg, "--work-dir", work])
    assert proc.returncode == 0, proc.stderr[-3000:]
    ckpt = work / "epoch_1.pth"
    assert ckpt.exists()
    # the reported evaluation of the chosen checkpoint (one epoch: the only one), real bits
    report = json.loads((work / "ttc_report.json").read_text())
    assert report["split"] == "report" and report["bpp"] > 0 and report["rmse"] > 0
    assert Path(report["checkpoint"]).name == "best_selection_rmse_epoch_1.pth"
    proc = run(
        [
            PYTHON,
            "tools/test.py",
            cfg,
            ckpt,
            "--work-dir",
            work / "test",
            "--cfg-options",
            "model.test_cfg.actual_bits=True",
        ]
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = [json.loads(p.read_text()) for p in (work / "test").glob("*/[0-9]*_[0-9]*.json")]
    assert len(results) == 1, list((work / "test").rglob("*"))
    metrics = results[0]
    assert metrics["rmse"] > 0 and metrics["bpp_estimated"] > 0 and metrics["bpp"] > 0
    assert metrics["psnr_direct"] > 0
    # the same checkpoint, the same split, the same real bits as the report
    assert metrics["bpp"] == pytest.approx(report["bpp"])
    assert metrics["rmse"] == pytest.approx(report["rmse"])


def test_train_refuses_a_config_without_custom_imports(cityscapes_root, tmp_path):
    cfg = write_tiny_config(
        tmp_path / "tiny.py", PROPOSED, cityscapes_root, extra="custom_imports = dict(imports=[])"
    )
    proc = run([PYTHON, "tools/train.py", cfg, "--work-dir", tmp_path / "work"])
    assert proc.returncode != 0
    assert "custom_imports = dict(imports=['ttc_mmseg']" in proc.stderr
    assert "TTCConfigError" in proc.stderr


def test_train_refuses_a_config_that_selects_on_the_reported_split(cityscapes_root, tmp_path):
    cfg = write_tiny_config(
        tmp_path / "tiny.py",
        PROPOSED,
        cityscapes_root,
        extra="test_evaluator = {{_base_.val_evaluator}}",
    )
    proc = run([PYTHON, "tools/train.py", cfg, "--work-dir", tmp_path / "work"])
    assert proc.returncode != 0
    assert "TTCConfigError" in proc.stderr and "metrics are unprefixed" in proc.stderr
    assert not (tmp_path / "work").exists()  # refused before anything ran


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_process_cpu_training_keeps_ranks_identical(cityscapes_root, tmp_path):
    """torchrun, gloo, --launcher pytorch, MMEngine's runner and DDP; no GPU."""
    cfg = write_tiny_config(
        tmp_path / "tiny.py",
        PROPOSED,
        cityscapes_root,
        max_epochs=2,
        extra=(
            "custom_imports = dict(imports=['ttc_mmseg', 'ttc_rank_dump_hook'])\n"
            "custom_hooks = [dict(type='TTCCheckpointHook'), dict(type='RankParamDumpHook')]"
        ),
    )
    work = tmp_path / "work"
    torchrun = Path(PYTHON).with_name("torchrun")
    proc = run(
        [
            torchrun,
            "--nnodes",
            "1",
            "--nproc_per_node",
            "2",
            "--master_addr",
            "127.0.0.1",
            "--master_port",
            free_port(),
            "tools/train.py",
            cfg,
            "--launcher",
            "pytorch",
            "--work-dir",
            work,
        ],
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-5000:]
    dumps = [torch.load(work / f"params_rank{r}.pt") for r in (0, 1)]
    assert [d["world_size"] for d in dumps] == [2, 2]
    assert all(d["wrapper"] == "MMDistributedDataParallel" for d in dumps)
    a, b = (d["params"] for d in dumps)
    assert a.keys() == b.keys() and any("bottleneck" in k for k in a)
    for key in a:
        assert torch.equal(a[key], b[key]), key
    # and training happened: 2 epochs of 1 iteration per rank
    assert (work / "epoch_2.pth").exists()
    # one report, by the first rank, over the whole reported split (both ranks' frames)
    report = json.loads((work / "ttc_report.json").read_text())
    assert report["num_images"] == 2 and report["bpp"] > 0


@pytest.mark.slow
def test_mmsegs_own_train_script_runs_the_shipped_config(cityscapes_root, tmp_path):
    import mmseg

    script = Path(mmseg.__file__).parent / ".mim" / "tools" / "train.py"
    if not script.exists():
        pytest.skip("this mmseg install ships no .mim/tools/train.py")
    cfg = write_tiny_config(tmp_path / "tiny.py", PROPOSED, cityscapes_root, max_epochs=1)
    proc = run([PYTHON, script, cfg, "--work-dir", tmp_path / "work"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    ckpt = torch.load(tmp_path / "work" / "epoch_1.pth", map_location="cpu", weights_only=False)
    assert "ttc_codec" in ckpt
