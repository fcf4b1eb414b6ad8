"""The enhancement layer: an assisted task coded conditionally on the decoded base.

Reference: A. de Andrade, I. Bajić, "Towards Task-Compatible Compressible Representations",
ICME 2024 Workshop on Coding for Machines (arXiv:2405.10244), §2–3.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ._padding import crop
from .entropy import ConditionalEntropyModel
from .latent_codec import STRIDE, LatentCodec
from .losses import bits_per_image
from .transforms import AnalysisTransform, SynthesisTransform
from .variable_rate import DEFAULT_GAIN_RANGE, GainUnits, SideGains, check_num_rates

__all__ = ["EnhancementBottleneck", "EnhancementOutput"]


@dataclass
class EnhancementOutput:
    y_hat: Tensor  #: quantised enhancement latent ŷ_e (what is coded)
    likelihoods: Tensor  #: p(ŷ_e | ŷ_b)
    output: Tensor | None  #: g_e(ŷ_e), (N, out_channels, H, W); None when not synthesised
    bits: Tensor  #: estimated enhancement bits per image, (N,)
    bpp: Tensor  #: estimated enhancement bits per pixel of the H×W input, (N,)
    rate: float | None = None  #: this layer's rate position (None: per-α)


class EnhancementBottleneck(LatentCodec):
    r"""Enhancement layer ``x → ŷ_e → g_e(ŷ_e)``, rate ``R(ŷ_e | ŷ_b)``::

        x ─ f_e ─ ⌊·⌉ ─ ŷ_e ─ g_e ─ output (reconstruction, or pseudo-image for a task network)
                         │
        ŷ_b (frozen) ─▶ p(ŷ_e | ŷ_b): ConditionalEntropyModel ─▶ rate

    The coding lifecycle is :class:`~ttc_core.latent_codec.LatentCodec`'s, with ŷ_b as the
    entropy model's side information. The decoder ``g_e`` sees only ŷ_e. ``synthesis_blocks``
    is 3 for reconstruction and 1 for a pseudo-image. The input must have the size the base
    layer saw, and ``downsampling`` (the stride of ``f_e``, 16 in the paper) must be the base
    layer's, so that ŷ_b and ŷ_e align.

    Two retraining stages start from a trained conditional model and train **only the entropy
    model** (``f_e`` and ``g_e`` frozen), for the same number of steps:

    - **Standalone** (METHOD §2, :meth:`set_standalone`): zeros replace ŷ_b. The lower bound on
      what side information is worth.
    - **Continued** (METHOD §8, :meth:`set_continued`): the true ŷ_b, the control of equal
      budget. The side-information saving is Standalone vs Continued, like with like; comparing
      Standalone with the conditional model it started from would credit the extra training to
      the absence of side information.

    **Variable rate** (:mod:`ttc_core.variable_rate`). ``num_rates >= 2`` gives this layer gain
    units (Cui et al., CVPR 2021): its calls take its own rate position ``rate``. ``side_rates``
    is the number of rate points of a *variable-rate base*: the side information is then the
    base's decoded ŷ_b' = ŷ_b ⊙ m'_b, scaled by learned per-base-rate vectors
    (:class:`~ttc_core.variable_rate.SideGains`), and every call takes the base's rate position
    ``side_rate``: the enhancement knows which base rate it is conditioned on.
    """

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        latent_channels: int = 192,
        side_channels: int = 192,
        analysis_channels: Sequence[int] = (24, 48, 192),
        analysis_blocks: int = 3,
        synthesis_channels: Sequence[int] = (192, 48, 24),
        synthesis_blocks: int = 3,
        activation: str = "elu",
        standalone: bool = False,
        continued: bool = False,
        num_rates: int = 0,
        side_rates: int = 0,
        gain_range: Sequence[float] = DEFAULT_GAIN_RANGE,
        downsampling: int = STRIDE,
    ):
        super().__init__()
        check_num_rates(num_rates)
        check_num_rates(side_rates, "side_rates")
        self.takes_side = True
        # built only in variable-rate modes: a per-α layer's state dict is unchanged
        self.gain_units = GainUnits(num_rates, latent_channels, gain_range) if num_rates else None
        self.side_gains = SideGains(side_rates, side_channels) if side_rates else None
        self.analysis = AnalysisTransform(
            in_channels,
            latent_channels,
            analysis_channels,
            analysis_blocks,
            activation,
            downsampling=downsampling,
        )
        self.entropy_model = ConditionalEntropyModel(
            latent_channels, side_channels, activation=activation
        )
        self.synthesis = SynthesisTransform(
            latent_channels,
            out_channels,
            synthesis_channels,
            synthesis_blocks,
            activation,
            upsampling=downsampling,
        )
        self.latent_channels = latent_channels
        if standalone and continued:
            raise ValueError(
                "standalone (zeros for ŷ_b) and continued (the true ŷ_b) exclude each other"
            )
        self._continued = False
        self.set_standalone(standalone)
        if continued:
            self.set_continued()

    @property
    def standalone(self) -> bool:
        return self.entropy_model.standalone

    @property
    def continued(self) -> bool:
        return self._continued

    @property
    def entropy_model_only(self) -> bool:
        """Only the entropy model trains (Standalone or Continued)."""
        return self.standalone or self._continued

    @property
    def stage(self) -> str:
        """``"conditional"``, ``"standalone"`` or ``"continued"``."""
        if self.standalone:
            return "standalone"
        return "continued" if self._continued else "conditional"

    @property
    def side_rates(self) -> int:
        """Rate points of the variable-rate base this layer is conditioned on (0: per-α)."""
        return 0 if self.side_gains is None else self.side_gains.num_rates

    def prepare_side(
        self, side: Tensor | None, side_rate: float | None = None, *, exact: bool = False
    ) -> Tensor | None:
        """ŷ_b as the entropy model sees it: scaled by the learned vector of the base's rate
        position (conditioned on a variable-rate base), else as given."""
        if self.side_gains is None:
            return super().prepare_side(side, side_rate, exact=exact)
        if side_rate is None:
            raise ValueError(
                f"this enhancement is conditioned on a variable-rate base with "
                f"{self.side_rates} rate points: give the base's rate position side_rate"
            )
        scale = self.side_gains.scale(side_rate, exact=exact)
        if side is None:  # Standalone / no side information: zeros, whatever the scale
            return None
        if exact:
            return side.detach().double().cpu() * scale
        return side * scale.to(side.device, side.dtype)

    def _freeze_transforms(self, frozen: bool) -> None:
        # gain units and side gains are frozen with the transforms: Standalone / Continued
        # retrain the entropy model alone (what both adapters freeze by parameter name too)
        for module in (self.analysis, self.synthesis, self.gain_units, self.side_gains):
            if module is not None:
                module.requires_grad_(not frozen)
        self.entropy_model.requires_grad_(True)

    def set_standalone(self, standalone: bool = True) -> EnhancementBottleneck:
        """Switch to (or from) the Standalone reference.

        Standalone: zeros replace ŷ_b and only the entropy model's parameters stay trainable.
        """
        self.entropy_model.standalone = bool(standalone)
        if standalone:
            self._continued = False
        self._freeze_transforms(bool(standalone))
        return self

    def set_continued(self, continued: bool = True) -> EnhancementBottleneck:
        """Switch to (or from) the Continued control: the true ŷ_b, only the entropy model
        trainable."""
        if continued and self.standalone:
            raise ValueError("a Standalone model cannot be Continued: it has no side information")
        self._continued = bool(continued)
        self._freeze_transforms(self.entropy_model_only)
        return self

    def forward(
        self,
        x: Tensor,
        side: Tensor | None,
        synthesize: bool = True,
        *,
        rate: float | None = None,
        side_rate: float | None = None,
    ) -> EnhancementOutput:
        """``x``: the input ``(N, C, H, W)``; ``side``: the decoded base ŷ_b (or None).

        ``synthesize=False`` skips ``g_e`` (``output`` is None): Standalone / Continued
        training minimises the rate only. ``rate``: this layer's rate position (variable
        rate); ``side_rate``: the base's (conditioned on a variable-rate base).
        """
        size = tuple(x.shape[-2:])
        q = self.check_rate(rate)
        y_hat = self.encode(x, rate=q)
        likelihoods = self.entropy_model(y_hat, self.prepare_side(side, side_rate)).likelihoods
        output = None
        if synthesize:
            output = crop(self.synthesis(self.dequantize(y_hat, rate=q)), size)
        bits = bits_per_image(likelihoods)
        return EnhancementOutput(
            y_hat, likelihoods, output, bits, bits / (size[0] * size[1]), rate=q
        )

    @torch.no_grad()
    def synthesize(
        self, y_hat: Tensor, size: tuple[int, int], *, rate: float | None = None
    ) -> Tensor:
        """g_e of the coded ŷ_e (dequantised at ``rate``), cropped to ``size``."""
        return crop(self.synthesis(self.dequantize(y_hat, rate=rate)), size)
