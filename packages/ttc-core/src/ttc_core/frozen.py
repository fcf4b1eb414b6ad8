"""The trained base layer of any ttc checkpoint, frozen: what every enhancement stage starts from.

Stage 2 of de Andrade & Bajić (METHOD §2) trains an enhancement layer on a **frozen** base.
Both adapters (Detectron2's ``TTCReconstructionEnhancement``, MMSegmentation's enhancement
segmentors) load it the same way, here::

    checkpoint ─ "ttc_codec" spec ─┬─ base: BaseBottleneck(**kwargs) ◀─ weights under its prefix
                                   └─ base_downsample: Downsample | None
                 ─▶ eval mode, no gradients, coder tables built, masked taps zeroed

Only the codec is rebuilt (the spec says how); the base's task network is not needed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from compressai.layers import MaskedConv2d
from torch import nn

from .bottleneck import BaseBottleneck
from .checkpoint import (
    CheckpointError,
    find_codec_spec,
    load_checkpoint,
    state_dict_of,
    sub_state_dict,
)
from .layers import Downsample

__all__ = ["FrozenBaseLayer", "freeze", "load_frozen_base"]


@dataclass
class FrozenBaseLayer:
    """A trained base layer as loaded by :func:`load_frozen_base`."""

    bottleneck: BaseBottleneck
    downsample: Downsample | None  #: the learned downsample before ``f`` (Cityscapes), or None
    spec: dict[str, Any]  #: the checkpoint's codec spec
    source: str  #: the checkpoint file

    @property
    def bottleneck_kwargs(self) -> dict[str, Any]:
        return dict(self.spec["base"]["kwargs"])

    @property
    def downsample_kwargs(self) -> dict[str, Any] | None:
        down = self.spec.get("base_downsample")
        return dict(down["kwargs"]) if down else None


def freeze(module: nn.Module) -> nn.Module:
    """Eval mode, no gradients, and every masked convolution's masked taps zeroed once.

    CompressAI's ``MaskedConv2d`` multiplies its weight by the mask in place on every forward
    (a training checkpoint holds non-zero values there: the taps get gradients between
    forwards). Doing it once changes no output and keeps a frozen module's state dict constant
    from here on, bit for bit.
    """
    module.requires_grad_(False)
    for m in module.modules():
        if isinstance(m, MaskedConv2d):
            m.weight.data = m.weight.data * m.mask
    return module.eval()


def _build(kind: type, part: Mapping[str, Any], state: Mapping[str, Any], where: str) -> nn.Module:
    module = kind(**part["kwargs"])
    try:
        module.load_state_dict(sub_state_dict(state, part["prefix"]))
    except RuntimeError as exc:
        raise CheckpointError(f"the weights in {where} do not fit its codec spec: {exc}") from exc
    return module


def load_frozen_base(path: str | os.PathLike) -> FrozenBaseLayer:
    """The base layer (and learned downsample) of a checkpoint carrying a ``"ttc_codec"`` spec.

    Any ttc trainer's checkpoint works: a base layer's, or an enhancement model's, which holds
    its base too. Raises :class:`~ttc_core.checkpoint.CheckpointError` saying what is wrong.
    """
    path = os.fspath(path)
    ckpt = load_checkpoint(path)
    spec = find_codec_spec(ckpt)
    if spec is None or not isinstance(spec.get("base"), Mapping):
        raise CheckpointError(
            f"{path} carries no 'ttc_codec' spec with a base layer: it was not written by a ttc "
            "trainer (tools/train_net.py, tools/train.py with a ttc config)"
        )
    state = state_dict_of(ckpt)
    bottleneck = _build(BaseBottleneck, spec["base"], state, path)
    down = spec.get("base_downsample")
    downsample = _build(Downsample, down, state, path) if down else None
    bottleneck.update(force=True)
    freeze(bottleneck)
    if downsample is not None:
        freeze(downsample)
    return FrozenBaseLayer(bottleneck, downsample, dict(spec), path)
