"""ttc-detectron2: the compressible base layer as a Detectron2 backbone, for COCO detection.

**Importing this package registers its components with Detectron2** (the modules below are
imported here for that side effect, as Detectron2's own projects do):

- ``BACKBONE_REGISTRY``:  ``build_ttc_backbone`` (:mod:`ttc_detectron2.backbone`) and
  ``build_timm_fpn_backbone`` (a timm model + FPN as ``MODEL.TTC.INNER``,
  :mod:`ttc_detectron2.timm_backbone`)
- ``META_ARCH_REGISTRY``: ``TTCGeneralizedRCNN`` (:mod:`ttc_detectron2.meta_arch`) and
  ``TTCReconstructionEnhancement`` (the COCO reconstruction enhancement layer,
  :mod:`ttc_detectron2.enhancement`)

Then call :func:`add_ttc_config` on the config before merging a ttc YAML file. Forgetting
either gives Detectron2's "No object named ... found in registry" / "Non-existent config key"
errors; :func:`helpful_errors` turns them into messages that say what to do.

Shipped configs (package data, ``ttc_detectron2/configs/``) are found by name with
:mod:`ttc_detectron2.model_zoo` (``get_config_file``, ``get_config``, ``list_configs``); the
launcher is ``python -m ttc_detectron2.train_net`` (console script ``ttc-d2-train``).

Reference: A. de Andrade, I. Bajić, "Towards Task-Compatible Compressible Representations",
ICME 2024 Workshop on Coding for Machines (arXiv:2405.10244).
"""

try:
    import detectron2  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "ttc_detectron2 needs Detectron2, which is not on PyPI under its own name: run "
        "`make install` (installs the sal-detectron2 wheel), or install Detectron2 from "
        "https://github.com/facebookresearch/detectron2"
    ) from exc

from . import checkpoint  # noqa: F401  (allows numpy metadata in weights_only loads)
from .backbone import CodecTerms, TTCBackbone, build_ttc_backbone  # registers the backbone
from .checkpoint import TTCCheckpointer
from .config import add_ttc_config, has_ttc_config, validate_ttc_config
from .enhancement import TTCReconstructionEnhancement  # registers the enhancement layer
from .errors import TTCConfigError, explain, helpful_errors
from .evaluation import TTCEnhancementEvaluator, TTCRateEvaluator
from .meta_arch import TTCGeneralizedRCNN  # registers the meta-architecture
from .timm_backbone import TimmFeatures, build_timm_fpn_backbone  # registers the timm backbone

__version__ = "0.1.0"

__all__ = [
    "CodecTerms",
    "TTCBackbone",
    "TTCCheckpointer",
    "TTCConfigError",
    "TTCEnhancementEvaluator",
    "TTCGeneralizedRCNN",
    "TTCRateEvaluator",
    "TTCReconstructionEnhancement",
    "TimmFeatures",
    "add_ttc_config",
    "build_timm_fpn_backbone",
    "build_ttc_backbone",
    "explain",
    "has_ttc_config",
    "helpful_errors",
    "validate_ttc_config",
]
