r"""timm feature extractors as the task network behind the ttc bottleneck.

::

    pseudo-image g_b(ŷ_b) ─ timm model (features_only) ─ res2 … res5 ─ Detectron2 FPN ─ p2 … p6

``MODEL.TTC.INNER: build_timm_fpn_backbone`` puts any timm model that supports
``features_only=True`` behind the base layer, as ``build_resnet_fpn_backbone`` puts a ResNet.
Its features are named ``res<log2 stride>`` (stride 4 → ``res2``, …, 32 → ``res5``), so the
FPN's ``MODEL.FPN.IN_FEATURES`` of a ResNet config works unchanged for the usual strides.

- ``MODEL.TIMM.NAME`` / ``OUT_INDICES``: the model and the feature stages it returns.
- ``MODEL.TIMM.FREEZE_AT``: as ``MODEL.BACKBONE.FREEZE_AT`` for a ResNet: 0 trains
  everything, 1 freezes what precedes the first returned stage (the stem), k ≥ 2 also the
  first k − 1 returned stages.
- ``MODEL.TIMM.NORM``: ``"FrozenBN"`` (as ``MODEL.RESNETS.NORM``'s default: every batch norm
  becomes Detectron2's ``FrozenBatchNorm2d``) or ``"BN"`` (timm's own batch norms train;
  those of frozen stages are frozen all the same).
- ``MODEL.TIMM.WEIGHTS``: a local file of the timm model's weights (``timm.create_model(...,
  pretrained_cfg_overlay=dict(file=...))``; nothing is fetched from a hub). ``MODEL.WEIGHTS``
  (a whole detector) loads afterwards, as usual.

For LazyConfig files, :class:`TimmFeatures` is the bottom-up network of Detectron2's ``FPN``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import timm
from detectron2.config import CfgNode as CN
from detectron2.layers import ShapeSpec
from detectron2.modeling import BACKBONE_REGISTRY
from detectron2.modeling.backbone import FPN, Backbone
from detectron2.modeling.backbone.fpn import LastLevelMaxPool
from timm.layers import freeze_batch_norm_2d
from torch import Tensor, nn

from .errors import TTCConfigError

__all__ = ["TimmFeatures", "add_timm_config", "build_timm_fpn_backbone"]

NORMS = ("FrozenBN", "BN")


def add_timm_config(cfg) -> None:
    """Declare ``MODEL.TIMM.*`` (called by :func:`ttc_detectron2.add_ttc_config`)."""
    cfg.MODEL.TIMM = CN()
    # a timm model name with features_only support (timm.list_models() lists them)
    cfg.MODEL.TIMM.NAME = "resnet50"
    # the feature stages returned, as timm's out_indices (1–4: strides 4–32 for most models)
    cfg.MODEL.TIMM.OUT_INDICES = [1, 2, 3, 4]
    # 0: train all; 1: freeze the stem; k >= 2: also the first k - 1 returned stages
    cfg.MODEL.TIMM.FREEZE_AT = 2
    # "FrozenBN" (every batch norm frozen, as MODEL.RESNETS.NORM) or "BN" (timm's, trained)
    cfg.MODEL.TIMM.NORM = "FrozenBN"
    # local file of the timm model's weights ("" = random initialisation); never a hub
    cfg.MODEL.TIMM.WEIGHTS = ""


class TimmFeatures(Backbone):
    """A timm model's feature pyramid as a Detectron2 ``Backbone`` (``res2`` … ``res5``).

    Args:
        name: timm model name.
        out_indices: timm feature stages to return.
        in_channels: channels of the input (the pseudo-image's ``task_channels``).
        freeze_at: see the module docstring.
        norm: ``"FrozenBN"`` or ``"BN"``.
        weights: local weights file of the timm model, or ``""``.
        weights_key: the config key named in errors about ``weights``.
        out_features: the features returned (default: all of ``out_indices``), as a ResNet's
            ``out_features``; a LazyConfig FPN reads them as its ``in_features``.
    """

    def __init__(
        self,
        name: str,
        out_indices: Sequence[int] = (1, 2, 3, 4),
        in_channels: int = 3,
        freeze_at: int = 0,
        norm: str = "FrozenBN",
        weights: str = "",
        weights_key: str = "weights",
        out_features: Sequence[str] | None = None,
    ):
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
        if weights and not os.path.isfile(weights):
            raise FileNotFoundError(
                f"{weights_key} = {weights!r}: no such file (a local file of the timm model "
                f"{name!r}'s weights, e.g. torch.save(timm.create_model({name!r}).state_dict(), "
                "PATH); ttc never downloads weights)"
            )
        self.model = timm.create_model(
            name,
            pretrained=bool(weights),
            pretrained_cfg_overlay=dict(file=weights) if weights else None,
            features_only=True,
            out_indices=tuple(int(i) for i in out_indices),
            in_chans=int(in_channels),
        )
        info = self.model.feature_info
        self._names = []
        self._out_feature_channels, self._out_feature_strides = {}, {}
        for channels, stride in zip(info.channels(), info.reduction(), strict=True):
            feature = f"res{int(math.log2(stride))}"
            if feature in self._out_feature_channels:
                raise ValueError(
                    f"timm model {name!r} returns two features of stride {stride} for "
                    f"out_indices {list(out_indices)}: choose indices of distinct strides"
                )
            self._names.append(feature)
            self._out_feature_channels[feature] = channels
            self._out_feature_strides[feature] = stride
        if out_features is not None:
            unknown = [f for f in out_features if f not in self._names]
            if unknown:
                raise ValueError(
                    f"out_features {unknown} not among {self._names} of {name!r} with "
                    f"out_indices {list(out_indices)}"
                )
            self._names = [n for n in self._names if n in out_features]
        self._out_features = list(self._names)
        if norm == "FrozenBN":
            # timm's conversion keeps the activation of its fused BatchNormAct2d layers
            self.model = freeze_batch_norm_2d(self.model)
        self.freeze(int(freeze_at), info.module_name())

    def freeze(self, freeze_at: int, modules: Sequence[str]) -> None:
        """Freeze everything before returned stage ``freeze_at − 1`` (see the module docs);
        ``modules`` are the timm module names of the returned stages."""
        if not 0 <= freeze_at <= len(modules) + 1:
            raise ValueError(f"freeze_at must be in [0, {len(modules) + 1}], got {freeze_at}")
        if freeze_at == 0:
            return
        # children come in the order they compute: freeze until the first stage that trains
        stop = modules[freeze_at - 1] if freeze_at <= len(modules) else None
        for name, child in self.model.named_children():
            if stop is not None and (name == stop or stop.startswith(name + ".")):
                if name != stop:  # a stage inside a container (e.g. "blocks.4")
                    container = child
                    for sub_name, sub in container.named_children():
                        if f"{name}.{sub_name}" == stop:
                            break
                        self._freeze_module(container, sub_name, sub)
                break
            self._freeze_module(self.model, name, child)

    @staticmethod
    def _freeze_module(parent: nn.Module, name: str, module: nn.Module) -> None:
        module.requires_grad_(False)
        # frozen weights with running statistics that still update would not be frozen
        frozen = freeze_batch_norm_2d(module)
        if frozen is not module:
            setattr(parent, name, frozen)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        features = dict(zip(self._out_feature_channels, self.model(x), strict=True))
        return {n: features[n] for n in self._names}

    def output_shape(self) -> dict[str, ShapeSpec]:
        channels, strides = self._out_feature_channels, self._out_feature_strides
        return {n: ShapeSpec(channels=channels[n], stride=strides[n]) for n in self._names}


@BACKBONE_REGISTRY.register()
def build_timm_fpn_backbone(cfg, input_shape: ShapeSpec) -> Backbone:
    """``MODEL.TIMM`` model + Detectron2's FPN (``MODEL.FPN.*``), for ``MODEL.TTC.INNER``."""
    t = cfg.MODEL.TIMM
    if t.NORM not in NORMS:
        raise TTCConfigError(f"MODEL.TIMM.NORM must be one of {NORMS}, got {t.NORM!r}")
    if not timm.is_model(t.NAME):
        raise TTCConfigError(
            f"MODEL.TIMM.NAME = {t.NAME!r} is not a timm model (timm.list_models() lists them)"
        )
    bottom_up = TimmFeatures(
        t.NAME,
        t.OUT_INDICES,
        in_channels=input_shape.channels,
        freeze_at=t.FREEZE_AT,
        norm=t.NORM,
        weights=t.WEIGHTS,
        weights_key="MODEL.TIMM.WEIGHTS",
    )
    missing = [f for f in cfg.MODEL.FPN.IN_FEATURES if f not in bottom_up.output_shape()]
    if missing:
        raise TTCConfigError(
            f"MODEL.FPN.IN_FEATURES {list(cfg.MODEL.FPN.IN_FEATURES)} names {missing}, but "
            f"{t.NAME} with MODEL.TIMM.OUT_INDICES {list(t.OUT_INDICES)} returns "
            f"{list(bottom_up.output_shape())}"
        )
    return FPN(
        bottom_up=bottom_up,
        in_features=cfg.MODEL.FPN.IN_FEATURES,
        out_channels=cfg.MODEL.FPN.OUT_CHANNELS,
        norm=cfg.MODEL.FPN.NORM,
        top_block=LastLevelMaxPool(),
        fuse_type=cfg.MODEL.FPN.FUSE_TYPE,
    )
