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
from .latent_codec import LatentCodec
from .losses import bits_per_image
from .transforms import AnalysisTransform, SynthesisTransform

__all__ = ["EnhancementBottleneck", "EnhancementOutput"]


@dataclass
class EnhancementOutput:
    y_hat: Tensor  #: quantised enhancement latent ŷ_e
    likelihoods: Tensor  #: p(ŷ_e | ŷ_b)
    output: Tensor | None  #: g_e(ŷ_e), (N, out_channels, H, W); None when not synthesised
    bits: Tensor  #: estimated enhancement bits per image, (N,)
    bpp: Tensor  #: estimated enhancement bits per pixel of the H×W input, (N,)


class EnhancementBottleneck(LatentCodec):
    r"""Enhancement layer ``x → ŷ_e → g_e(ŷ_e)``, rate ``R(ŷ_e | ŷ_b)``::

        x ─ f_e ─ ⌊·⌉ ─ ŷ_e ─ g_e ─ output (reconstruction, or pseudo-image for a task network)
                         │
        ŷ_b (frozen) ─▶ p(ŷ_e | ŷ_b): ConditionalEntropyModel ─▶ rate

    The coding lifecycle is :class:`~ttc_core.latent_codec.LatentCodec`'s, with ŷ_b as the
    entropy model's side information. The decoder ``g_e`` sees only ŷ_e. ``synthesis_blocks``
    is 3 for reconstruction and 1 for a pseudo-image. The input must have the size the base
    layer saw, so that ŷ_b and ŷ_e align.

    Two retraining stages start from a trained conditional model and train **only the entropy
    model** (``f_e`` and ``g_e`` frozen), for the same number of steps:

    - **Standalone** (METHOD §2, :meth:`set_standalone`): zeros replace ŷ_b. The lower bound on
      what side information is worth.
    - **Continued** (METHOD §8, :meth:`set_continued`): the true ŷ_b, the control of equal
      budget. The side-information saving is Standalone vs Continued, like with like; comparing
      Standalone with the conditional model it started from would credit the extra training to
      the absence of side information.
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
    ):
        super().__init__()
        self.takes_side = True
        self.analysis = AnalysisTransform(
            in_channels, latent_channels, analysis_channels, analysis_blocks, activation
        )
        self.entropy_model = ConditionalEntropyModel(
            latent_channels, side_channels, activation=activation
        )
        self.synthesis = SynthesisTransform(
            latent_channels, out_channels, synthesis_channels, synthesis_blocks, activation
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

    def _freeze_transforms(self, frozen: bool) -> None:
        for module in (self.analysis, self.synthesis):
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

    def forward(self, x: Tensor, side: Tensor | None, synthesize: bool = True) -> EnhancementOutput:
        """``x``: the input ``(N, C, H, W)``; ``side``: the decoded base ŷ_b (or None).

        ``synthesize=False`` skips ``g_e`` (``output`` is None): Standalone / Continued
        training minimises the rate only.
        """
        size = tuple(x.shape[-2:])
        y_hat = self.encode(x)
        likelihoods = self.entropy_model(y_hat, side).likelihoods
        output = crop(self.synthesis(y_hat), size) if synthesize else None
        bits = bits_per_image(likelihoods)
        return EnhancementOutput(y_hat, likelihoods, output, bits, bits / (size[0] * size[1]))

    @torch.no_grad()
    def synthesize(self, y_hat: Tensor, size: tuple[int, int]) -> Tensor:
        """g_e(ŷ_e) cropped to ``size``."""
        return crop(self.synthesis(y_hat), size)
