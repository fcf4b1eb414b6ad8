"""Analysis and synthesis transforms ``f`` and ``g`` (METHOD §3).

Reference: A. de Andrade, I. Bajić, "Towards Task-Compatible Compressible Representations",
ICME 2024 Workshop on Coding for Machines (arXiv:2405.10244).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .layers import ResidualBottleneckBlock, conv, deconv

__all__ = ["DOWNSAMPLINGS", "INIT_GAIN", "AnalysisTransform", "SynthesisTransform"]

#: the total downsampling factors ``f`` can have (``g`` upsamples by the same); 16 is the paper's
DOWNSAMPLINGS = (2, 4, 8, 16)

#: initial gain of ``f``'s last convolution: ``y`` of a natural image then varies by ≈ 1–3
#: quantisation steps across a channel (measured on generated scenes, 32 and 192 channels)
INIT_GAIN = 32.0


def _check_widths(name: str, channels: Sequence[int], blocks: int) -> tuple[int, ...]:
    channels = tuple(int(c) for c in channels)
    if len(channels) != 3 or any(c <= 0 for c in channels):
        raise ValueError(f"{name}: `channels` must be three positive widths, got {channels}")
    if blocks < 0:
        raise ValueError(f"{name}: `blocks` must be >= 0, got {blocks}")
    return channels


def _strides(name: str, downsampling: int) -> tuple[int, int, int, int]:
    """Strides of the four convolutions of ``f`` for a total ``downsampling``: stride 2 first.

    The paper's ``f`` downsamples by 16 (all four at stride 2). A smaller factor keeps the
    early stride-2 convolutions and runs the last ones at stride 1: the latent keeps more
    positions (small inputs: a 128×176 image has an 8×11 latent at 16, 16×22 at 8) while the
    residual blocks still work at reduced resolutions.
    """
    if downsampling not in DOWNSAMPLINGS:
        raise ValueError(
            f"{name}: `downsampling` must be one of {DOWNSAMPLINGS}, got {downsampling!r}"
        )
    halvings = int(downsampling).bit_length() - 1
    return tuple(2 if i < halvings else 1 for i in range(4))  # type: ignore[return-value]


class AnalysisTransform(nn.Sequential):
    r"""Analysis transform ``f``: image → latent, downsampling by 16 (the paper's)::

        x ─ conv↓2 ─ RB×n ─ conv↓2 ─ RB×n ─ conv↓2 ─ RB×n ─ conv↓2 ─ y
           (3→24)          (24→48)          (48→192)         (192→M)

    Every conv is 5×5 with stride 2; ``RB`` is a :class:`~ttc_core.layers.ResidualBottleneckBlock`.
    With the defaults it has 2,496,984 parameters, as the reference.

    Args:
        in_channels: channels of the input image.
        latent_channels: channels ``M`` of the latent ``y``.
        channels: widths after each of the first three convolutions.
        blocks: residual blocks after each of the first three convolutions.
        activation: activation inside the residual blocks.
        downsampling: total downsampling, one of :data:`DOWNSAMPLINGS` (16: the paper's). With
            8 the last convolution has stride 1, with 4 the last two, and so on.
        init_gain: factor on the last convolution's initial weights and bias. With PyTorch's
            default initialisation ``y`` of a natural image varies by ≈ 0.02–0.1 across a
            channel: every element rounds to 0, the rate is 0 and nothing reaches the task
            network until ``f`` has grown by an order of magnitude, which a short schedule
            never sees (a base trained for 100 iterations stayed at box AP 0). The default
            starts ``y`` at a few quantisation steps; the rate term shrinks it from there.
    """

    def __init__(
        self,
        in_channels: int = 3,
        latent_channels: int = 192,
        channels: Sequence[int] = (24, 48, 192),
        blocks: int = 3,
        activation: str = "elu",
        init_gain: float = INIT_GAIN,
        downsampling: int = 16,
    ):
        c1, c2, c3 = _check_widths("AnalysisTransform", channels, blocks)
        s1, s2, s3, s4 = _strides("AnalysisTransform", downsampling)
        layers: list[nn.Module] = []
        for cin, cout, stride in ((in_channels, c1, s1), (c1, c2, s2), (c2, c3, s3)):
            layers.append(conv(cin, cout, stride=stride))
            layers += [ResidualBottleneckBlock(cout, 3, activation) for _ in range(blocks)]
        last = conv(c3, latent_channels, stride=s4)
        with torch.no_grad():
            last.weight.mul_(init_gain)
            last.bias.mul_(init_gain)
        layers.append(last)
        super().__init__(*layers)
        self.in_channels = in_channels
        self.latent_channels = latent_channels
        self.downsampling = int(downsampling)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"AnalysisTransform expects a (N, {self.in_channels}, H, W) tensor, "
                f"got shape {tuple(x.shape)}"
            )
        return super().forward(x)


class SynthesisTransform(nn.Sequential):
    r"""Synthesis transform ``g``: latent → image-sized output, upsampling by 16::

        ŷ ─ deconv↑2 ─ RB×n ─ deconv↑2 ─ RB×n ─ deconv↑2 ─ RB×n ─ deconv↑2 ─ x̂
           (M→192)           (192→48)          (48→24)           (24→out)

    ``n = 3`` for reconstruction decoders (2,496,795 parameters with the defaults) and
    ``n = 1`` for the pseudo-image decoder that feeds a task network (1,620,843).
    No output activation. With ``upsampling`` below 16 the first transposed convolutions run
    at stride 1, mirroring :class:`AnalysisTransform` of the same factor.
    """

    def __init__(
        self,
        latent_channels: int = 192,
        out_channels: int = 3,
        channels: Sequence[int] = (192, 48, 24),
        blocks: int = 3,
        activation: str = "elu",
        upsampling: int = 16,
    ):
        c1, c2, c3 = _check_widths("SynthesisTransform", channels, blocks)
        s1, s2, s3, s4 = reversed(_strides("SynthesisTransform", upsampling))
        layers: list[nn.Module] = []
        for cin, cout, stride in ((latent_channels, c1, s1), (c1, c2, s2), (c2, c3, s3)):
            layers.append(deconv(cin, cout, stride=stride))
            layers += [ResidualBottleneckBlock(cout, 3, activation) for _ in range(blocks)]
        layers.append(deconv(c3, out_channels, stride=s4))
        super().__init__(*layers)
        self.latent_channels = latent_channels
        self.out_channels = out_channels
        self.upsampling = int(upsampling)
