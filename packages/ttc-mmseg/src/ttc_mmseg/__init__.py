"""ttc-mmseg: the ttc base layer for Cityscapes depth, trained by MMSegmentation itself.

Importing this package registers, in MMSegmentation's registries (scope ``mmseg``):

- models: ``TTCBackbone`` (learned downsample + ``BaseBottleneck`` + any mmseg backbone),
  ``DepthLRASPPHead``, ``DisparityRMSELoss``, ``TTCDepthEstimator``;
- datasets / transforms: ``CityscapesDisparityDataset``, ``LoadCityscapesDisparity``,
  ``ColorJitter``;
- metrics: ``DisparityRMSEMetric``, ``RateMetric``;
- hooks: ``TTCCheckpointHook`` (writes the ``"ttc_codec"`` spec into checkpoints and keeps
  them loadable with ``weights_only=True``).

Configs pull it in with ``custom_imports = dict(imports=['ttc_mmseg'])``. The import also
allows, in ``torch.load(weights_only=True)``, numpy's data-only reconstruction helpers that
MMEngine checkpoints need; with ``TTCCheckpointHook`` (which stores the message hub's
``HistoryBuffer`` objects as plain data) ``resume=True`` and ``load_from`` work under
torch >= 2.6 for the project's checkpoints without turning the safety off.
"""

from __future__ import annotations

# registration happens on import of these modules
from . import backbone, datasets, heads, hooks, losses, metrics, segmentors  # noqa: F401
from .backbone import CodecTerms, TTCBackbone
from .datasets import (
    CityscapesDisparityDataset,
    ColorJitter,
    LoadCityscapesDisparity,
    decode_disparity,
)
from .heads import DepthLRASPPHead
from .hooks import TTCCheckpointHook, allow_checkpoint_types
from .losses import DisparityRMSELoss
from .metrics import DisparityRMSEMetric, RateMetric
from .segmentors import CodecSegmentorMixin, TTCDepthEstimator

allow_checkpoint_types()

__version__ = "0.1.0"

__all__ = [
    "CityscapesDisparityDataset",
    "CodecSegmentorMixin",
    "CodecTerms",
    "ColorJitter",
    "DepthLRASPPHead",
    "DisparityRMSELoss",
    "DisparityRMSEMetric",
    "LoadCityscapesDisparity",
    "RateMetric",
    "TTCBackbone",
    "TTCCheckpointHook",
    "TTCDepthEstimator",
    "allow_checkpoint_types",
    "decode_disparity",
]
