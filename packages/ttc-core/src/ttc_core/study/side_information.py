r"""How much the enhancement layer's entropy model uses the base: the paper's V-information
argument, measured directly.

de Andrade & Bajić argue that a base latent trained only for its task carries information an
enhancement decoder cannot *use* (predictive V-information), and that the reconstruction
reward makes it usable. The trained conditional entropy model p(ŷ_e | ŷ_b) answers that
directly: code the same ŷ_e with

- the true ŷ_b of the image (what the codec does),
- zeros (no side information, as the Standalone reference sees it), and
- the ŷ_b of *another* image of the same size (side information of the right statistics,
  but no information about this image)::

    saving(zeros) = 1 − bits(ŷ_e | ŷ_b) / bits(ŷ_e | 0)
    saving(other) = 1 − bits(ŷ_e | ŷ_b) / bits(ŷ_e | ŷ_b of another image)

The second isolates what the base tells about *this* image; the first also counts what the
model learned to expect from any base latent. Bits are the likelihood estimates of the
entropy model (the real coder spends the same within a fraction of a percent, see
``ttc rd collect`` outputs); the ratio is what matters.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from ..losses import bits_per_image

__all__ = ["side_information_bits"]


@torch.no_grad()
def side_information_bits(checkpoint: str | Path, images: Sequence[str | Path]) -> dict:
    """Mean enhancement bits per image given the true, zero and another image's ŷ_b.

    Args:
        checkpoint: a scalable checkpoint (base + enhancement, any ttc trainer's).
        images: at least two images of one size (the "other" ŷ_b is the next image's, in a
            cycle). Each is resized as the checkpoint records (Detectron2's test resize).

    Returns:
        ``{"images", "bits_true", "bits_zeros", "bits_other", "saving_zeros",
        "saving_other"}`` (savings as fractions; positive = the true ŷ_b saves bits).
    """
    from ..cli.codec import _read_image, _resize_shortest_edge
    from ..codec import ScalableCodec

    if len(images) < 2:
        raise ValueError("give at least two images (the 'other' ŷ_b comes from another image)")
    codec = ScalableCodec.from_checkpoint(checkpoint)
    if codec.enhancement is None:
        raise ValueError(f"{checkpoint} holds no enhancement layer")
    y_b, y_e = [], []
    for path in images:
        x = _read_image(str(path))
        if codec.resize_shortest_edge is not None:
            x = _resize_shortest_edge(x, *codec.resize_shortest_edge)
        y_b.append(codec.base.encode(codec.base_input(x)))
        y_e.append(codec.enhancement.encode(codec.enhancement_input(x)))
    shapes = {tuple(y.shape) for y in y_b}
    if len(shapes) != 1:
        raise ValueError(f"images must share one size (latent shapes {sorted(shapes)})")
    model = codec.enhancement.entropy_model
    if model.standalone:
        raise ValueError(
            f"{checkpoint} is a Standalone model: it ignores ŷ_b; measure a conditional one"
        )

    def bits(side: list[torch.Tensor | None]) -> float:
        total = 0.0
        for e, s in zip(y_e, side, strict=True):
            total += float(bits_per_image(model(e, s).likelihoods).sum())
        return total / len(y_e)

    true = bits(list(y_b))
    zeros = bits([None] * len(y_b))
    other = bits(y_b[1:] + y_b[:1])
    return {
        "images": len(y_e),
        "bits_true": true,
        "bits_zeros": zeros,
        "bits_other": other,
        "saving_zeros": 1.0 - true / zeros,
        "saving_other": 1.0 - true / other,
    }
