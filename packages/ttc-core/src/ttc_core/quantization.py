"""Quantisation of latents.

METHOD §3: straight-through rounding in training *and* evaluation (no additive uniform noise),
so that the latent a task network sees while training is exactly the one that is coded.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["ste_round"]


def ste_round(x: Tensor) -> Tensor:
    r"""Round to the nearest integer; the backward pass is the identity.

    .. math:: \hat y = y + \operatorname{sg}(\operatorname{round}(y) - y)
    """
    return x + (torch.round(x) - x).detach()
