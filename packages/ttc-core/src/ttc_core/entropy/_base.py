"""The autoregressive Gaussian entropy model both layers share.

Reference: A. de Andrade, I. Bajić, "Towards Task-Compatible Compressible Representations",
ICME 2024 Workshop on Coding for Machines (arXiv:2405.10244), §3; the context model follows
D. Minnen, J. Ballé, G. Toderici, "Joint Autoregressive and Hierarchical Priors for Learned
Image Compression", NeurIPS 2018.

::

    ŷ ── MaskedConv5×5 (type A) ──┐
                                  ├─ concat ─ 1×1 convs ─ (σ, μ)
    side ─ side network (opt.) ───┘
    p(ŷ) = (N(0, σ²) ∗ U(−½, ½)) evaluated at round(ŷ − μ)

The symbol coded for a latent is ``round(ŷ − μ)``. Since ``ŷ`` is an integer this equals
``ŷ − round(μ)``: the model is a discretised Gaussian whose mean is snapped to the integer grid,
which is what makes decoding exact (see :mod:`ttc_core.entropy.coding`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from compressai.entropy_models import GaussianConditional
from compressai.layers import MaskedConv2d
from compressai.models.base import get_scale_table
from torch import Tensor, nn

from ..quantization import ste_round
from . import coding

__all__ = ["AutoregressiveEntropyModel", "EntropyParameters", "INIT_SCALE", "SCALE_TABLE_LEVELS"]

#: Levels of the coder's scale table (log-spaced over [0.11, 256]). CompressAI's default of 64
#: rounds σ up by as much as 13 %, which made actual enhancement bits exceed the likelihood
#: estimate by ~1.7 % on a trained model; 256 levels (≤ 3 % per step) bring it under 0.5 %.
SCALE_TABLE_LEVELS = 256

#: σ an untrained model predicts, in quantisation steps: the spread of a latent from an untrained
#: :class:`~ttc_core.transforms.AnalysisTransform` (``INIT_GAIN``). With the default bias of 0
#: every σ sat at the 0.11 bound, most elements at the likelihood bound (≈ 30 bits each), and
#: the estimate overstated the coder's bits by 15–20 % until training had moved σ.
INIT_SCALE = 2.0


@dataclass
class EntropyParameters:
    """Output of an entropy model's forward pass."""

    likelihoods: Tensor  #: p(ŷ) per element, in (0, 1]
    scales: Tensor  #: σ (before the lower bound)
    means: Tensor  #: μ


class AutoregressiveEntropyModel(nn.Module):
    """Base class: masked-convolution context (+ optional side features) → Gaussian parameters.

    Subclasses define ``entropy_parameters`` (a stack of 1×1 convolutions and activations) and
    may override :meth:`side_features`. The class carries the CompressAI-style lifecycle:
    ``forward`` for training (likelihoods), ``update()`` to build the CDF tables, then
    ``compress`` / ``decompress`` for real rANS bitstreams.

    Args:
        latent_channels: channels ``M`` of ŷ.
        context_channels: output channels of the masked convolution.
        scale_bound: lower bound on σ (0.11, as the reference).
        likelihood_bound: lower bound on likelihoods (1e-9, as the reference).
    """

    entropy_parameters: nn.Sequential

    def __init__(
        self,
        latent_channels: int,
        context_channels: int,
        scale_bound: float = 0.11,
        likelihood_bound: float = 1e-9,
    ):
        super().__init__()
        if latent_channels <= 0:
            raise ValueError(f"latent_channels must be positive, got {latent_channels}")
        self.latent_channels = latent_channels
        self.context_prediction = MaskedConv2d(
            latent_channels, context_channels, kernel_size=5, padding=2, stride=1, mask_type="A"
        )
        self.gaussian_conditional = GaussianConditional(
            None, scale_bound=scale_bound, likelihood_bound=likelihood_bound
        )

    def _start_scales_at(self, scale: float) -> None:
        """Set the σ half of the last layer's bias (subclasses call it once they have built
        ``entropy_parameters``): the model starts at σ ≈ ``scale``, μ ≈ 0."""
        last = self.entropy_parameters[-1]
        with torch.no_grad():
            last.bias[: self.latent_channels].fill_(scale)

    # -- model ---------------------------------------------------------------------------
    def side_features(self, side: Tensor | None, y_hat: Tensor) -> Tensor | None:
        """Features of the side information aligned with ``y_hat`` (None: context only)."""
        return None

    def _check_latent(self, y_hat: Tensor) -> None:
        if y_hat.dim() != 4 or y_hat.shape[1] != self.latent_channels:
            raise ValueError(
                f"{type(self).__name__} expects ŷ of shape (N, {self.latent_channels}, H, W), "
                f"got {tuple(y_hat.shape)}"
            )

    def forward(self, y_hat: Tensor, side: Tensor | None = None) -> EntropyParameters:
        """Likelihoods of the (already quantised) latent ``y_hat``.

        The rate gradient reaches ``y_hat`` and the parameters through straight-through
        rounding of ``ŷ − μ``.
        """
        self._check_latent(y_hat)
        # Always float32, also under mixed precision (torch.autocast): the likelihood bound
        # 1e-9 underflows in float16, bfloat16's 8-bit mantissa moves σ and μ by ~0.4 %, and
        # the coder (float32 on the CPU) must see the parameters the rate was trained with.
        with torch.autocast(device_type=y_hat.device.type, enabled=False):
            y_hat = y_hat.float()
            side = side.float() if side is not None else None
            ctx = self.context_prediction(y_hat)
            feats = self.side_features(side, y_hat)
            params = self.entropy_parameters(ctx if feats is None else torch.cat([ctx, feats], 1))
            scales, means = params.chunk(2, dim=1)
            residual = ste_round(y_hat - means)
            likelihoods = self.gaussian_conditional._likelihood(residual, scales)
            if self.gaussian_conditional.use_likelihood_bound:
                likelihoods = self.gaussian_conditional.likelihood_lower_bound(likelihoods)
        return EntropyParameters(likelihoods, scales, means)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # The coder tables are sized by update(); resize ours to what the checkpoint holds so
        # that checkpoints saved before and after update() both load.
        gc_prefix = f"{prefix}gaussian_conditional."
        for name in ("_quantized_cdf", "_offset", "_cdf_length", "scale_table"):
            key = gc_prefix + name
            if key in state_dict:
                buf = getattr(self.gaussian_conditional, name)
                buf.resize_(state_dict[key].shape)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # -- coding lifecycle -----------------------------------------------------------------
    def update(self, scale_table: Tensor | None = None, force: bool = False) -> bool:
        """Build the rANS CDF tables (call after training / loading, before coding)."""
        if scale_table is None:
            scale_table = get_scale_table(levels=SCALE_TABLE_LEVELS)
        return self.gaussian_conditional.update_scale_table(scale_table, force=force)

    @property
    def is_updated(self) -> bool:
        return self.gaussian_conditional._offset.numel() > 0

    def compress(
        self, y_hat: Tensor, side: Tensor | None = None, order: str = "wavefront"
    ) -> list[bytes]:
        """Entropy-code each image of the integer latent ``y_hat``; one string per image."""
        self._check_latent(y_hat)
        return coding.compress(self, y_hat, side, order)

    def decompress(
        self,
        strings: list[bytes],
        shape: tuple[int, int],
        side: Tensor | None = None,
        order: str = "wavefront",
    ) -> Tensor:
        """Decode ``strings`` into ŷ of spatial ``shape`` (on the CPU, float32)."""
        return coding.decompress(self, strings, shape, side, order)
