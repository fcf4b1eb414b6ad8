"""Task decoders for ``ttc decompress --task-output``: a decoded stream → the task's output.

The codec spec of a :class:`~ttc_mmseg.enhancement.TTCEnhancementSegmentor` checkpoint names
the task decoder ``"segmentation"``, which this package registers in the entry-point group
``ttc.task_decoders`` (``pyproject.toml``) for :func:`segmentation_map`, and records the
task network (backbone / neck / decode head configs and their state-dict prefixes) under
``spec["enhancement"]["task_network"]``. ttc-core's CLI decodes ŷ_b and ŷ_e from the file,
runs ``g_e`` to the pseudo-image, and calls :func:`segmentation_map` with the checkpoint path
and that :class:`~ttc_core.codec.DecodedStream`; nothing else (no config, no base checkpoint)
is needed::

    ttc decompress frame.ttc -c seg_enhancement.pth -o labels.png --task-output
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ttc_core.checkpoint import (
    CheckpointError,
    find_codec_spec,
    load_checkpoint,
    state_dict_of,
    sub_state_dict,
)

__all__ = ["SegmentationNetwork", "segmentation_map"]


def _cpu_norm(cfg: Any) -> Any:
    """``SyncBN`` (multi-GPU training) → ``BN``: the same weights, usable in one process."""
    if isinstance(cfg, Mapping):
        out = {k: _cpu_norm(v) for k, v in cfg.items()}
        if out.get("type") in ("SyncBN", "MMSyncBN"):
            out["type"] = "BN"
        return out
    if isinstance(cfg, list):
        return [_cpu_norm(v) for v in cfg]
    return cfg


class SegmentationNetwork(nn.Module):
    """Backbone (+ neck) + decode head on the enhancement pseudo-image, in eval mode."""

    def __init__(self, network: Mapping[str, Any], state: Mapping[str, Tensor]):
        super().__init__()
        from mmengine.registry import DefaultScope
        from mmseg.registry import MODELS

        import ttc_mmseg  # noqa: F401  (registers the heads)

        prefix = network.get("prefix") or {}
        with DefaultScope.overwrite_default_scope("mmseg"):
            self.backbone = MODELS.build(_cpu_norm(network["backbone"]))
            self.neck = MODELS.build(_cpu_norm(network["neck"])) if network.get("neck") else None
            self.decode_head = MODELS.build(_cpu_norm(network["decode_head"]))
        for name in ("backbone", "neck", "decode_head"):
            module = getattr(self, name)
            if module is None:
                continue
            key = prefix.get(name, f"{name}.")
            try:
                module.load_state_dict(sub_state_dict(state, key))
            except RuntimeError as exc:
                raise CheckpointError(
                    f"task network weights under {key!r} do not fit: {exc}"
                ) from exc
        self.eval()

    @torch.no_grad()
    def forward(self, pseudo_image: Tensor, size: tuple[int, int]) -> Tensor:
        """Class logits at ``size`` (the frame) from a pseudo-image ``(N, 3, h, w)``."""
        feats = self.backbone(pseudo_image)
        if self.neck is not None:
            feats = self.neck(feats)
        logits = self.decode_head.forward(feats)
        to_frame = getattr(self.decode_head, "to_frame", None)
        if to_frame is not None:
            return to_frame(logits, size)
        from mmseg.models.utils import resize

        return resize(logits, size=size, mode="bilinear", align_corners=False)


def load_segmentation_network(checkpoint: str | os.PathLike) -> SegmentationNetwork:
    """The task network of a segmentation-enhancement checkpoint (see the module docstring)."""
    ckpt = load_checkpoint(checkpoint)
    spec = find_codec_spec(ckpt)
    network = ((spec or {}).get("enhancement") or {}).get("task_network")
    if not network:
        raise CheckpointError(
            f"{os.fspath(checkpoint)} records no task network (spec['enhancement']"
            "['task_network']): it is not a TTCEnhancementSegmentor checkpoint"
        )
    return SegmentationNetwork(network, state_dict_of(ckpt))


def segmentation_map(checkpoint: str | os.PathLike, decoded) -> np.ndarray:
    """Cityscapes trainId map (``uint8``, H×W of the coded frame) of a decoded stream.

    ``decoded`` is ttc-core's ``DecodedStream`` with an enhancement layer: its
    ``enhancement_output`` is the pseudo-image ``g_e(ŷ_e)``; the map has the frame's size
    (``header.height × header.width``), as the segmentor's prediction.
    """
    if decoded.enhancement_output is None:
        raise ValueError("the stream has no enhancement layer: compress with --layers all")
    net = load_segmentation_network(checkpoint)
    pseudo = decoded.enhancement_output.float().cpu()
    size = (int(decoded.header.height), int(decoded.header.width))
    logits = net(pseudo, size)
    labels = logits.argmax(dim=1)[0]
    if int(labels.max()) > 254:
        raise ValueError("more than 255 classes do not fit a uint8 label map")
    return labels.to(torch.uint8).numpy()
