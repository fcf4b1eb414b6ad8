"""Decode heads with the paper's learned output upsampling (METHOD §3).

- :class:`DepthLRASPPHead`: a depth-capable Lite R-ASPP head (Cityscapes depth, base layer).
- :class:`UpsampledASPPHead` / :class:`UpsampledFCNHead`: mmseg's DeepLabV3 ``ASPPHead`` and its
  auxiliary ``FCNHead`` with the same learned ×2 upsampling of the class logits (Cityscapes
  segmentation, enhancement layer).

The depth head in detail:

mmseg's ``LRASPPHead`` is a classifier; this subclass keeps its branches (and parameter names)
and turns it into a one-channel regressor that reads ``gt_depth_map`` (as mmseg's
``VPDDepthHead`` does), plus the paper's learned output upsampling::

    features ─ LR-ASPP ─ conv_seg (1 ch) ─ bilinear → coded size
             ─ Upsample (nearest ×2 + conv5×5) → frame

The "coded size" is the size of the image the bottleneck saw (the frame downsampled by
``upsample_factor``, floor division as in :class:`ttc_core.layers.Downsample`).
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from mmseg.models.decode_heads import ASPPHead, FCNHead, LRASPPHead
from mmseg.models.losses import accuracy
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from torch import Tensor, nn

from ttc_core.layers import Upsample

__all__ = ["DepthLRASPPHead", "LearnedUpsampleMixin", "UpsampledASPPHead", "UpsampledFCNHead"]


@MODELS.register_module()
class DepthLRASPPHead(LRASPPHead):
    """Lite R-ASPP head with one output channel for disparity / depth regression.

    Args:
        branch_channels: LR-ASPP low-level branch widths (as ``LRASPPHead``).
        image_pool: ``"global"`` (default: global average pooling, as MobileNetV3's LR-ASPP and
            torchvision; works at any input size) or ``"mmseg"`` (mmseg's fixed 49×49 / stride
            (16, 20) pooling, tuned to 512×1024 crops).
        upsample_factor: learned output upsampling factor (2: the frame is coded at half
            resolution); ``None``/``1`` disables it (plain bilinear resize to the frame).
        output_activation: ``None`` (linear output, the paper's), ``"relu"`` or ``"softplus"``
            (strictly positive, e.g. for metric depth evaluated with log-based metrics).
        loss_decode: the regression loss (default :class:`~ttc_mmseg.losses.DisparityRMSELoss`).
        **kwargs: ``BaseDecodeHead`` arguments (``in_channels``, ``in_index``, ``channels``,
            ``input_transform='multiple_select'``, ``norm_cfg``, ``dropout_ratio``, ...).
    """

    def __init__(
        self,
        branch_channels=(32, 64),
        image_pool: str = "global",
        upsample_factor: int | None = 2,
        output_activation: str | None = None,
        loss_decode=None,
        **kwargs,
    ):
        for key in ("num_classes", "out_channels"):
            if kwargs.pop(key, 1) != 1:
                raise ValueError(f"{type(self).__name__} regresses one channel; drop {key}")
        if loss_decode is None:
            loss_decode = dict(type="DisparityRMSELoss")
        with warnings.catch_warnings():
            # one output channel makes BaseDecodeHead warn about a binary-segmentation
            # threshold, which a regression head does not use
            warnings.simplefilter("ignore")
            super().__init__(
                branch_channels=branch_channels,
                num_classes=1,
                out_channels=1,
                loss_decode=loss_decode,
                **kwargs,
            )
        if image_pool == "global":
            self.image_pool[0] = nn.AdaptiveAvgPool2d(1)
        elif image_pool != "mmseg":
            raise ValueError(f"image_pool must be 'global' or 'mmseg', got {image_pool!r}")
        if output_activation not in (None, "relu", "softplus"):
            raise ValueError(
                f"output_activation must be None, 'relu' or 'softplus', got {output_activation!r}"
            )
        self.output_activation = output_activation
        self.upsample_factor = int(upsample_factor or 1)
        self.upsample = (
            Upsample(1, factor=self.upsample_factor) if self.upsample_factor > 1 else None
        )

    # -- output at frame resolution ------------------------------------------------------
    def to_frame(self, x: Tensor, size) -> Tensor:
        """Map the head's raw output to a ``size`` (H, W) prediction."""
        size = (int(size[0]), int(size[1]))
        if self.upsample is None:
            out = resize(x, size=size, mode="bilinear", align_corners=self.align_corners)
        else:
            f = self.upsample_factor
            coded = (max(1, size[0] // f), max(1, size[1] // f))
            x = resize(x, size=coded, mode="bilinear", align_corners=self.align_corners)
            out = self.upsample(x, size=size)
        if self.output_activation == "relu":
            out = torch.relu(out)
        elif self.output_activation == "softplus":
            out = F.softplus(out)
        return out

    @staticmethod
    def _frame_size(batch_img_metas) -> tuple[int, int]:
        # the same rule as BaseDecodeHead.predict_by_feat: the (padded) network input
        meta = batch_img_metas[0]
        if isinstance(meta["img_shape"], torch.Size):
            return tuple(meta["img_shape"])[:2]
        if "pad_shape" in meta and meta["pad_shape"] is not None:
            return tuple(meta["pad_shape"])[:2]
        return tuple(meta["img_shape"])[:2]

    # -- training / inference --------------------------------------------------------------
    def _stack_batch_gt(self, batch_data_samples) -> Tensor:
        return torch.stack([s.gt_depth_map.data for s in batch_data_samples], dim=0)

    def loss(self, inputs, batch_data_samples, train_cfg) -> dict:
        gt = self._stack_batch_gt(batch_data_samples)
        pred = self.to_frame(self.forward(inputs), gt.shape[-2:])
        return self.loss_by_feat(pred, batch_data_samples, gt=gt)

    def loss_by_feat(self, pred: Tensor, batch_data_samples, gt: Tensor | None = None) -> dict:
        if gt is None:
            gt = self._stack_batch_gt(batch_data_samples)
        if pred.shape[-2:] != gt.shape[-2:]:
            pred = self.to_frame(pred, gt.shape[-2:])
        gt = gt.to(pred.dtype)
        losses_decode = (
            self.loss_decode if isinstance(self.loss_decode, nn.ModuleList) else [self.loss_decode]
        )
        loss: dict[str, Tensor] = {}
        for fn in losses_decode:
            value = fn(pred, gt)
            loss[fn.loss_name] = loss[fn.loss_name] + value if fn.loss_name in loss else value
        return loss

    def predict(self, inputs, batch_img_metas, test_cfg) -> Tensor:
        return self.to_frame(self.forward(inputs), self._frame_size(batch_img_metas))

    def predict_by_feat(self, seg_logits: Tensor, batch_img_metas) -> Tensor:
        return self.to_frame(seg_logits, self._frame_size(batch_img_metas))


class LearnedUpsampleMixin:
    """Class logits → frame: bilinear to the coded size, then learned ×f upsampling.

    ::

        logits (1/8 of the pseudo-image) ─ bilinear → coded size (frame / f)
                                         ─ Upsample (nearest ×f + conv5×5, C → C) → frame

    The pseudo-image the task network sees is the frame downsampled by ``f`` (the enhancement
    layer codes the learned-downsampled frame), so the head's output is brought back to the
    frame like the reference's torchvision DeepLabV3 (bilinear to its input) followed by the
    paper's learned 2× upsample. Mixed into a ``BaseDecodeHead`` subclass; the losses are then
    computed at frame resolution against the full-resolution labels.
    """

    upsample_factor: int
    upsample: Upsample | None

    def _init_upsample(self, upsample_factor: int | None) -> None:
        self.upsample_factor = int(upsample_factor or 1)
        self.upsample = (
            Upsample(self.out_channels, factor=self.upsample_factor)
            if self.upsample_factor > 1
            else None
        )

    def to_frame(self, logits: Tensor, size) -> Tensor:
        """Map the head's raw logits to a ``size`` (H, W) prediction."""
        size = (int(size[0]), int(size[1]))
        if self.upsample is None:
            return resize(logits, size=size, mode="bilinear", align_corners=self.align_corners)
        f = self.upsample_factor
        coded = (max(1, size[0] // f), max(1, size[1] // f))
        logits = resize(logits, size=coded, mode="bilinear", align_corners=self.align_corners)
        return self.upsample(logits, size=size)

    def loss_by_feat(self, seg_logits: Tensor, batch_data_samples) -> dict:
        # BaseDecodeHead.loss_by_feat, with the learned upsampling in place of its bilinear
        # resize to the label size (a second resize would copy the frame-size logits again)
        seg_label = self._stack_batch_gt(batch_data_samples)
        seg_logits = self.to_frame(seg_logits, seg_label.shape[2:])
        seg_weight = (
            self.sampler.sample(seg_logits, seg_label) if self.sampler is not None else None
        )
        seg_label = seg_label.squeeze(1)
        losses_decode = (
            self.loss_decode if isinstance(self.loss_decode, nn.ModuleList) else [self.loss_decode]
        )
        loss: dict[str, Tensor] = {}
        for fn in losses_decode:
            value = fn(seg_logits, seg_label, weight=seg_weight, ignore_index=self.ignore_index)
            loss[fn.loss_name] = loss[fn.loss_name] + value if fn.loss_name in loss else value
        loss["acc_seg"] = accuracy(seg_logits, seg_label, ignore_index=self.ignore_index)
        return loss

    def predict_by_feat(self, seg_logits: Tensor, batch_img_metas) -> Tensor:
        return self.to_frame(seg_logits, DepthLRASPPHead._frame_size(batch_img_metas))


@MODELS.register_module()
class UpsampledASPPHead(LearnedUpsampleMixin, ASPPHead):
    """mmseg's DeepLabV3 ``ASPPHead`` + learned ×``upsample_factor`` logit upsampling.

    Args:
        upsample_factor: 2 when the task network sees the frame at half resolution (the
            Cityscapes enhancement layer); ``None``/``1``: mmseg's plain bilinear resize.
        **kwargs: ``ASPPHead`` arguments (``dilations``, ``in_channels``, ``channels``, ...).
    """

    def __init__(self, upsample_factor: int | None = 2, **kwargs):
        super().__init__(**kwargs)
        self._init_upsample(upsample_factor)


@MODELS.register_module()
class UpsampledFCNHead(LearnedUpsampleMixin, FCNHead):
    """mmseg's ``FCNHead`` (DeepLabV3's auxiliary head) + learned logit upsampling.

    Args: as :class:`UpsampledASPPHead` (``**kwargs`` go to ``FCNHead``).
    """

    def __init__(self, upsample_factor: int | None = 2, **kwargs):
        super().__init__(**kwargs)
        self._init_upsample(upsample_factor)
