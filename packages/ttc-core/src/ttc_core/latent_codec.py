"""The coding lifecycle both layers share, as CompressAI's ``CompressionModel`` carries it.

Reference: A. de Andrade, I. Bajić, "Towards Task-Compatible Compressible Representations",
ICME 2024 Workshop on Coding for Machines (arXiv:2405.10244), §3.

::

    x ─ pad to ×s ─ f ─ ⌊·⌉ ─ ŷ ──▶ p(ŷ | context [, side]) ── estimated bits (training)
                                 └─▶ update() ─ compress() ─▶ rANS strings ─ decompress() ─▶ ŷ

:class:`LatentCodec` is the small base class of :class:`~ttc_core.bottleneck.BaseBottleneck`
(no side information) and :class:`~ttc_core.enhancement.EnhancementBottleneck` (ŷ_b as side
information). A subclass builds ``analysis`` (the transform ``f``) and ``entropy_model`` (an
:class:`~ttc_core.entropy.AutoregressiveEntropyModel`); the lifecycle is written here once:

- :meth:`encode`: ŷ with straight-through rounding (any ``H, W``: replicate-padded to a multiple of
  :attr:`~LatentCodec.stride`, the downsampling of ``f``: 16 in the paper);
- :meth:`dequantize`: ŷ as the synthesis sees it (``ŷ ⊙ m'(q)`` in a variable-rate layer,
  :mod:`ttc_core.variable_rate`; ŷ itself otherwise);
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
from .variable_rate import GainUnits

__all__ = ["LatentCodec", "STRIDE"]

#: total downsampling of the paper's analysis transforms (the default; a layer's own factor is
#: :attr:`LatentCodec.stride`)
STRIDE = 16


class LatentCodec(nn.Module):
    """``x → ŷ`` with an autoregressive entropy model and the compress / decompress lifecycle.

    Subclasses set ``self.analysis``, ``self.entropy_model`` and ``self.latent_channels``.
    ``side`` is the side information of the entropy model (ŷ_b for an enhancement layer,
    ``None`` for the base layer); ``order`` (the coding order) is keyword-only so that a
    positional argument cannot be taken for the other.

    **Variable rate.** A subclass built with ``num_rates >= 2`` sets ``self.gain_units``
    (:class:`~ttc_core.variable_rate.GainUnits`); every call then takes the rate position
    ``rate`` (keyword-only, required), which is refused for a per-α layer (``gain_units``
    None), so that a rate can neither be forgotten nor silently ignored.
    """

    analysis: nn.Module
    entropy_model: AutoregressiveEntropyModel
    latent_channels: int
    #: whether the entropy model is conditioned on side information
    takes_side: bool = False
    #: gain units of a variable-rate layer, None for one model per α (the paper's); set by
    #: every subclass in ``__init__`` (a class attribute would shadow the registered module)
    gain_units: GainUnits | None

    @property
    def stride(self) -> int:
        """Total downsampling of ``f``: a latent position covers ``stride × stride`` pixels."""
        return int(getattr(self.analysis, "downsampling", STRIDE))

    @property
    def num_rates(self) -> int:
        """Rate points of a variable-rate layer; 0 for a per-α layer."""
        units = getattr(self, "gain_units", None)
        return 0 if units is None else units.num_rates

    @property
    def variable_rate(self) -> bool:
        return self.num_rates > 0

    def check_rate(self, rate: float | None) -> float | None:
        """The rate position as a float (None for a per-α layer); refuses a missing rate of a
        variable-rate layer, a rate given to a per-α one, and a position out of range."""
        name = type(self).__name__
        if not self.variable_rate:
            if rate is not None:
                raise ValueError(
                    f"this {name} was trained for one rate (per-α); it takes no rate position "
                    f"(got rate={rate!r})"
                )
            return None
        if rate is None:
            raise ValueError(
                f"this {name} is variable-rate with {self.num_rates} rate points: give a rate "
                f"position in [0, {self.num_rates - 1}] (0 = lowest rate)"
            )
        return self.gain_units.check_rate(rate)

    def _check_side(self, side: Tensor | None) -> None:
        # a context-only model would silently ignore it: refuse instead
        if side is not None and not self.takes_side:
            raise TypeError(f"{type(self).__name__} takes no side information (side=None)")

    def encode(self, x: Tensor, *, rate: float | None = None) -> Tensor:
        """ŷ of ``x`` (padded to a multiple of :attr:`stride`), straight-through rounded, float32.

        Under mixed precision ``f`` runs in the autocast dtype; ŷ is rounded in float32 (the
        entropy model and the coder work in float32, see ``AutoregressiveEntropyModel``).
        A variable-rate layer multiplies ``f(x)`` by the gain ``m(rate)`` before rounding.
        """
        q = self.check_rate(rate)
        x, _ = pad_to_multiple(x, self.stride)
        y = self.analysis(x).float()
        if q is not None:
            gain, _ = self.gain_units.vectors(q)
            y = y * gain.to(y.device)
        return ste_round(y)

    def dequantize(self, y_hat: Tensor, *, rate: float | None = None, exact: bool = False):
        """ŷ as the synthesis transforms see it: ``ŷ ⊙ m'(rate)`` (variable rate), else ŷ.

        ``exact=True`` computes it in float64 on the CPU (side information of a coder, which
        must be the same on every machine); otherwise on ŷ's device, differentiable.
        """
        q = self.check_rate(rate)
        if q is None:
            return y_hat.double().cpu() if exact else y_hat
        _, inverse = self.gain_units.vectors(q, exact=exact)
        if exact:
            return y_hat.detach().double().cpu() * inverse
        return y_hat * inverse.to(y_hat.device, y_hat.dtype)

    def prepare_side(
        self, side: Tensor | None, side_rate: float | None = None, *, exact: bool = False
    ) -> Tensor | None:
        """The side information as the entropy model sees it (here: as given).

        A layer conditioned on a variable-rate base overrides this to apply what it learned
        about the base's rate position ``side_rate``; ``exact`` computes it in float64 on the
        CPU, as the coder needs.
        """
        if side_rate is not None:
            raise ValueError(
                f"{type(self).__name__} was not built for a variable-rate base: it takes no "
                f"side_rate (got {side_rate!r})"
            )
        return side

    def estimated_bits(
        self, y_hat: Tensor, side: Tensor | None = None, *, side_rate: float | None = None
    ) -> Tensor:
        """Likelihood estimate of the bits of each image of ``y_hat``, ``(N,)``."""
        self._check_side(side)
        side = self.prepare_side(side, side_rate)
        return bits_per_image(self.entropy_model(y_hat, side).likelihoods)

    # -- real bitstreams ----------------------------------------------------------------
    def update(self, force: bool = False) -> bool:
        """Build the entropy coder tables (CompressAI's ``update()``), before coding."""
        return self.entropy_model.update(force=force)

    @torch.no_grad()
    def compress(
        self,
        x: Tensor,
        side: Tensor | None = None,
        *,
        order: str = "wavefront",
        rate: float | None = None,
        side_rate: float | None = None,
    ) -> tuple[list[bytes], Tensor]:
        """Code ``x``; returns one rANS string per image and the coded ŷ.

        ``rate``: this layer's rate position (variable rate); ``side_rate``: the base's, for a
        layer conditioned on a variable-rate base (``side`` is then the base's decoded ŷ_b).
        """
        self._check_side(side)
        side = self.prepare_side(side, side_rate, exact=True)
        y_hat = self.encode(x, rate=rate)
        return self.entropy_model.compress(y_hat, side, order), y_hat

    @torch.no_grad()
    def decompress(
        self,
        strings: list[bytes],
        latent_shape: tuple[int, int],
        side: Tensor | None = None,
        *,
        order: str = "wavefront",
        side_rate: float | None = None,
    ) -> Tensor:
        """The coded ŷ from rANS strings (float32, CPU; :meth:`dequantize` it for synthesis)."""
        self._check_side(side)
        side = self.prepare_side(side, side_rate, exact=True)
        return self.entropy_model.decompress(strings, latent_shape, side, order)

    @torch.no_grad()
    def actual_bits(
        self,
        x: Tensor,
        side: Tensor | None = None,
        *,
        order: str = "wavefront",
        rate: float | None = None,
        side_rate: float | None = None,
    ) -> tuple[list[int], Tensor]:
        """Bits of the real rANS string of each image of ``x`` (8 × bytes), and the coded ŷ.

        Builds the coder tables first if they are missing (a no-op when they exist).
        """
        self.update(force=False)
        strings, y_hat = self.compress(x, side, order=order, rate=rate, side_rate=side_rate)
        return [8 * len(s) for s in strings], y_hat
