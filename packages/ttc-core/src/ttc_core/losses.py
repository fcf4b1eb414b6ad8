"""Loss terms of the method (METHOD §2), returned as named terms for the frameworks to log.

Reference: A. de Andrade, I. Bajić, "Towards Task-Compatible Compressible Representations",
ICME 2024 Workshop on Coding for Machines (arXiv:2405.10244).

Base layer::

    L_b = task_loss + α·bpp(ŷ_b) + β·rec(g_a(ŷ_b), x)

Enhancement layer (base frozen)::

    L_e = task_loss + α·bpp(ŷ_e | ŷ_b)

``rec`` is the reference release's ``255 × RMSE`` per image on [0, 1] pixels (an un-squared
norm), averaged over the batch. In the **Baseline** (``mode="baseline"``) the encoder gets no
reconstruction gradient: ``g_a`` is trained as a probe on a detached ŷ_b, so direct
reconstruction quality can still be reported.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = [
    "ReconstructionLoss",
    "RateLoss",
    "bits_per_image",
    "bpp_from_likelihoods",
    "reconstruction_rmse",
    "psnr",
]

MODES = ("proposed", "baseline")


def bits_per_image(likelihoods: Tensor) -> Tensor:
    """``−Σ log2 p`` over all but the batch dimension: estimated bits of each image, ``(N,)``."""
    return -torch.log2(likelihoods).flatten(1).sum(dim=1)


def bpp_from_likelihoods(likelihoods: Tensor, num_pixels: int) -> Tensor:
    """Estimated bits per pixel of each image, ``(N,)``; ``num_pixels`` = H·W of the coded image."""
    if num_pixels <= 0:
        raise ValueError(f"num_pixels must be positive, got {num_pixels}")
    return bits_per_image(likelihoods) / num_pixels


def reconstruction_rmse(x_hat: Tensor, x: Tensor) -> Tensor:
    """``255 × RMSE`` of each image on [0, 1] pixels, ``(N,)`` (the reference's ``rec``)."""
    if x_hat.shape != x.shape:
        raise ValueError(f"reconstruction {tuple(x_hat.shape)} and target {tuple(x.shape)} differ")
    mse = (x_hat - x).pow(2).flatten(1).mean(dim=1)
    return 255.0 * torch.sqrt(mse + 1e-12)


def psnr(x_hat: Tensor, x: Tensor, data_range: float = 1.0) -> Tensor:
    """PSNR in dB of each image, ``(N,)``, after clamping ``x_hat`` to the data range."""
    mse = (x_hat.clamp(0, data_range) - x).pow(2).flatten(1).mean(dim=1)
    return 10 * torch.log10(data_range**2 / mse.clamp_min(1e-10))


class RateLoss:
    """``α · mean bpp``; returns ``{"loss_rate": …, "bpp_estimated": …}`` (the second for logging:
    a likelihood estimate, never called ``bpp``, which is the rate of real bitstreams)."""

    def __init__(self, alpha: float):
        if not (alpha >= 0 and math.isfinite(alpha)):
            raise ValueError(f"rate weight alpha must be a finite number >= 0, got {alpha}")
        self.alpha = float(alpha)

    def __call__(self, bpp: Tensor, alpha: float | None = None) -> dict[str, Tensor]:
        """``alpha``: the weight of this batch instead of the configured one: a variable-rate
        model's α of the rate index drawn for the batch (:mod:`ttc_core.variable_rate`)."""
        weight = self.alpha if alpha is None else float(alpha)
        mean = bpp.mean()
        return {"loss_rate": weight * mean, "bpp_estimated": mean.detach()}


class ReconstructionLoss:
    """The base layer's reconstruction loss ``β · rec(g_a(ŷ_b), x)`` (the paper's "reward").

    Named a loss because it is one (minimised); the paper calls β·rec the reconstruction
    reward of the base latent (METHOD §1). Was ``ReconstructionReward`` in 0.1.

    Args:
        beta: weight β of the reward in ``"proposed"`` mode (the reference release uses 0.1,
            the slides 0.01).
        mode: ``"proposed"``: the gradient reaches the encoder through ŷ_b.
            ``"baseline"``: β must be 0 (refused otherwise); ``g_a`` is trained as a probe on a
            detached ŷ_b with weight ``probe_weight`` (which then only scales the probe's own
            learning), so direct reconstruction can still be reported.
        probe_weight: weight of the probe's loss in ``"baseline"`` mode.

    The detaching happens where ŷ_b enters ``g_a``: pass :attr:`detach_reconstruction` to
    :meth:`ttc_core.bottleneck.BaseBottleneck.forward`.
    """

    def __init__(self, beta: float = 0.1, mode: str = "proposed", probe_weight: float = 1.0):
        if mode not in MODES:
            raise ValueError(f"reconstruction mode must be one of {MODES}, got {mode!r}")
        for name, value in (("beta", beta), ("probe_weight", probe_weight)):
            if not (value >= 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be a finite number >= 0, got {value}")
        if mode == "baseline" and beta != 0:
            # the β in force must be the β shown: a Baseline whose config says β = 0.1 while
            # the encoder gets no reconstruction gradient misleads every reader of its logs
            raise ValueError(
                f"the Baseline trains the encoder with β = 0, but β = {beta} was given: set "
                "β = 0 with mode 'baseline' (the probe's own weight is probe_weight)"
            )
        self.beta = float(beta)
        self.mode = mode
        self.probe_weight = float(probe_weight)

    @property
    def detach_reconstruction(self) -> bool:
        """``g_a`` sees a detached ŷ_b (the Baseline's probe); the name of the argument of
        :meth:`~ttc_core.bottleneck.BaseBottleneck.forward` it is passed to."""
        return self.mode == "baseline"

    @property
    def weight(self) -> float:
        return self.probe_weight if self.detach_reconstruction else self.beta

    def __call__(self, reconstruction: Tensor, target: Tensor) -> dict[str, Tensor]:
        rec = reconstruction_rmse(reconstruction, target)
        return {
            "loss_recon": self.weight * rec.mean(),
            "recon_rmse": rec.mean().detach(),
            # PSNR of the direct reconstruction g_a(ŷ_b) (an enhancement's is psnr_scalable)
            "psnr_direct": psnr(reconstruction.detach(), target).mean(),
        }
