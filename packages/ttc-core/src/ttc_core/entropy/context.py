"""Context-only entropy model of the base latent (METHOD §3, "Base entropy model")."""

from __future__ import annotations

from torch import nn

from ._base import INIT_SCALE, AutoregressiveEntropyModel

__all__ = ["ContextEntropyModel"]


class ContextEntropyModel(AutoregressiveEntropyModel):
    r"""Autoregressive context model without hyperprior, for the base latent ŷ_b::

        ŷ ─ MaskedConv5×5 A (M→2M) ─ 1×1 (2M→10M/3) ─ LReLU ─ 1×1 (→8M/3) ─ LReLU ─ 1×1 (→2M) ─ σ, μ

    2,615,168 parameters with ``latent_channels=192``, as the reference.
    """

    def __init__(
        self,
        latent_channels: int = 192,
        scale_bound: float = 0.11,
        likelihood_bound: float = 1e-9,
        init_scale: float = INIT_SCALE,
    ):
        m = latent_channels
        super().__init__(m, 2 * m, scale_bound, likelihood_bound)
        self.entropy_parameters = nn.Sequential(
            nn.Conv2d(2 * m, 10 * m // 3, 1),
            nn.LeakyReLU(inplace=True),
            nn.Conv2d(10 * m // 3, 8 * m // 3, 1),
            nn.LeakyReLU(inplace=True),
            nn.Conv2d(8 * m // 3, 2 * m, 1),
        )
        self._start_scales_at(init_scale)
