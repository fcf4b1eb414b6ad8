"""The compressible backbone: learned downsample → base bottleneck → any mmseg backbone.

::

    frame (normalised, H×W) ─ Downsample (bilinear ½ + conv5×5) ─ x_c (H/2×W/2)
        x_c ─ f ─ ŷ_b ─┬─ g_b ─ pseudo-image ─ inner backbone (e.g. MobileNetV3) ─▶ features
                      ├─ g_a ─ x̂ (reconstruction of the half-resolution frame, [0, 1] RGB)
                      └─ p(ŷ_b) ─ bits

``backbone(x)`` returns the inner backbone's features, as any mmseg backbone does, so any mmseg
segmentor / head can sit on top (and ``_forward`` / tensor mode work unchanged).
:meth:`TTCBackbone.forward_with_terms` returns the features *and* the codec's terms of that pass
(bits, reconstruction and its target) as :class:`CodecTerms`, which the segmentor turns into
``loss_rate`` / ``loss_recon`` and per-image bpp. The terms are returned, never kept on the
module: nothing of one call is left for the next.

**bpp convention** (METHOD §5): bits are divided by the pixels of the *frame given to this
module* (1024×2048 for Cityscapes), not of the half-resolution tensor the bottleneck codes. So
``bpp = BaseBottleneck bpp / factor²`` (a quarter of it with the default factor 2).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor

from ttc_core.bottleneck import BaseBottleneck, BottleneckOutput
from ttc_core.layers import Downsample
from ttc_core.scalable import reconstruction_target

from .weights import check_local_weights

__all__ = ["CodecTerms", "TTCBackbone"]

#: ImageNet mean / std on 0–255 pixels (mmseg's default normalisation)
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


@dataclass
class CodecTerms:
    """What the codec computed for one batch (returned to the segmentor with the features)."""

    output: BottleneckOutput  #: the bottleneck's output (ŷ_b, likelihoods, bits, ...)
    frame: Tensor  #: the normalised frames given to the backbone, (N, 3, H, W)
    coded_input: Tensor  #: what ``f`` saw: the learned-downsampled frames, (N, 3, h, w)
    num_pixels: int  #: H·W of the frame: the bpp denominator

    @property
    def rate(self) -> float | None:
        """The rate position this pass coded at (None: a per-α bottleneck)."""
        return self.output.rate

    @property
    def bits_estimated(self) -> Tensor:
        """Estimated bits of each image, ``(N,)`` (from the likelihoods)."""
        return self.output.bits

    @property
    def bpp_estimated(self) -> Tensor:
        """Estimated bits per *frame* pixel of each image, ``(N,)``."""
        return self.output.bits / self.num_pixels


@MODELS.register_module()
class TTCBackbone(BaseModule):
    """A ttc base layer in front of any registered mmseg backbone.

    Args:
        backbone: config of the inner backbone that consumes the pseudo-image
            (``MobileNetV3`` for depth, ``ResNetV1c`` for segmentation, ...). Pretrained
            weights go in its own ``init_cfg=dict(type='Pretrained', checkpoint=PATH)``.
        bottleneck: keyword arguments of :class:`ttc_core.bottleneck.BaseBottleneck`
            (``task_channels`` must equal the inner backbone's input channels, 3).
        downsample: keyword arguments of :class:`ttc_core.layers.Downsample` (default
            ``dict(factor=2)``); ``None`` codes the frame at full resolution.
        reconstruct: compute ``g_a`` (the reconstruction reward / probe) in training;
            evaluation always computes it (direct-reconstruction PSNR).
        input_mean / input_std: normalisation of the frames on 0–255 RGB pixels; the
            segmentor overwrites them with its data preprocessor's.
        init_cfg: mmengine init config of this wrapper (the inner backbone has its own).
    """

    def __init__(
        self,
        backbone: dict,
        bottleneck: dict | None = None,
        downsample: dict | None = None,
        reconstruct: bool = True,
        input_mean=IMAGENET_MEAN,
        input_std=IMAGENET_STD,
        init_cfg=None,
    ):
        super().__init__(init_cfg=init_cfg)
        if downsample is None:
            downsample = dict(factor=2)
        self.bottleneck_kwargs = dict(bottleneck or {})
        self.downsample_kwargs = dict(downsample) if downsample else None
        self.downsample = Downsample(**self.downsample_kwargs) if self.downsample_kwargs else None
        self.bottleneck = BaseBottleneck(**self.bottleneck_kwargs)
        check_local_weights(backbone, "model.backbone.backbone")
        self.backbone = MODELS.build(backbone)
        self.reconstruct = bool(reconstruct)
        #: feed ``g_a`` a detached ŷ_b (the Baseline's probe); set by the segmentor
        self.detach_reconstruction = False
        self.register_buffer("input_mean", torch.zeros(1, 3, 1, 1), persistent=False)
        self.register_buffer("input_std", torch.ones(1, 3, 1, 1), persistent=False)
        self.set_input_normalization(input_mean, input_std)

    # -- configuration ----------------------------------------------------------------------
    def set_input_normalization(self, mean, std) -> None:
        """Normalisation of the frames (on 0–255 RGB pixels), to recover [0, 1] targets."""
        mean = torch.as_tensor(mean, dtype=torch.float32).reshape(1, -1, 1, 1)
        std = torch.as_tensor(std, dtype=torch.float32).reshape(1, -1, 1, 1)
        if mean.shape[1] not in (1, 3) or std.shape[1] not in (1, 3):
            raise ValueError(
                f"input mean/std must have 1 or 3 values, got {mean.shape}, {std.shape}"
            )
        self.input_mean.copy_(mean.expand(1, 3, 1, 1).to(self.input_mean.device))
        self.input_std.copy_(std.expand(1, 3, 1, 1).to(self.input_std.device))

    @property
    def downsample_factor(self) -> int:
        return self.downsample.factor if self.downsample is not None else 1

    # -- forward ----------------------------------------------------------------------------
    def coded_input(self, x: Tensor) -> Tensor:
        """The tensor the analysis transform codes (the learned-downsampled frame)."""
        return self.downsample(x) if self.downsample is not None else x

    def forward_with_terms(
        self, x: Tensor, *, rate: float | None = None
    ) -> tuple[Tensor, CodecTerms]:
        """The inner backbone's features and the codec's terms of this pass.

        ``g_a`` runs in evaluation, and in training when ``reconstruct`` is set. ``rate``: the
        rate position of a variable-rate bottleneck (the segmentor passes the index it drew
        for the batch, or its test rate).
        """
        reconstruct = self.reconstruct or not self.training
        return self._forward_codec(x, reconstruct, rate)

    def forward(self, x: Tensor):
        """The inner backbone's features (a plain mmseg backbone; ``g_a`` is not run).

        A variable-rate bottleneck codes at its highest rate position here: a plain backbone
        call has no rate argument (the segmentors call :meth:`forward_with_terms`).
        """
        features, _ = self._forward_codec(x, reconstruct=False, rate=self.default_rate)
        return features

    @property
    def default_rate(self) -> float | None:
        """The highest rate position of a variable-rate bottleneck; None for a per-α one."""
        n = self.bottleneck.num_rates
        return float(n - 1) if n else None

    def _forward_codec(
        self, x: Tensor, reconstruct: bool, rate: float | None = None
    ) -> tuple[Tensor, CodecTerms]:
        x_c = self.coded_input(x)
        out = self.bottleneck(
            x_c,
            detach_reconstruction=self.detach_reconstruction,
            reconstruct=reconstruct,
            rate=rate,
        )
        terms = CodecTerms(out, x, x_c, int(x.shape[-2]) * int(x.shape[-1]))
        return self.backbone(out.pseudo_image), terms

    def reconstruction_target(self, terms: CodecTerms) -> Tensor:
        """The frames in [0, 1] RGB at the coded resolution: the target of ``g_a``.

        The normalisation is undone, and the frame is resized to the coded size by bilinear
        interpolation (the fixed part of the learned downsample).
        """
        return reconstruction_target(
            terms.frame, self.input_mean, self.input_std, size=tuple(terms.coded_input.shape[-2:])
        )
