"""Conditional entropy model p(ŷ_e | ŷ_b) of the enhancement latent (METHOD §3)."""

from __future__ import annotations

from torch import Tensor, nn

from ..layers import ResidualBottleneckBlock
from ._base import INIT_SCALE, AutoregressiveEntropyModel

__all__ = ["ConditionalEntropyModel"]


class ConditionalEntropyModel(AutoregressiveEntropyModel):
    r"""Context model of ŷ_e conditioned on the decoded base ŷ_b (replaces the hyper-decoder)::

        ŷ_b ─ RB5×2 (S) ─ conv5×5 (S→2M) ─ RB5×2 (2M) ─┐
                                                       ├─ 1×1 4M→10M/3 ─ ELU ─ →8M/3
        ŷ_e ─ MaskedConv5×5 A (M→2M) ─────────────────┘      ─ ELU ─ →2M ─ σ, μ

    ŷ_b and ŷ_e have the same spatial size. 14,661,248 parameters with the defaults.

    **Standalone** (METHOD §2, the lower bound on the benefit of side information): with
    ``side=None`` or ``standalone=True`` the side network is fed zeros instead of ŷ_b, so the
    model codes ŷ_e without side information. Freezing everything but this entropy model for
    the standalone retraining is done by ``EnhancementBottleneck.set_standalone``.

    Args:
        latent_channels: channels ``M`` of ŷ_e.
        side_channels: channels ``S`` of ŷ_b.
        standalone: ignore the side information (feed zeros).
    """

    def __init__(
        self,
        latent_channels: int = 192,
        side_channels: int = 192,
        standalone: bool = False,
        scale_bound: float = 0.11,
        likelihood_bound: float = 1e-9,
        init_scale: float = INIT_SCALE,
        activation: str = "elu",
    ):
        m, s = latent_channels, side_channels
        super().__init__(m, 2 * m, scale_bound, likelihood_bound)
        self.side_channels = s
        self.standalone = standalone
        self.side_network = nn.Sequential(
            ResidualBottleneckBlock(s, 5, activation),
            ResidualBottleneckBlock(s, 5, activation),
            nn.Conv2d(s, 2 * m, 5, padding=2),
            ResidualBottleneckBlock(2 * m, 5, activation),
            ResidualBottleneckBlock(2 * m, 5, activation),
        )
        self.entropy_parameters = nn.Sequential(
            nn.Conv2d(4 * m, 10 * m // 3, 1),
            nn.ELU(inplace=True),
            nn.Conv2d(10 * m // 3, 8 * m // 3, 1),
            nn.ELU(inplace=True),
            nn.Conv2d(8 * m // 3, 2 * m, 1),
        )
        self._start_scales_at(init_scale)

    def side_input(self, side: Tensor | None, y_hat: Tensor) -> Tensor:
        """The tensor the side network sees: ŷ_b, or zeros when standalone / absent."""
        n, _, h, w = y_hat.shape
        if side is None or self.standalone:
            return y_hat.new_zeros(n, self.side_channels, h, w)
        if side.dim() != 4 or side.shape[0] != n or side.shape[1] != self.side_channels:
            raise ValueError(
                f"side information must have shape ({n}, {self.side_channels}, {h}, {w}), "
                f"got {tuple(side.shape)}"
            )
        if side.shape[-2:] != y_hat.shape[-2:]:
            raise ValueError(
                f"ŷ_b {tuple(side.shape[-2:])} and ŷ_e {tuple(y_hat.shape[-2:])} must have the "
                "same spatial size (same input size and downsampling in both layers)"
            )
        return side.to(y_hat.dtype)

    def side_features(self, side: Tensor | None, y_hat: Tensor) -> Tensor:
        return self.side_network(self.side_input(side, y_hat))
