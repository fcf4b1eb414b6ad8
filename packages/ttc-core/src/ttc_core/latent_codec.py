"""The coding lifecycle both layers share, as CompressAI's ``CompressionModel`` carries it.

Reference: A. de Andrade, I. Bajić, "Towards Task-Compatible Compressible Representations",
ICME 2024 Workshop on Coding for Machines (arXiv:2405.10244), §3.

::

    x ─ pad to ×16 ─ f ─ ⌊·⌉ ─ ŷ ──▶ p(ŷ | context [, side]) ── estimated bits (training)
                                 └─▶ update() ─ compress() ─▶ rANS strings ─ decompress() ─▶ ŷ

:class:`LatentCodec` is the small base class of :class:`~ttc_core.bottleneck.BaseBottleneck`
(no side information) and :class:`~ttc_core.enhancement.EnhancementBottleneck` (ŷ_b as side
information). A subclass builds ``analysis`` (the transform ``f``) and ``entropy_model`` (an
:class:`~ttc_core.entropy.AutoregressiveEntropyModel`); the lifecycle is written here once:

- :meth:`encode`: ŷ with straight-through rounding (any ``H, W``: replicate-padded to 16);
- :meth:`estimated_bits`: ``−Σ log2 p(ŷ)`` per image (the training rate);
- :meth:`update` → :meth:`compress` / :meth:`decompress`: real, exact rANS strings;
- :meth:`actual_bits`: 8 × the bytes of each image's string (the rate a reviewer reads);
- ``load_state_dict`` accepts checkpoints saved before and after ``update()``: the entropy
  model resizes its coder tables to what the checkpoint holds
  (``AutoregressiveEntropyModel._load_from_state_dict``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ._padding import pad_to_multiple
from .entropy import AutoregressiveEntropyModel
from .losses import bits_per_image
from .quantization import ste_round

__all__ = ["LatentCodec", "STRIDE"]

#: total downsampling of the analysis transforms
STRIDE = 16


class LatentCodec(nn.Module):
    """``x → ŷ`` with an autoregressive entropy model and the compress / decompress lifecycle.

    Subclasses set ``self.analysis``, ``self.entropy_model`` and ``self.latent_channels``.
    ``side`` is the side information of the entropy model (ŷ_b for an enhancement layer,
    ``None`` for the base layer); ``order`` (the coding order) is keyword-only so that a
    positional argument cannot be taken for the other.
    """

    analysis: nn.Module
    entropy_model: AutoregressiveEntropyModel
    latent_channels: int
    #: whether the entropy model is conditioned on side information
    takes_side: bool = False

    def _check_side(self, side: Tensor | None) -> None:
        # a context-only model would silently ignore it: refuse instead
        if side is not None and not self.takes_side:
            raise TypeError(f"{type(self).__name__} takes no side information (side=None)")

    def encode(self, x: Tensor) -> Tensor:
        """ŷ of ``x`` (padded to a multiple of 16), straight-through rounded, float32.

        Under mixed precision ``f`` runs in the autocast dtype; ŷ is rounded in float32 (the
        entropy model and the coder work in float32, see ``AutoregressiveEntropyModel``).
        """
        x, _ = pad_to_multiple(x, STRIDE)
        return ste_round(self.analysis(x).float())

    def estimated_bits(self, y_hat: Tensor, side: Tensor | None = None) -> Tensor:
        """Likelihood estimate of the bits of each image of ``y_hat``, ``(N,)``."""
        self._check_side(side)
        return bits_per_image(self.entropy_model(y_hat, side).likelihoods)

    # -- real bitstreams ----------------------------------------------------------------
    def update(self, force: bool = False) -> bool:
        """Build the entropy coder tables (CompressAI's ``update()``), before coding."""
        return self.entropy_model.update(force=force)

    @torch.no_grad()
    def compress(
        self, x: Tensor, side: Tensor | None = None, *, order: str = "wavefront"
    ) -> tuple[list[bytes], Tensor]:
        """Code ``x``; returns one rANS string per image and the coded ŷ."""
        self._check_side(side)
        y_hat = self.encode(x)
        return self.entropy_model.compress(y_hat, side, order), y_hat

    @torch.no_grad()
    def decompress(
        self,
        strings: list[bytes],
        latent_shape: tuple[int, int],
        side: Tensor | None = None,
        *,
        order: str = "wavefront",
    ) -> Tensor:
        """ŷ from rANS strings (float32, CPU)."""
        self._check_side(side)
        return self.entropy_model.decompress(strings, latent_shape, side, order)

    @torch.no_grad()
    def actual_bits(
        self, x: Tensor, side: Tensor | None = None, *, order: str = "wavefront"
    ) -> tuple[list[int], Tensor]:
        """Bits of the real rANS string of each image of ``x`` (8 × bytes), and the coded ŷ.

        Builds the coder tables first if they are missing (a no-op when they exist).
        """
        self.update(force=False)
        strings, y_hat = self.compress(x, side, order=order)
        return [8 * len(s) for s in strings], y_hat
