r"""The two-layer forward of scalable coding, written once for every adapter (METHOD §2).

::

    x_b ─ frozen base f_b ─ ⌊·⌉ ─ ŷ_b ──────────────┐ (no gradient)
    x_e ─ enhancement f_e ─ ⌊·⌉ ─ ŷ_e ─ p(ŷ_e | ŷ_b) ─┴─ bits_e
                                  └─ g_e ─ output (reconstruction, or a task's pseudo-image)

- :func:`scalable_forward`: the training / evaluation pass, estimated bits of both layers.
- :func:`scalable_actual_bits`: the same images coded into real rANS strings.
- :func:`group_by_size`: images of a batch grouped by size (each group codes as one tensor).
- :func:`reconstruction_target`: a normalised frame back to [0, 1] RGB at the coded size, the
  target of a reconstruction (``g_a`` or ``g_e``).

The base layer is frozen here: the enhancement's rate is conditioned on the ŷ_b the decoder
will have, and nothing of the enhancement's losses may reach the base (METHOD §2).

**Variable rate** (:mod:`ttc_core.variable_rate`): ``base_rate`` is the rate position the base
codes at, ``rate`` the enhancement's own. The enhancement's side information is the base's
*decoded* latent (``ŷ_b ⊙ m'_b``, what the base's synthesis sees; ŷ_b itself for a per-α
base), and an enhancement built for a variable-rate base (``side_rates``) is told the base's
rate position as well.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .bottleneck import BaseBottleneck
from .enhancement import EnhancementBottleneck, EnhancementOutput

__all__ = [
    "ScalableOutput",
    "group_by_size",
    "reconstruction_target",
    "scalable_actual_bits",
    "scalable_forward",
    "side_rate_of",
]


@dataclass
class ScalableOutput:
    """Both layers of a batch."""

    y_base: Tensor  #: ŷ_b of the frozen base (as coded), (N, M_b, h, w), no gradient
    bits_base: Tensor  #: estimated base bits per image, (N,), no gradient
    enhancement: EnhancementOutput  #: ŷ_e, its likelihoods, bits and (optional) output
    base_rate: float | None = None  #: the base's rate position (None: a per-α base)


def side_rate_of(enhancement: EnhancementBottleneck, base_rate: float | None) -> float | None:
    """What the enhancement is told of the base's rate: its position if the enhancement was
    built for a variable-rate base (``side_rates``), else nothing."""
    return base_rate if enhancement.side_rates else None


def scalable_forward(
    base: BaseBottleneck,
    enhancement: EnhancementBottleneck,
    x_base: Tensor,
    x_enhancement: Tensor | None = None,
    *,
    synthesize: bool = True,
    rate: float | None = None,
    base_rate: float | None = None,
) -> ScalableOutput:
    """Frozen base → ŷ_b → enhancement conditioned on it.

    Args:
        base: the trained base layer (run without gradient, whatever its mode).
        enhancement: the enhancement layer (its side information is ŷ_b, or zeros when it is
            Standalone: the entropy model's switch decides).
        x_base / x_enhancement: what each layer codes (``x_enhancement`` defaults to
            ``x_base``); they must give latents of the same spatial size.
        synthesize: run ``g_e`` (False: rate-only training of Standalone / Continued).
        rate / base_rate: rate positions of the enhancement / the base (variable-rate layers
            only; see the module docstring).
    """
    with torch.no_grad():
        y_base = base.encode(x_base, rate=base_rate)
        bits_base = base.estimated_bits(y_base)
        side = base.dequantize(y_base, rate=base_rate)
    x_e = x_base if x_enhancement is None else x_enhancement
    out = enhancement(
        x_e,
        side=side,
        synthesize=synthesize,
        rate=rate,
        side_rate=side_rate_of(enhancement, base_rate),
    )
    return ScalableOutput(y_base, bits_base, out, base_rate)


@torch.no_grad()
def scalable_actual_bits(
    base: BaseBottleneck,
    enhancement: EnhancementBottleneck,
    x_base: Tensor,
    x_enhancement: Tensor | None = None,
    *,
    order: str = "wavefront",
    rate: float | None = None,
    base_rate: float | None = None,
) -> tuple[list[int], list[int]]:
    """Bits (8 × bytes) of the real rANS strings of each image: ``(base, enhancement)``.

    The enhancement is coded given the ŷ_b the base coded, which is the one the decoder
    decodes exactly (dequantised as the coder does it: float64 on the CPU).
    """
    bits_base, y_base = base.actual_bits(x_base, order=order, rate=base_rate)
    side = base.dequantize(y_base, rate=base_rate, exact=True)
    x_e = x_base if x_enhancement is None else x_enhancement
    bits_enhancement, _ = enhancement.actual_bits(
        x_e, side, order=order, rate=rate, side_rate=side_rate_of(enhancement, base_rate)
    )
    return bits_base, bits_enhancement


def group_by_size(sizes: Sequence[Hashable]) -> dict[Hashable, list[int]]:
    """Indices of the images of each size, in order of first appearance.

    Images of one size are stacked and coded as one tensor; padding them to a common size
    would change their bits.
    """
    groups: dict[Hashable, list[int]] = {}
    for i, size in enumerate(sizes):
        groups.setdefault(size, []).append(i)
    return groups


def reconstruction_target(
    frames: Tensor,
    mean: Tensor | Sequence[float],
    std: Tensor | Sequence[float],
    size: tuple[int, int] | None = None,
    scale: float = 255.0,
) -> Tensor:
    """Normalised frames back to [0, 1] RGB, resized to ``size`` (the coded size).

    ``frames`` are ``(x·scale − mean) / std`` (MMSeg's data preprocessor with ``scale`` 255);
    the resize is bilinear, the fixed part of a learned downsample.
    """
    mean_t = torch.as_tensor(mean, dtype=frames.dtype, device=frames.device).reshape(1, -1, 1, 1)
    std_t = torch.as_tensor(std, dtype=frames.dtype, device=frames.device).reshape(1, -1, 1, 1)
    x01 = (frames * std_t + mean_t) / scale
    if size is not None and tuple(x01.shape[-2:]) != tuple(size):
        x01 = F.interpolate(x01, size=tuple(size), mode="bilinear", align_corners=False)
    return x01.clamp(0, 1)
