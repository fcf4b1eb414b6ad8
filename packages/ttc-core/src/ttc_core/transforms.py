"""Analysis and synthesis transforms ``f`` and ``g`` (METHOD §3).

Reference: A. de Andrade, I. Bajić, "Towards Task-Compatible Compressible Representations",
ICME 2024 Workshop on Coding for Machines (arXiv:2405.10244).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .layers import ResidualBottleneckBlock, conv, deconv

__all__ = ["INIT_GAIN", "AnalysisTransform", "SynthesisTransform"]

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


class AnalysisTransform(nn.Sequential):
    r"""Analysis transform ``f``: image → latent, downsampling by 16::

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
    ):
        c1, c2, c3 = _check_widths("AnalysisTransform", channels, blocks)
        layers: list[nn.Module] = []
        for cin, cout in ((in_channels, c1), (c1, c2), (c2, c3)):
            layers.append(conv(cin, cout))
            layers += [ResidualBottleneckBlock(cout, 3, activation) for _ in range(blocks)]
        last = conv(c3, latent_channels)
        with torch.no_grad():
            last.weight.mul_(init_gain)
            last.bias.mul_(init_gain)
        layers.append(last)
        super().__init__(*layers)
        self.in_channels = in_channels
        self.latent_channels = latent_channels

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
    No output activation.
    """

    def __init__(
        self,
        latent_channels: int = 192,
        out_channels: int = 3,
        channels: Sequence[int] = (192, 48, 24),
        blocks: int = 3,
        activation: str = "elu",
    ):
        c1, c2, c3 = _check_widths("SynthesisTransform", channels, blocks)
        layers: list[nn.Module] = []
        for cin, cout in ((latent_channels, c1), (c1, c2), (c2, c3)):
            layers.append(deconv(cin, cout))
            layers += [ResidualBottleneckBlock(cout, 3, activation) for _ in range(blocks)]
        layers.append(deconv(c3, out_channels))
        super().__init__(*layers)
        self.latent_channels = latent_channels
        self.out_channels = out_channels
