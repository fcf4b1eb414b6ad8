r"""Variable-rate layers: one model for a whole rate-distortion curve, by gain units.

Reference: Z. Cui, J. Wang, S. Gao, T. Guo, Y. Feng, B. Bai, "Asymmetric Gained Deep Image
Compression With Continuous Rate Adaptation", CVPR 2021. The layers themselves are those of
A. de Andrade, I. Bajić, "Towards Task-Compatible Compressible Representations", ICME 2024
Workshop on Coding for Machines (arXiv:2405.10244), which trains one model per rate point.

::

    x ─ f ─ y ─ ⊙ m(q) ─ ⌊·⌉ ─ ŷ ──▶ p(ŷ | context [, side]) ─ rANS   (ŷ: what is coded)
                              └── ⊙ m'(q) ─ ŷ' ─▶ synthesis           (ŷ': what is decoded)

A model trained with ``N`` rate weights ``α_0 > α_1 > … > α_{N−1}`` holds ``N`` learned gain
vectors ``m_r`` and inverse gains ``m'_r`` (one value per latent channel). The **rate
position** ``q`` is a number in ``[0, N−1]``: an integer ``r`` selects the rate point trained
with ``α_r`` (0 = the lowest rate); a fractional ``q = r + l`` interpolates neighbouring points
exponentially, as Cui et al. do, ``m(q) = m_r^{1−l} · m_{r+1}^{l}`` (linear in the log-gains
this module stores), which keeps the product ``m ⊙ m'`` of the endpoints' geometric mean, so a
pair of gains that invert each other at both endpoints still does in between.

Training draws one rate index per batch (:meth:`VariableRate.sample`) and weights that batch's
rate term with its α (:meth:`VariableRate.alpha`); the entropy model codes the integer ŷ and
learns every rate's statistics from the context. The rate position is part of what is coded:
``.ttc`` streams record it per layer (format version 3, :mod:`ttc_core.bitstream`), stored as
float32, and the coder computes the gains from it in float64 on the CPU
(:meth:`GainUnits.vectors` with ``exact=True``), so encoder and decoder agree bit for bit.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ["GainUnits", "SideGains", "VariableRate", "canonical_rate", "check_num_rates"]

#: initial gains are log-spaced over this range, lowest rate first (finer steps = more bits)
DEFAULT_GAIN_RANGE = (0.7, 1.4)
#: the stored parameters are the log-gains divided by this: with Adam (steps of about the
#: learning rate whatever the gradient's size) a gain then moves this many times faster than
#: the other weights, which it must: each rate point's gains see only 1/N of the batches, and
#: they, not the shared transforms, carry most of what distinguishes one α from another
GAIN_PARAM_SCALE = 10.0


def canonical_rate(rate: float) -> float:
    """``rate`` rounded to float32, the precision a ``.ttc`` stream records it with.

    The encoder codes with the rounded value so that the decoder, which reads it back from
    the stream, computes the very same gains.
    """
    return struct.unpack("<f", struct.pack("<f", float(rate)))[0]


def check_num_rates(num_rates: int, name: str = "num_rates") -> int:
    """``num_rates`` if it is 0 (one model per α) or an integer >= 2, else ``ValueError``."""
    if isinstance(num_rates, bool) or not isinstance(num_rates, int) or num_rates < 0:
        raise ValueError(
            f"{name} must be 0 (one model per α) or an integer >= 2, got {num_rates!r}"
        )
    if num_rates == 1:
        raise ValueError(f"{name} = 1 is one rate point: use 0 (the per-α model) instead")
    return num_rates


class VariableRate:
    """The rate weights of a variable-rate training and the choice of one per batch.

    Args:
        alphas: the rate weights α, one per rate point, strictly decreasing (index 0 is the
            lowest rate: the largest weight on bits). At least two.

    Refuses anything else with a ``ValueError`` that says what is wrong.
    """

    def __init__(self, alphas: Sequence[float]):
        try:
            values = [float(a) for a in alphas]
        except (TypeError, ValueError):
            raise ValueError(
                f"variable-rate alphas must be a list of numbers, got {alphas!r}"
            ) from None
        if len(values) < 2:
            raise ValueError(
                f"a variable-rate model needs at least two rate weights α, got {values}: "
                "train one α with the per-α mode (no alphas list)"
            )
        if not all(math.isfinite(a) and a >= 0 for a in values):
            raise ValueError(f"rate weights α must be finite numbers >= 0, got {values}")
        if any(b >= a for a, b in zip(values, values[1:], strict=False)):
            raise ValueError(
                f"variable-rate alphas must be strictly decreasing (rate index 0 is the lowest "
                f"rate, the largest α), got {values}: sort them, e.g. {sorted(values)[::-1]}"
            )
        self.alphas = tuple(values)

    @property
    def num_rates(self) -> int:
        return len(self.alphas)

    def alpha(self, index: int) -> float:
        """α of rate index ``index``."""
        if (
            isinstance(index, bool)
            or not isinstance(index, int)
            or not (0 <= index < self.num_rates)
        ):
            raise ValueError(f"rate index must be an integer in [0, {self.num_rates - 1}]")
        return self.alphas[index]

    def sample(self, generator: torch.Generator | None = None) -> int:
        """A rate index drawn uniformly (one per batch), from ``generator`` or torch's RNG, so
        that a seeded training draws the same sequence."""
        return int(torch.randint(self.num_rates, (1,), generator=generator).item())

    def __repr__(self) -> str:
        return f"VariableRate(alphas={list(self.alphas)})"


class GainUnits(nn.Module):
    """Learned gain and inverse-gain vectors, one per rate point (Cui et al., CVPR 2021).

    Stored as scaled log-gains (so every gain stays positive and the exponential interpolation
    of Cui et al. is linear): ``log_gain`` and ``log_inverse_gain``, both ``(num_rates, C)``,
    hold ``log m / param_scale`` (see :data:`GAIN_PARAM_SCALE`; :meth:`log_gains` gives the
    log-gains). Initialised log-spaced over ``gain_range`` (lowest rate first), with inverse
    gains their reciprocals, so that an untrained model already codes more bits at a higher
    rate position.

    Args:
        num_rates: rate points ``N`` (>= 2).
        channels: latent channels ``C``.
        gain_range: initial gains of the first and last rate point.
        param_scale: log-gain per unit of the stored parameters (:data:`GAIN_PARAM_SCALE`).
    """

    def __init__(
        self,
        num_rates: int,
        channels: int,
        gain_range: Sequence[float] = DEFAULT_GAIN_RANGE,
        param_scale: float = GAIN_PARAM_SCALE,
    ):
        super().__init__()
        if isinstance(num_rates, bool) or not isinstance(num_rates, int) or num_rates < 2:
            raise ValueError(f"gain units need num_rates >= 2, got {num_rates!r}")
        low, high = (float(g) for g in gain_range)
        if not (0 < low < high and math.isfinite(high)):
            raise ValueError(
                f"gain_range must be two increasing positive numbers, got {gain_range}"
            )
        if not (param_scale > 0 and math.isfinite(param_scale)):
            raise ValueError(f"param_scale must be a positive number, got {param_scale!r}")
        self.param_scale = float(param_scale)
        log = torch.linspace(math.log(low), math.log(high), num_rates) / self.param_scale
        self.log_gain = nn.Parameter(log[:, None].repeat(1, channels))
        self.log_inverse_gain = nn.Parameter(-log[:, None].repeat(1, channels))
        self.num_rates = num_rates
        self.channels = channels

    def log_gains(self) -> tuple[Tensor, Tensor]:
        """The log-gains and log-inverse-gains, ``(num_rates, C)`` each."""
        return self.log_gain * self.param_scale, self.log_inverse_gain * self.param_scale

    def check_rate(self, rate: float) -> float:
        """``rate`` as a float if it is a rate position of this model, else ``ValueError``."""
        if isinstance(rate, bool) or not isinstance(rate, (int, float)):
            raise ValueError(f"a rate position must be a number, got {rate!r}")
        q = float(rate)
        if not (math.isfinite(q) and 0 <= q <= self.num_rates - 1):
            raise ValueError(
                f"rate position {rate!r} is outside [0, {self.num_rates - 1}]: this model has "
                f"{self.num_rates} rate points (0 = lowest rate; fractions interpolate)"
            )
        return q

    @staticmethod
    def _interpolate(table: Tensor, q: float, scale: float) -> Tensor:
        low = min(int(math.floor(q)), table.shape[0] - 2)
        frac = q - low
        # exponential interpolation of the gains = linear interpolation of their logs
        return torch.exp((table[low] * (1.0 - frac) + table[low + 1] * frac) * scale)

    def vectors(self, rate: float, *, exact: bool = False) -> tuple[Tensor, Tensor]:
        """Gain and inverse gain at rate position ``rate``, each ``(1, C, 1, 1)``.

        ``exact=True``: computed in float64 on the CPU, without gradient, from the float32
        value of ``rate`` (what coding uses: the same on every machine). Otherwise in the
        parameters' dtype and device, differentiable (training and estimates).
        """
        q = self.check_rate(rate)
        if exact:
            q = canonical_rate(q)
            with torch.no_grad():
                table = self.log_gain.detach().cpu().double()
                gain = self._interpolate(table, q, self.param_scale)
                table = self.log_inverse_gain.detach().cpu().double()
                inverse = self._interpolate(table, q, self.param_scale)
        else:
            gain = self._interpolate(self.log_gain, q, self.param_scale)
            inverse = self._interpolate(self.log_inverse_gain, q, self.param_scale)
        return gain.view(1, -1, 1, 1), inverse.view(1, -1, 1, 1)

    def extra_repr(self) -> str:
        return (
            f"num_rates={self.num_rates}, channels={self.channels}, "
            f"param_scale={self.param_scale:g}"
        )


class SideGains(nn.Module):
    """Learned per-rate scaling of side information: how an enhancement layer knows the rate of
    the variable-rate base it is conditioned on.

    ``side(q) = ŷ_b' ⊙ s(q)`` with one vector ``s_r`` per base rate point, initialised to ones
    and interpolated like :class:`GainUnits` (exponentially, ``q`` the base's rate position;
    stored scaled by ``param_scale`` likewise).
    """

    def __init__(self, num_rates: int, channels: int, param_scale: float = GAIN_PARAM_SCALE):
        super().__init__()
        if isinstance(num_rates, bool) or not isinstance(num_rates, int) or num_rates < 2:
            raise ValueError(f"side gains need num_rates >= 2, got {num_rates!r}")
        self.log_gain = nn.Parameter(torch.zeros(num_rates, channels))
        self.param_scale = float(param_scale)
        self.num_rates = num_rates
        self.channels = channels

    def check_rate(self, rate: float) -> float:
        return GainUnits.check_rate(self, rate)  # same rule, same message

    def scale(self, rate: float, *, exact: bool = False) -> Tensor:
        """``s(rate)``, ``(1, C, 1, 1)`` (``exact``: float64 on the CPU, as for coding)."""
        q = self.check_rate(rate)
        if exact:
            with torch.no_grad():
                table = self.log_gain.detach().cpu().double()
                scale = GainUnits._interpolate(table, canonical_rate(q), self.param_scale)
                return scale.view(1, -1, 1, 1)
        return GainUnits._interpolate(self.log_gain, q, self.param_scale).view(1, -1, 1, 1)

    def extra_repr(self) -> str:
        return f"num_rates={self.num_rates}, channels={self.channels}"
