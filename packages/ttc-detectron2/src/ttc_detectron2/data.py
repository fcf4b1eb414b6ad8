"""Registering COCO-format datasets from the command line (``--register-coco``).

Detectron2's builtin names (``coco_2017_train``, ``coco_2017_val``, found under
``$DETECTRON2_DATASETS``) need nothing. Any other COCO-format dataset is registered with
``register_coco_instances``; tools/train_net.py does it in every worker process for each
``--register-coco NAME=JSON:IMAGE_ROOT`` argument (the JSON path and the image folder are split
at the last ``:``).

In a LazyConfig file, :func:`register_coco` does the same where a dataset name is expected, so
Detectron2's stock ``tools/lazyconfig_train_net.py`` can train on any COCO-format data::

    dataloader.train.dataset.names = L(register_coco)(
        name="mine_train", json_file="ann/train.json", image_root="images/train")
"""

from __future__ import annotations

import os

from detectron2.data import DatasetCatalog
from detectron2.data.datasets import register_coco_instances

__all__ = ["parse_coco_spec", "register_coco", "register_coco_spec"]


def parse_coco_spec(spec: str) -> tuple[str, str, str]:
    """``"NAME=JSON:IMAGE_ROOT"`` → ``(name, json_file, image_root)``."""
    name, sep, rest = spec.partition("=")
    json_file, sep2, image_root = rest.rpartition(":")
    if not (name and sep and sep2 and json_file and image_root):
        raise ValueError(
            f"--register-coco expects NAME=JSON:IMAGE_ROOT (e.g. "
            f"mini_train=data/mini/train.json:data/mini/images), got {spec!r}"
        )
    return name, json_file, image_root


def register_coco(name: str, json_file: str, image_root: str) -> str:
    """Register a COCO-format detection dataset as ``name`` (idempotent); returns ``name``."""
    if not os.path.isfile(json_file):
        raise FileNotFoundError(f"dataset {name!r}: no annotation file {json_file}")
    if not os.path.isdir(image_root):
        raise FileNotFoundError(f"dataset {name!r}: no image folder {image_root}")
    if name not in DatasetCatalog.list():
        register_coco_instances(name, {}, os.path.abspath(json_file), os.path.abspath(image_root))
    return name


def register_coco_spec(spec: str) -> str:
    """Register the dataset of a ``"NAME=JSON:IMAGE_ROOT"`` spec (idempotent); returns NAME."""
    return register_coco(*parse_coco_spec(spec))
