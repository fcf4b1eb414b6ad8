"""Checkpoints of ttc detectors: the codec spec inside, and safe loading under torch >= 2.6.

- **Codec spec.** ``ttc compress -c model_final.pth`` rebuilds the codec without Detectron2
  from the ``"ttc_codec"`` entry (:mod:`ttc_core.checkpoint`). :class:`TTCCheckpointer` (used by
  tools/train_net.py) writes it at the top level of every checkpoint. The spec also travels
  inside the model's state dict (``backbone._extra_state``, see
  :class:`~ttc_detectron2.backbone.TTCBackbone`), so checkpoints written by any checkpointer
  (e.g. Detectron2's stock ``tools/lazyconfig_train_net.py``) carry it too (the enhancement
  layer's model describes both layers, in its own ``_extra_state``);
  :func:`ttc_core.checkpoint.find_codec_spec` reads either place.
- **weights_only.** torch >= 2.6 unpickles checkpoints with ``weights_only=True``; fvcore's
  checkpointer relies on that default. Framework checkpoints may hold numpy scalars/arrays in
  their metadata, which the safe unpickler refuses. Importing this module allows exactly the
  numpy data types listed by :func:`ttc_core.checkpoint.safe_numpy_globals` (data, never code),
  so ``--resume`` keeps working with the safety on.
"""

from __future__ import annotations

from typing import Any

import torch
from detectron2.checkpoint import DetectionCheckpointer
from torch.nn.parallel import DataParallel, DistributedDataParallel

from ttc_core.checkpoint import register_safe_globals

from .backbone import TTCBackbone

__all__ = ["TTCCheckpointer", "find_ttc_backbone"]


# numpy data types (only) in torch.load(weights_only=True), for fvcore's resume
register_safe_globals()


def find_ttc_backbone(model: torch.nn.Module) -> TTCBackbone | None:
    """The :class:`TTCBackbone` of a (possibly DDP-wrapped) model, or None."""
    model = _unwrap(model)
    backbone = getattr(model, "backbone", None)
    return backbone if isinstance(backbone, TTCBackbone) else None


class TTCCheckpointer(DetectionCheckpointer):
    """``DetectionCheckpointer`` that writes the ``"ttc_codec"`` spec into every checkpoint,
    and the objective in force (``"ttc_objective"``: mode, α, β, probe weight of a detector;
    stage and α of an enhancement layer), so a Baseline's checkpoint says β = 0."""

    def save(self, name: str, **kwargs: Any) -> None:
        source = find_ttc_backbone(self.model) or _codec_model(self.model)
        if source is not None and "ttc_codec" not in kwargs:
            kwargs["ttc_codec"] = source.codec_spec()
        objective = getattr(_unwrap(self.model), "objective", None)
        if callable(objective) and "ttc_objective" not in kwargs:
            kwargs["ttc_objective"] = objective()
        super().save(name, **kwargs)

    def _load_model(self, checkpoint: Any):
        # A state dict's codec spec (``*_extra_state``) describes the model that saved it; the
        # loading model describes itself and ignores it (``set_extra_state``). Drop it before
        # fvcore compares shapes, which would warn about a spec of another length (e.g. a
        # conditional enhancement model loaded for its Standalone retraining).
        state = checkpoint.get("model")
        if isinstance(state, dict):
            for key in [k for k in state if k.endswith("_extra_state")]:
                del state[key]
        return super()._load_model(checkpoint)


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    if isinstance(model, (DistributedDataParallel, DataParallel)):
        return model.module
    return model


def _codec_model(model: torch.nn.Module) -> torch.nn.Module | None:
    """A (possibly DDP-wrapped) model that describes its own codec (the enhancement layer)."""
    model = _unwrap(model)
    return model if callable(getattr(model, "codec_spec", None)) else None
