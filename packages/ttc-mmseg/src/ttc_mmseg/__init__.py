"""ttc-mmseg: the ttc base layer for Cityscapes depth and the scalable enhancement layer on
top of it (semantic segmentation, reconstruction), trained by MMSegmentation itself.

Importing this package registers, in MMSegmentation's registries (scope ``mmseg``):

- models: ``TTCBackbone`` (learned downsample + ``BaseBottleneck`` + any mmseg backbone),
  ``DepthLRASPPHead``, ``DisparityRMSELoss``, ``TTCDepthEstimator``; for the enhancement
  layer ``TTCEnhancementSegmentor``, ``TTCReconstructionEnhancer``, ``UpsampledASPPHead``,
  ``UpsampledFCNHead``;
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

from ttc_core.checkpoint import register_safe_globals

# registration happens on import of these modules
from . import (  # noqa: F401
    backbone,
    datasets,
    enhancement,
    heads,
    hooks,
    losses,
    metrics,
    segmentors,
)
from .backbone import CodecTerms, TTCBackbone
from .datasets import (
    CityscapesDisparityDataset,
    ColorJitter,
    LoadCityscapesDisparity,
    decode_disparity,
)
from .enhancement import (
    EnhancementCodecMixin,
    FrozenBase,
    TTCEnhancementSegmentor,
    TTCReconstructionEnhancer,
)
from .heads import DepthLRASPPHead, UpsampledASPPHead, UpsampledFCNHead
from .hooks import TTCCheckpointHook
from .losses import DisparityRMSELoss
from .metrics import DisparityRMSEMetric, RateMetric
from .segmentors import CodecSegmentorMixin, TTCDepthEstimator

# numpy data types (only) in torch.load(weights_only=True): resume and load_from under torch >= 2.6
register_safe_globals()

__version__ = "0.1.0"

__all__ = [
    "CityscapesDisparityDataset",
    "CodecSegmentorMixin",
    "CodecTerms",
    "ColorJitter",
    "DepthLRASPPHead",
    "DisparityRMSELoss",
    "EnhancementCodecMixin",
    "FrozenBase",
    "DisparityRMSEMetric",
    "LoadCityscapesDisparity",
    "RateMetric",
    "TTCBackbone",
    "TTCCheckpointHook",
    "TTCDepthEstimator",
    "TTCEnhancementSegmentor",
    "TTCReconstructionEnhancer",
    "UpsampledASPPHead",
    "UpsampledFCNHead",
    "decode_disparity",
]
