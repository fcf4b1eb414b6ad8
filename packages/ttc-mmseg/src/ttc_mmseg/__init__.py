"""ttc-mmseg: the ttc base layer for Cityscapes depth and the scalable enhancement layer on
top of it (semantic segmentation, reconstruction), trained by MMSegmentation itself.

Importing this package registers, in MMSegmentation's registries (scope ``mmseg``):

- models: ``TTCBackbone`` (learned downsample + ``BaseBottleneck`` + any mmseg backbone),
  ``DepthLRASPPHead``, ``DisparityRMSELoss``, ``TTCDepthEstimator``; for the enhancement
  layer ``TTCEnhancementSegmentor``, ``TTCReconstructionEnhancement``, ``UpsampledASPPHead``,
  ``UpsampledFCNHead``;
- datasets / transforms: ``CityscapesDisparityDataset``, ``TTCSelectionSplit`` (the fit /
  selection parts of a training split), ``LoadCityscapesDisparity``, ``TTCColorJitter``;
- metrics: ``DisparityRMSEMetric``, ``RateMetric``;
- hooks: ``TTCCheckpointHook`` (writes the ``"ttc_codec"`` spec and the training settings into
  checkpoints, keeps them loadable with ``weights_only=True``, refuses Standalone / Continued
  runs without a trained conditional model and Baselines whose probe shares the clip);
- optimiser wrappers: ``TTCOptimWrapperConstructor``, ``TTCOptimWrapper``,
  ``TTCAmpOptimWrapper`` (the Baseline's probe ``g_a`` clipped apart from everything else).

``ttc_mmseg.selection.report`` (run by ``tools/train.py`` after training) evaluates the
checkpoint chosen on the selection split once on the reported split, with real bits, and writes
``ttc_report.json``.

The shipped configs are package data (``ttc_mmseg/configs/``), found by name with
:func:`config_path` / :func:`get_config` / :func:`list_configs` (:mod:`ttc_mmseg.model_zoo`);
the launchers are ``python -m ttc_mmseg.train`` and ``python -m ttc_mmseg.test`` (console
scripts ``ttc-mmseg-train``, ``ttc-mmseg-test``).

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
    optim,
    segmentors,
    selection,
)
from .backbone import CodecTerms, TTCBackbone
from .datasets import (
    CityscapesDisparityDataset,
    LoadCityscapesDisparity,
    TTCColorJitter,
    decode_disparity,
)
from .enhancement import (
    EnhancementCodecMixin,
    FrozenBase,
    TTCEnhancementSegmentor,
    TTCReconstructionEnhancement,
)
from .heads import DepthLRASPPHead, UpsampledASPPHead, UpsampledFCNHead
from .hooks import TTCCheckpointHook
from .losses import DisparityRMSELoss
from .metrics import DisparityRMSEMetric, RateMetric
from .optim import TTCAmpOptimWrapper, TTCOptimWrapper, TTCOptimWrapperConstructor
from .segmentors import CodecSegmentorMixin, TTCDepthEstimator
from .selection import TTCSelectionSplit

# numpy data types (only) in torch.load(weights_only=True): resume and load_from under torch >= 2.6
register_safe_globals()

__version__ = "0.1.0"

#: the config look-ups of :mod:`ttc_mmseg.model_zoo`, imported on first use (so that
#: ``python -m ttc_mmseg.model_zoo`` does not find its module imported already)
_MODEL_ZOO = ("config_path", "get_config", "list_configs")


def __getattr__(name: str):
    if name in _MODEL_ZOO:
        from . import model_zoo

        return getattr(model_zoo, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CityscapesDisparityDataset",
    "CodecSegmentorMixin",
    "CodecTerms",
    "TTCColorJitter",
    "DepthLRASPPHead",
    "DisparityRMSELoss",
    "EnhancementCodecMixin",
    "FrozenBase",
    "DisparityRMSEMetric",
    "LoadCityscapesDisparity",
    "RateMetric",
    "TTCAmpOptimWrapper",
    "TTCBackbone",
    "TTCCheckpointHook",
    "TTCDepthEstimator",
    "TTCEnhancementSegmentor",
    "TTCOptimWrapper",
    "TTCOptimWrapperConstructor",
    "TTCReconstructionEnhancement",
    "TTCSelectionSplit",
    "UpsampledASPPHead",
    "UpsampledFCNHead",
    "config_path",
    "decode_disparity",
    "get_config",
    "list_configs",
]
