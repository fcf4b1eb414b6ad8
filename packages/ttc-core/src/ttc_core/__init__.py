"""ttc-core: task-compatible compressible representations, framework-free.

Reference: A. de Andrade, I. Bajić, "Towards Task-Compatible Compressible Representations",
ICME 2024 Workshop on Coding for Machines (arXiv:2405.10244).

Map of the package::

    layers, transforms      residual bottleneck blocks, f (analysis) and g (synthesis)
    quantization            straight-through rounding
    entropy/                ContextEntropyModel p(ŷ_b), ConditionalEntropyModel p(ŷ_e | ŷ_b),
                            exact serial + wavefront rANS coding
    latent_codec            LatentCodec: the compress / decompress lifecycle of both layers
    bottleneck, enhancement BaseBottleneck (f_b, g_b, g_a), EnhancementBottleneck (f_e, g_e)
    variable_rate           gain units: one variable-rate model per RD curve (Cui et al. 2021)
    scalable, frozen        the two-layer forward and its real bits; a frozen base from a file
    losses                  RateLoss, ReconstructionLoss (proposed / baseline)
    bitstream, codec        the .ttc container and the scalable codec built from checkpoints
    checkpoint              the framework-free "ttc_codec" spec adapters store in checkpoints
    rd/                     RD JSON, BD-rate, plots
    datasets/               synthetic scenes in COCO / Cityscapes layouts
    cli/                    the `ttc` command

The main classes are importable from here; submodules load on first use, so
``import ttc_core`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "LatentCodec": "ttc_core.latent_codec",
    "BaseBottleneck": "ttc_core.bottleneck",
    "BottleneckOutput": "ttc_core.bottleneck",
    "EnhancementBottleneck": "ttc_core.enhancement",
    "EnhancementOutput": "ttc_core.enhancement",
    "ContextEntropyModel": "ttc_core.entropy",
    "ConditionalEntropyModel": "ttc_core.entropy",
    "AnalysisTransform": "ttc_core.transforms",
    "SynthesisTransform": "ttc_core.transforms",
    "ReconstructionLoss": "ttc_core.losses",
    "RateLoss": "ttc_core.losses",
    "ScalableCodec": "ttc_core.codec",
    "ScalableOutput": "ttc_core.scalable",
    "scalable_forward": "ttc_core.scalable",
    "BitstreamError": "ttc_core.bitstream",
    "GainUnits": "ttc_core.variable_rate",
    "VariableRate": "ttc_core.variable_rate",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ttc_core' has no attribute {name!r}")
