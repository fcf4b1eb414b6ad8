"""The rate vocabulary, written once for every adapter (METHOD §5, §8).

- ``bpp`` / ``bits``: real bitstreams (8 × bytes of the rANS strings) / coded pixels; present
  only where real bits were coded.
- ``bpp_estimated`` / ``bits_estimated``: the likelihood estimate ``−Σ log2 p``.
- per layer of a scalable codec: ``bpp_base``, ``bpp_enhancement`` (and ``bits_*``), each with
  its ``_estimated``; the total is base + enhancement (METHOD §2).

:func:`scalable_rates` builds the per-image record of both layers in that vocabulary, so the
Detectron2 and MMSegmentation adapters report the same keys.
"""

from __future__ import annotations

__all__ = ["ESTIMATED", "scalable_rates"]

#: suffix of every likelihood-estimated rate key
ESTIMATED = "_estimated"


def scalable_rates(
    bits_base: float, bits_enhancement: float, pixels: int, *, estimated: bool
) -> dict[str, float]:
    """Bits and bpp of both layers and their total for one image.

    Args:
        bits_base / bits_enhancement: the layers' bits (real or estimated).
        pixels: the bpp denominator (the coded image's H·W, METHOD §5).
        estimated: the bits are likelihood estimates (keys end in ``_estimated``).
    """
    if pixels <= 0:
        raise ValueError(f"pixels must be positive, got {pixels}")
    suffix = ESTIMATED if estimated else ""
    total = bits_base + bits_enhancement
    return {
        f"bits_base{suffix}": float(bits_base),
        f"bits_enhancement{suffix}": float(bits_enhancement),
        f"bits{suffix}": float(total),
        f"bpp_base{suffix}": bits_base / pixels,
        f"bpp_enhancement{suffix}": bits_enhancement / pixels,
        f"bpp{suffix}": total / pixels,
    }
