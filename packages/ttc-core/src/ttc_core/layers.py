"""Building blocks of the ttc transforms.

Reference: A. de Andrade, I. Bajić, "Towards Task-Compatible Compressible Representations",
ICME 2024 Workshop on Coding for Machines (arXiv:2405.10244), §3 "Architecture".

The transforms are an "ELIC-lite" design: strided 5×5 (transposed) convolutions separated by
residual bottleneck blocks, with biases and ELU activations and no normalisation (neither GDN
nor BatchNorm), so that a trained model behaves the same at any batch size.
"""

from __future__ import annotations

from collections.abc import Callable

import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "ResidualBottleneckBlock",
    "Downsample",
    "Upsample",
    "conv",
    "deconv",
    "make_activation",
]

ActivationFactory = Callable[[], nn.Module]

_ACTIVATIONS: dict[str, ActivationFactory] = {
    "elu": nn.ELU,
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "leaky_relu": nn.LeakyReLU,
}


def make_activation(name: str) -> nn.Module:
    """Build an activation module by name (``elu`` is the paper's)."""
    try:
        return _ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; choose one of {sorted(_ACTIVATIONS)}"
        ) from None


def conv(in_channels: int, out_channels: int, kernel_size: int = 5, stride: int = 2) -> nn.Conv2d:
    """``kernel_size`` convolution, "same" padding, downsampling by ``stride``."""
    return nn.Conv2d(in_channels, out_channels, kernel_size, stride, kernel_size // 2)


def deconv(
    in_channels: int, out_channels: int, kernel_size: int = 5, stride: int = 2
) -> nn.ConvTranspose2d:
    """Transposed convolution that upsamples exactly by ``stride`` (the inverse of :func:`conv`)."""
    return nn.ConvTranspose2d(
        in_channels,
        out_channels,
        kernel_size,
        stride,
        padding=kernel_size // 2,
        output_padding=stride - 1,
    )


class ResidualBottleneckBlock(nn.Module):
    r"""Residual bottleneck block, all ``channels`` wide::

        x ──┬── conv1×1 ─ act ─ conv k×k ─ act ─ conv1×1 ──(+)── y
            └──────────────────────────────────────────────┘

    ``kernel_size`` is 3 in the transforms and 5 in the conditional entropy model's side
    network (METHOD §3).
    """

    def __init__(self, channels: int, kernel_size: int = 3, activation: str = "elu"):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 1),
            make_activation(activation),
            nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2),
            make_activation(activation),
            nn.Conv2d(channels, channels, 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class Downsample(nn.Module):
    r"""Learned 2× downsampling: bilinear resize to half size, then a 5×5 convolution.

    Used in front of the bottleneck for full-resolution Cityscapes frames (METHOD §3)::

        x (H×W) ─ bilinear ½ ─ conv5×5 ─ (H/2 × W/2)
    """

    def __init__(self, channels: int = 3, out_channels: int | None = None, factor: int = 2):
        super().__init__()
        self.factor = factor
        self.conv = nn.Conv2d(channels, out_channels or channels, 5, padding=2)

    def forward(self, x: Tensor) -> Tensor:
        size = (x.shape[-2] // self.factor, x.shape[-1] // self.factor)
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        return self.conv(x)


class Upsample(nn.Module):
    r"""Learned 2× upsampling: nearest-neighbour resize, then a 5×5 convolution::

    x (h×w) ─ nearest ×2 ─ conv5×5 ─ (2h × 2w)   (or ``size`` when given)
    """

    def __init__(self, channels: int, out_channels: int | None = None, factor: int = 2):
        super().__init__()
        self.factor = factor
        self.conv = nn.Conv2d(channels, out_channels or channels, 5, padding=2)

    def forward(self, x: Tensor, size: tuple[int, int] | None = None) -> Tensor:
        if size is None:
            size = (x.shape[-2] * self.factor, x.shape[-1] * self.factor)
        x = F.interpolate(x, size=tuple(size), mode="nearest")
        return self.conv(x)


def count_parameters(module: nn.Module) -> int:
    """Number of parameters of ``module`` (trainable or not)."""
    return sum(p.numel() for p in module.parameters())


__all__.append("count_parameters")
