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
from .variable_rate import DEFAULT_GAIN_RANGE, GainUnits, check_num_rates

__all__ = ["BaseBottleneck", "BottleneckOutput", "STRIDE"]


@dataclass
class BottleneckOutput:
    """What :class:`BaseBottleneck` computes for a batch."""

    y_hat: Tensor  #: quantised latent ŷ_b, (N, M, ⌈H/s⌉, ⌈W/s⌉), s the stride: what is coded
    likelihoods: Tensor  #: p(ŷ_b), same shape as ``y_hat``
    pseudo_image: Tensor  #: g_b(ŷ_b), (N, task_channels, H, W), input to the task network
    reconstruction: Tensor | None  #: g_a(ŷ_b), (N, 3, H, W), or None when not requested
    bits: Tensor  #: estimated bits per image, (N,)
    bpp: Tensor  #: estimated bits per pixel of the H×W input, (N,)
    #: what the synthesis transforms saw: ŷ_b ⊙ m'(rate) (variable rate), else ŷ_b itself
    y_decoded: Tensor | None = None
    rate: float | None = None  #: the rate position coded (None: a per-α model)

    @property
    def side(self) -> Tensor:
        """The side information an enhancement layer is conditioned on: ŷ_b as decoded."""
        return self.y_hat if self.y_decoded is None else self.y_decoded


class BaseBottleneck(LatentCodec):
    r"""Base layer ``x → ŷ_b → (pseudo-image, reconstruction)``::

                   ┌─ g_b (n=1) ─ pseudo-image ─▶ task network
        x ─ f ─ ⌊·⌉ ─┤
                   │└─ g_a (n=3) ─ x̂ ─▶ β·rec(x̂, x)      (detached ŷ_b in the Baseline)
                   └── p(ŷ_b): ContextEntropyModel ─▶ rate

    The coding lifecycle (``encode``, ``update``, ``compress``, ``decompress``,
    ``actual_bits``) is :class:`~ttc_core.latent_codec.LatentCodec`'s, with no side information.

    Inputs of any size are replicate-padded at the bottom/right to a multiple of the stride
    (``downsampling``, 16 in the paper) and the
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
        downsampling: total downsampling of ``f`` (and upsampling of both ``g``), one of
            :data:`~ttc_core.transforms.DOWNSAMPLINGS`; 16 is the paper's. Smaller factors suit
            small inputs, whose /16 latent has too few positions for a task network.
        num_rates: 0 (default): one model per rate weight α, the paper's training. ``N >= 2``:
            a variable-rate layer with gain units (Cui et al., CVPR 2021;
            :mod:`ttc_core.variable_rate`): ``forward`` / ``encode`` / ``decode`` take a rate
            position ``rate`` in ``[0, N−1]``.
        gain_range: initial gains of the lowest and highest rate point (variable rate only).
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
        num_rates: int = 0,
        gain_range: Sequence[float] = DEFAULT_GAIN_RANGE,
        downsampling: int = STRIDE,
    ):
        super().__init__()
        check_num_rates(num_rates)
        # built only in variable-rate mode: a per-α layer's state dict is unchanged
        self.gain_units = GainUnits(num_rates, latent_channels, gain_range) if num_rates else None
        self.analysis = AnalysisTransform(
            in_channels,
            latent_channels,
            analysis_channels,
            analysis_blocks,
            activation,
            downsampling=downsampling,
        )
        self.entropy_model = ContextEntropyModel(latent_channels)
        self.task_synthesis = SynthesisTransform(
            latent_channels,
            task_channels,
            synthesis_channels,
            task_blocks,
            activation,
            upsampling=downsampling,
        )
        self.reconstruction_synthesis = SynthesisTransform(
            latent_channels,
            recon_channels,
            synthesis_channels,
            recon_blocks,
            activation,
            upsampling=downsampling,
        )
        self.latent_channels = latent_channels

    def decode(
        self, y_hat: Tensor, size: tuple[int, int], *, rate: float | None = None
    ) -> tuple[Tensor, Tensor]:
        """Pseudo-image and reconstruction of the coded ``y_hat``, cropped to ``size``."""
        y = self.dequantize(y_hat, rate=rate)
        return (
            crop(self.task_synthesis(y), size),
            crop(self.reconstruction_synthesis(y), size),
        )

    def forward(
        self,
        x: Tensor,
        detach_reconstruction: bool = False,
        reconstruct: bool = True,
        *,
        rate: float | None = None,
    ) -> BottleneckOutput:
        """Run the base layer.

        Args:
            x: images ``(N, C, H, W)``, any ``H, W``.
            detach_reconstruction: feed ``g_a`` a detached ŷ_b (the Baseline's probe; see
                :class:`~ttc_core.losses.ReconstructionLoss`).
            reconstruct: compute ``g_a`` at all (skip it where nothing uses it).
            rate: the rate position of a variable-rate layer (required there, refused for a
                per-α one); training passes the index it drew for the batch.
        """
        size = tuple(x.shape[-2:])
        q = self.check_rate(rate)
        y_hat = self.encode(x, rate=q)
        likelihoods = self.entropy_model(y_hat).likelihoods
        y_dec = self.dequantize(y_hat, rate=q)
        pseudo = crop(self.task_synthesis(y_dec), size)
        recon = None
        if reconstruct:
            # the Baseline's probe: no gradient into f nor into the gains through g_a
            y_in = y_dec.detach() if detach_reconstruction else y_dec
            recon = crop(self.reconstruction_synthesis(y_in), size)
        bits = bits_per_image(likelihoods)
        return BottleneckOutput(
            y_hat,
            likelihoods,
            pseudo,
            recon,
            bits,
            bits / (size[0] * size[1]),
            y_decoded=None if q is None else y_dec,
            rate=q,
        )
