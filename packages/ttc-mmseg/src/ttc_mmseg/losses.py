"""Regression loss of the Cityscapes depth task (METHOD §3)."""

from __future__ import annotations

import torch
from mmseg.registry import MODELS
from torch import Tensor, nn

__all__ = ["DisparityRMSELoss", "masked_mse"]


def masked_mse(pred: Tensor, target: Tensor, valid: Tensor) -> Tensor:
    """Mean squared error over the ``valid`` pixels of the whole batch (0 when none)."""
    if pred.shape != target.shape:
        raise ValueError(f"prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ")
    valid = valid.to(pred.dtype)
    sq = (pred - target).pow(2) * valid
    return sq.sum() / valid.sum().clamp_min(1.0)


@MODELS.register_module()
class DisparityRMSELoss(nn.Module):
    r"""``loss_weight · scale · sqrt(masked MSE)`` over the valid pixels of a batch.

    With the paper's target ``(p − 1)/32768 = disparity/128`` and ``scale = 128`` this is the
    disparity RMSE in pixels of the full-resolution frame (METHOD §3). Pixels whose target is
    ``invalid_value`` (0: no disparity measured, or padding) are ignored; a batch without any
    valid pixel gives a zero loss that still backpropagates (zero gradients).

    Args:
        scale: multiplies the RMSE (128 for the paper's disparity target, 1 for metres).
        loss_weight: weight of the term.
        loss_name: key of the term in the loss dict (must contain ``loss`` to be optimised).
        invalid_value: target value that marks invalid pixels.
        eps: added under the square root (its gradient is infinite at 0).
    """

    def __init__(
        self,
        scale: float = 128.0,
        loss_weight: float = 1.0,
        loss_name: str = "loss_depth",
        invalid_value: float = 0.0,
        eps: float = 1e-12,
    ):
        super().__init__()
        self.scale = float(scale)
        self.loss_weight = float(loss_weight)
        self._loss_name = loss_name
        self.invalid_value = float(invalid_value)
        self.eps = float(eps)

    def forward(
        self, pred: Tensor, target: Tensor, valid_mask: Tensor | None = None, **kwargs
    ) -> Tensor:
        if valid_mask is None:
            valid_mask = target != self.invalid_value
        mse = masked_mse(pred, target, valid_mask)
        return self.loss_weight * self.scale * torch.sqrt(mse + self.eps)

    @property
    def loss_name(self) -> str:
        return self._loss_name
