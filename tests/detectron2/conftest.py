"""Fixtures of the Detectron2 adapter tests: a generated tiny COCO dataset and a tiny config."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("detectron2.modeling", reason="Detectron2 is not installed (make install)")

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "configs" / "detectron2"
TINY_YAML = Path(__file__).with_name("tiny_ttc_R18.yaml")
TRAIN_NET = REPO / "tools" / "train_net.py"
TRAIN, VAL = "ttc_tiny_coco_train", "ttc_tiny_coco_val"


@pytest.fixture(scope="session")
def coco_root(tmp_path_factory) -> Path:
    """4 train + 2 val generated street scenes (64×96) in the COCO 2017 layout."""
    from ttc_core.datasets import write_coco_dataset

    root = tmp_path_factory.mktemp("coco")
    write_coco_dataset(root, num_train=4, num_val=2, size=(64, 96), seed=0)
    return root


def coco_specs(root: Path) -> list[str]:
    """``--register-coco`` arguments of the tiny dataset."""
    return [
        f"{TRAIN}={root}/annotations/instances_train2017.json:{root}/train2017",
        f"{VAL}={root}/annotations/instances_val2017.json:{root}/val2017",
    ]


@pytest.fixture(scope="session")
def registered(coco_root) -> tuple[str, str]:
    """The tiny dataset, registered in this process."""
    from ttc_detectron2.data import register_coco_spec

    for spec in coco_specs(coco_root):
        register_coco_spec(spec)
    return TRAIN, VAL


def tiny_cfg(*opts, mode: str = "proposed"):
    """The tiny config (ResNet-18, 16-channel latent) with ``opts`` overrides.

    ``mode="baseline"`` also sets β = 0 (a Baseline with another β is refused).
    """
    from detectron2.config import get_cfg

    from ttc_detectron2 import add_ttc_config

    cfg = get_cfg()
    add_ttc_config(cfg)
    cfg.merge_from_file(str(TINY_YAML))
    cfg.merge_from_list(
        [
            "MODEL.TTC.MODE",
            mode,
            *(["MODEL.TTC.BETA", 0.0] if mode == "baseline" else []),
            "DATASETS.TRAIN",
            f"('{TRAIN}',)",
            "DATASETS.TEST",
            f"('{VAL}',)",
            *opts,
        ]
    )
    return cfg


def run_script(args: list[str], timeout: int = 600, cwd: Path = REPO) -> str:
    """Run a Python script in a subprocess (1 thread); return stdout+stderr, fail on rc != 0."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    proc = subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(args[:2])} failed (rc {proc.returncode}):\n{out[-6000:]}")
    return out


def read_metrics(path: Path) -> list[dict]:
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]
