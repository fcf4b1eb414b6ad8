"""Multi-process training on the CPU through Detectron2's own ``launch`` (gloo)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from .conftest import TINY_YAML, TRAIN, VAL, coco_specs, run_script


@pytest.mark.slow
def test_two_cpu_processes_train_identical_bottlenecks(coco_root, tmp_path):
    worker = Path(__file__).with_name("ddp_worker.py")
    args = [str(worker), "--num-gpus", "2", "--config-file", str(TINY_YAML)]
    for spec in coco_specs(coco_root):
        args += ["--register-coco", spec]
    args += [
        "DATASETS.TRAIN",
        f"('{TRAIN}',)",
        "DATASETS.TEST",
        f"('{VAL}',)",
        "OUTPUT_DIR",
        str(tmp_path),
        "SOLVER.MAX_ITER",
        "3",
        "SOLVER.IMS_PER_BATCH",
        "4",
        "MODEL.TTC.TEST_ACTUAL_BITS",
        "False",
    ]
    run_script(args)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert all(r["ddp"] and r["world_size"] == 2 for r in ranks)
    a, b = ranks[0]["bottleneck"], ranks[1]["bottleneck"]
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)
    # the selection split and the reported one work across processes: one report, real bits
    from ttc_core.selection import read_report

    report = read_report(tmp_path)
    assert report["dataset"] == VAL and report["ttc/num_images"] == 2 and "ttc/bpp" in report
    assert report["selection"]["dataset"] == f"{TRAIN}:selection"
    # and training moved them (rank 0's checkpoint of iteration 1 vs the final one)
    first = torch.load(tmp_path / "model_0000001.pth", weights_only=True)["model"]
    assert any(
        not torch.equal(first[f"backbone.bottleneck.{k}"], a[k])
        for k in a
        if k.startswith("analysis.")
    )
