"""The base layer: a compressible latent for a machine task, rewarded for reconstruction.

Reference: A. de Andrade, I. Bajić, "Towards Task-Compatible Compressible Representations",
ICME 2024 Workshop on Coding for Machines (arXiv:2405.10244), §2–3.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from torch import Tensor

from ._padding import crop
from .entropy import ContextEntropyModel
from .latent_codec import STRIDE, LatentCodec
from .losses import bits_per_image
from .transforms import AnalysisTransform, SynthesisTransform

__all__ = ["BaseBottleneck", "BottleneckOutput", "STRIDE"]


@dataclass
class BottleneckOutput:
    """What :class:`BaseBottleneck` computes for a batch."""

    y_hat: Tensor  #: quantised latent ŷ_b, (N, M, ⌈H/16⌉, ⌈W/16⌉)
    likelihoods: Tensor  #: p(ŷ_b), same shape as ``y_hat``
    pseudo_image: Tensor  #: g_b(ŷ_b), (N, task_channels, H, W), input to the task network
    reconstruction: Tensor | None  #: g_a(ŷ_b), (N, 3, H, W), or None when not requested
    bits: Tensor  #: estimated bits per image, (N,)
    bpp: Tensor  #: estimated bits per pixel of the H×W input, (N,)


class BaseBottleneck(LatentCodec):
    r"""Base layer ``x → ŷ_b → (pseudo-image, reconstruction)``::

                   ┌─ g_b (n=1) ─ pseudo-image ─▶ task network
        x ─ f ─ ⌊·⌉ ─┤
                   │└─ g_a (n=3) ─ x̂ ─▶ β·rec(x̂, x)      (detached ŷ_b in the Baseline)
                   └── p(ŷ_b): ContextEntropyModel ─▶ rate

    The coding lifecycle (``encode``, ``update``, ``compress``, ``decompress``,
    ``actual_bits``) is :class:`~ttc_core.latent_codec.LatentCodec`'s, with no side information.

    Inputs of any size are replicate-padded at the bottom/right to a multiple of 16 and the
    outputs cropped back. **bpp counts the pixels of the unpadded input** (``H·W`` of ``x``):
    for COCO that is the resized detector input, for Cityscapes depth the frame fed here.

    Args:
        in_channels: channels of ``x``.
        latent_channels: channels ``M`` of ŷ_b.
        analysis_channels / analysis_blocks: widths and residual blocks of ``f``.
        synthesis_channels: widths of both synthesis transforms.
        task_channels / task_blocks: output channels and blocks of ``g_b`` (3 and 1).
        recon_channels / recon_blocks: output channels and blocks of ``g_a`` (3 and 3).
        activation: activation of the residual blocks.
    """

    def __init__(
        self,
        in_channels: int = 3,
        latent_channels: int = 192,
        analysis_channels: Sequence[int] = (24, 48, 192),
        analysis_blocks: int = 3,
        synthesis_channels: Sequence[int] = (192, 48, 24),
        task_channels: int = 3,
        task_blocks: int = 1,
        recon_channels: int = 3,
        recon_blocks: int = 3,
        activation: str = "elu",
    ):
        super().__init__()
        self.analysis = AnalysisTransform(
            in_channels, latent_channels, analysis_channels, analysis_blocks, activation
        )
        self.entropy_model = ContextEntropyModel(latent_channels)
        self.task_synthesis = SynthesisTransform(
            latent_channels, task_channels, synthesis_channels, task_blocks, activation
        )
        self.reconstruction_synthesis = SynthesisTransform(
            latent_channels, recon_channels, synthesis_channels, recon_blocks, activation
        )
        self.latent_channels = latent_channels

    def decode(self, y_hat: Tensor, size: tuple[int, int]) -> tuple[Tensor, Tensor]:
        """Pseudo-image and reconstruction of ``y_hat``, cropped to ``size``."""
        return (
            crop(self.task_synthesis(y_hat), size),
            crop(self.reconstruction_synthesis(y_hat), size),
        )

    def forward(
        self, x: Tensor, detach_reconstruction: bool = False, reconstruct: bool = True
    ) -> BottleneckOutput:
        """Run the base layer.

        Args:
            x: images ``(N, C, H, W)``, any ``H, W``.
            detach_reconstruction: feed ``g_a`` a detached ŷ_b (the Baseline's probe; see
                :class:`~ttc_core.losses.ReconstructionLoss`).
            reconstruct: compute ``g_a`` at all (skip it where nothing uses it).
        """
        size = tuple(x.shape[-2:])
        y_hat = self.encode(x)
        likelihoods = self.entropy_model(y_hat).likelihoods
        pseudo = crop(self.task_synthesis(y_hat), size)
        recon = None
        if reconstruct:
            y_in = y_hat.detach() if detach_reconstruction else y_hat
            recon = crop(self.reconstruction_synthesis(y_in), size)
        bits = bits_per_image(likelihoods)
        return BottleneckOutput(y_hat, likelihoods, pseudo, recon, bits, bits / (size[0] * size[1]))
