"""Pretrained task-network weights by local path only, never from a hub.

A task network behind the bottleneck (``TTCBackbone(backbone=...)``, the enhancement
segmentor's ``backbone``) may start from pretrained weights, given as files:

- mmseg / MMEngine: ``init_cfg=dict(type='Pretrained', checkpoint='/path/weights.pth')``;
- mmseg's ``TIMMBackbone`` (any timm model): ``pretrained=True,
  pretrained_cfg_overlay=dict(file='/path/weights.pth')`` (timm loads the file into the model
  before it keeps only its features), or ``pretrained=False`` for a random initialisation.
  ``TIMMBackbone``'s default ``pretrained=True`` without a file would download from a hub.

:func:`check_local_weights` refuses, before anything is built, a download or a missing file,
naming the config key; :func:`without_weights` is the backbone config a checkpoint's spec
stores (rebuilt by ``ttc decompress --task-output``, whose weights come from the checkpoint).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from typing import Any

__all__ = ["check_local_weights", "is_timm_backbone", "without_weights"]


def is_timm_backbone(cfg: Mapping) -> bool:
    return str(cfg.get("type", "")).split(".")[-1] == "TIMMBackbone"


def _check_file(key: str, path: Any, what: str) -> None:
    path = str(path)
    if "://" in path:
        raise ValueError(
            f"{key} = {path!r}: ttc loads {what} from local files only (download it yourself "
            "and give its path)"
        )
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{key} = {path!r}: no such file ({what})")


def check_local_weights(backbone: Mapping, key: str) -> None:
    """Refuse a backbone config that would download weights or names a missing file.

    Args:
        backbone: the backbone's config dict.
        key: its config key, for the messages (e.g. ``model.backbone.backbone``).
    """
    if is_timm_backbone(backbone):
        name = backbone.get("model_name", "MODEL")
        overlay = backbone.get("pretrained_cfg_overlay") or {}
        file = overlay.get("file") if isinstance(overlay, Mapping) else None
        if backbone.get("pretrained", True) and not file:
            raise ValueError(
                f"{key}: TIMMBackbone pretrained=True (its default) without a weights file "
                "would download from a hub, which ttc never does: set "
                f"{key}.pretrained=False (random initialisation), or "
                f"{key}.pretrained_cfg_overlay=dict(file='/path/to/{name}.pth') with "
                "pretrained=True"
            )
        if file:
            _check_file(f"{key}.pretrained_cfg_overlay.file", file, f"timm {name} weights")
        if backbone.get("checkpoint_path"):
            _check_file(f"{key}.checkpoint_path", backbone["checkpoint_path"], "a checkpoint")
    init = backbone.get("init_cfg")
    if isinstance(init, Mapping) and init.get("type") == "Pretrained" and init.get("checkpoint"):
        _check_file(f"{key}.init_cfg.checkpoint", init["checkpoint"], "pretrained weights")


def without_weights(backbone: Mapping) -> dict:
    """The backbone config without any source of initial weights (a spec's copy)."""
    out = copy.deepcopy(dict(backbone))
    out.pop("init_cfg", None)
    out.pop("pretrained", None)
    if is_timm_backbone(out):
        out.pop("pretrained_cfg_overlay", None)
        out.pop("checkpoint_path", None)
        out["pretrained"] = False  # TIMMBackbone's default would download
    return out
