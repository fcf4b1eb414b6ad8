"""What the segmentor's data preprocessor does to the frames, for the codec spec and the targets.

A codec spec must say how ``ttc compress`` normalises a frame exactly as training did, and the
reconstruction targets undo that normalisation. Both read it here, from mmseg's
``SegDataPreProcessor``:

- ``channel_conversion`` (public attribute): ``bgr_to_rgb=True`` (frames loaded as BGR by
  mmcv reach the model as RGB);
- ``_enable_normalize`` (**private**): whether ``mean`` / ``std`` are applied. mmseg exposes no
  public flag for it (its ``mean`` / ``std`` buffers are registered only when it is set);
  ``tests/mmseg/test_mmseg_model.py::test_the_preprocessor_attributes_ttc_reads`` fails if
  mmseg renames it. It is read without a default, so a rename fails loudly here too, instead
  of silently taking the frames as unnormalised.
"""

from __future__ import annotations

from mmengine.model import BaseDataPreprocessor
from mmseg.models.data_preprocessor import SegDataPreProcessor

__all__ = ["IDENTITY_NORMALIZATION", "input_normalization"]

#: mean / std on 0–255 pixels of a preprocessor that does not normalise
IDENTITY_NORMALIZATION = ([0.0, 0.0, 0.0], [1.0, 1.0, 1.0])


def input_normalization(preprocessor) -> tuple[list[float], list[float], str]:
    """``(mean, std, channel_order)`` of the frames a preprocessor gives the model.

    ``mean`` / ``std`` are on 0–255 pixels; ``channel_order`` is ``"RGB"`` or ``"BGR"``.
    ``None`` or MMEngine's plain ``BaseDataPreprocessor`` (what a segmentor gets without a
    ``data_preprocessor``) pass the frames through: identity, and ``"RGB"`` as ttc has always
    recorded for them. Any other preprocessor is refused: ttc cannot tell what it does.
    """
    if preprocessor is None or type(preprocessor) is BaseDataPreprocessor:
        mean, std = IDENTITY_NORMALIZATION
        return list(mean), list(std), "RGB"
    if not isinstance(preprocessor, SegDataPreProcessor):
        raise TypeError(
            f"ttc segmentors need data_preprocessor=dict(type='SegDataPreProcessor', ...) to know "
            f"how the frames are normalised, got {type(preprocessor).__name__}"
        )
    # private, see the module docstring: no public flag says whether mean / std are applied
    if preprocessor._enable_normalize:
        mean = preprocessor.mean.flatten().tolist()
        std = preprocessor.std.flatten().tolist()
    else:
        mean, std = (list(v) for v in IDENTITY_NORMALIZATION)
    return mean, std, "RGB" if preprocessor.channel_conversion else "BGR"
