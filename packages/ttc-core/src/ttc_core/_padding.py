"""Pad inputs to a multiple of the transform's stride, and crop outputs back."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def pad_to_multiple(x: Tensor, multiple: int = 16) -> tuple[Tensor, tuple[int, int]]:
    """Replicate-pad the bottom/right of ``x`` to a multiple of ``multiple``.

    Returns the padded tensor and the ``(pad_bottom, pad_right)`` amounts.
    """
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        # replicate keeps the border statistics, so padding costs few bits
        x = F.pad(x, (0, pw, 0, ph), mode="replicate")
    return x, (ph, pw)


def crop(x: Tensor, size: tuple[int, int]) -> Tensor:
    return x[..., : size[0], : size[1]]
