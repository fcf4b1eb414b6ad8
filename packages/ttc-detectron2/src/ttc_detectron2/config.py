"""The ``MODEL.TTC`` and ``DATASETS.SELECTION`` config nodes (and two solver keys) of ttc.

Call :func:`add_ttc_config` on a fresh ``get_cfg()`` *before* merging a ttc YAML file, as
Detectron2's projects do (``add_pointrend_config``, ``add_deeplab_config``)::

    from detectron2.config import get_cfg
    import ttc_detectron2

    cfg = get_cfg()
    ttc_detectron2.add_ttc_config(cfg)
    cfg.merge_from_file("configs/detectron2/ttc_proposed_R_50_FPN_1x_coco.yaml")

:func:`validate_ttc_config` checks the values and raises :class:`TTCConfigError` with the key
name and what is allowed; the backbone and the meta-architecture call it when they are built.

Reference: A. de Andrade, I. Bajić, "Towards Task-Compatible Compressible Representations",
ICME 2024 Workshop on Coding for Machines (arXiv:2405.10244).
"""

from __future__ import annotations

import math
from typing import Any

from detectron2.config import CfgNode as CN

from ttc_core.transforms import DOWNSAMPLINGS

from .errors import TTCConfigError
from .timm_backbone import add_timm_config

#: SOLVER.AMP.PRECISION values (torch dtype names)
AMP_PRECISIONS = ("float16", "bfloat16")

__all__ = [
    "MODES",
    "OPTIMIZERS",
    "CLIP_TYPES",
    "add_ttc_config",
    "bottleneck_kwargs",
    "enhancement_kwargs",
    "has_ttc_config",
    "rate_position",
    "validate_ttc_config",
]

MODES = ("proposed", "baseline")
OPTIMIZERS = ("SGD", "ADAM")
#: "value" / "norm" clip each parameter separately (Detectron2's own types); "full_model" clips
#: the global norm of all gradients together (what the reference's Lightning loop did).
CLIP_TYPES = ("value", "norm", "full_model")
CODING_ORDERS = ("wavefront", "raster")
ACTIVATIONS = ("elu", "relu", "gelu", "leaky_relu")


def add_ttc_config(cfg: CN) -> CN:
    """Add the ttc keys, with their defaults, to ``cfg`` (in place; also returned).

    Adds ``MODEL.TTC``, ``DATASETS.SELECTION``, ``SOLVER.OPTIMIZER`` / ``SOLVER.ADAM_BETAS``
    and ``MODEL.TIMM`` (:func:`ttc_detectron2.timm_backbone.add_timm_config`).
    Idempotent.
    """
    cfg.MODEL.TTC = CN()
    t = cfg.MODEL.TTC
    # -- the base-layer codec (ttc_core.bottleneck.BaseBottleneck), METHOD §3 ------------------
    # Channels M of the quantised latent ŷ_b (the reference uses 192).
    t.LATENT_CHANNELS = 192
    # Widths after the first three 5×5 stride-2 convolutions of the analysis transform f.
    t.ANALYSIS_CHANNELS = [24, 48, 192]
    # Residual bottleneck blocks after each of those three convolutions.
    t.ANALYSIS_BLOCKS = 3
    # Widths of both synthesis transforms (g_b → pseudo-image, g_a → reconstruction).
    t.SYNTHESIS_CHANNELS = [192, 48, 24]
    # Residual blocks per stage of g_b, the pseudo-image decoder feeding the detector (n = 1).
    t.TASK_BLOCKS = 1
    # Residual blocks per stage of g_a, the direct-reconstruction decoder (n = 3).
    t.RECON_BLOCKS = 3
    # Activation of the residual blocks: "elu" (the paper's), "relu", "gelu", "leaky_relu".
    t.ACTIVATION = "elu"
    # Total downsampling of f (and upsampling of g_b, g_a): 16 is the paper's; 8, 4 or 2 keep
    # more latent positions for small inputs (a 128-pixel image has an 8-row latent at 16).
    # An enhancement layer on this base takes the base's value (their latents must align).
    t.DOWNSAMPLING = 16
    # -- the loss: detection losses + ALPHA·bpp + weight·rec (METHOD §2) -------------------------
    # Rate weight α: loss_rate = ALPHA · mean estimated bpp of the batch. One model per value.
    t.ALPHA = 1.0
    # Reconstruction reward β (rec = 255·RMSE of g_a(ŷ_b) on [0,1] pixels); "proposed" mode.
    # The reference release uses 0.1, the slides 0.01. Must be 0 with MODE "baseline" (the β
    # in force is the β shown: a Baseline with another value is refused).
    t.BETA = 0.1
    # "proposed": β·rec trains the encoder too. "baseline": β = 0, the encoder gets no
    # reconstruction gradient; g_a is trained as a probe on a detached ŷ_b (weight
    # PROBE_WEIGHT) that nothing else in training depends on (its gradients are clipped apart).
    t.MODE = "proposed"
    # Weight of the probe's loss in "baseline" mode (only scales the probe's own learning).
    t.PROBE_WEIGHT = 1.0
    # -- variable rate: one model for the whole RD curve (gain units, Cui et al., CVPR 2021;
    #    ttc_core.variable_rate). Off by default: one model per ALPHA, the paper's training.
    t.VARIABLE_RATE = CN()
    # Rate weights α of the rate points, strictly decreasing (rate index 0 = the lowest rate),
    # e.g. [4.0, 2.0, 1.0, 0.5]. Non-empty: the bottleneck gets one gain vector per α, every
    # training batch draws a rate index i and its loss_rate is ALPHAS[i]·bpp (ALPHA is unused).
    # [] = off.
    t.VARIABLE_RATE.ALPHAS = []
    # Rate position evaluation codes at (in [0, len(ALPHAS) − 1]; fractions interpolate the
    # neighbouring gains); -1 = the highest. `ttc rd sweep --variable-rate` sets it per point.
    t.VARIABLE_RATE.TEST_RATE = -1.0
    # Initial gains of the lowest and highest rate point (log-spaced in between; learned).
    t.VARIABLE_RATE.GAIN_RANGE = [0.7, 1.4]
    # -- the detector side ------------------------------------------------------------------------
    # Name (in BACKBONE_REGISTRY) of the stock backbone that runs on the pseudo-image.
    t.INNER = "build_resnet_fpn_backbone"
    # True: the pseudo-image is an RGB image in [0,1] that is normalised like the detector's
    # input ((p·255 − PIXEL_MEAN)/PIXEL_STD, channels in INPUT.FORMAT order), as the reference
    # fed torchvision's detector; this keeps pretrained detector weights in their input range.
    # False: the pseudo-image is fed to the inner backbone as it is.
    t.NORMALIZE_PSEUDO_IMAGE = True
    # -- evaluation -------------------------------------------------------------------------------
    # Decode g_a(ŷ_b) at inference and report its PSNR (direct reconstruction).
    t.TEST_RECONSTRUCTION = True
    # Also entropy-code every test image with the real rANS coder and report actual bits
    # (8·bytes of the stream). Slower than the estimate (the context model decodes serially).
    t.TEST_ACTUAL_BITS = False
    # Order of the real coder: "wavefront" (parallel anti-diagonals) or "raster".
    t.CODING_ORDER = "wavefront"

    # -- the enhancement layer (meta-architecture TTCReconstructionEnhancement), METHOD §2–3 ----
    # COCO reconstruction coded with p(ŷ_e | ŷ_b) given a frozen, trained detection base; the
    # evaluation keys TEST_RECONSTRUCTION (PSNR of the base's g_a too), TEST_ACTUAL_BITS and
    # CODING_ORDER above apply to it as well. Unused by TTCGeneralizedRCNN.
    t.ENHANCEMENT = CN()
    e = t.ENHANCEMENT
    # Checkpoint of the trained detection base (tools/train_net.py's model_final.pth, or any
    # checkpoint carrying a ttc codec spec). The base's architecture comes from its codec spec
    # and its weights are loaded when the model is built, then frozen. "" = use MODEL.WEIGHTS
    # (e.g. --eval-only of an enhancement checkpoint, which holds its base too).
    e.BASE_WEIGHTS = ""
    # Channels M_e of the enhancement latent ŷ_e (the reference uses 192).
    e.LATENT_CHANNELS = 192
    # Widths after the first three 5×5 stride-2 convolutions of f_e.
    e.ANALYSIS_CHANNELS = [24, 48, 192]
    # Residual bottleneck blocks after each of those three convolutions.
    e.ANALYSIS_BLOCKS = 3
    # Widths of the reconstruction decoder g_e.
    e.SYNTHESIS_CHANNELS = [192, 48, 24]
    # Residual blocks per stage of g_e (n = 3 for reconstruction decoders).
    e.SYNTHESIS_BLOCKS = 3
    # Activation of the residual blocks: "elu" (the paper's), "relu", "gelu", "leaky_relu".
    e.ACTIVATION = "elu"
    # Rate weight α: loss = 255·RMSE(g_e(ŷ_e), x) + ALPHA · bpp(ŷ_e | ŷ_b). One model per value;
    # the paper does not record its values (its COCO curve spends ~0.04–0.4 bpp on ŷ_e).
    e.ALPHA = 16.0
    # Standalone reference: zeros replace ŷ_b and only the enhancement's entropy model is
    # trained. Starts from a trained conditional model (MODEL.WEIGHTS, or --resume); refused
    # otherwise. METHOD §2.
    e.STANDALONE = False
    # Continued conditional control, the equal-budget control of Standalone: the true ŷ_b, only
    # the entropy model trained, for as many steps as Standalone, from the same trained
    # conditional model (refused otherwise). Excludes STANDALONE. METHOD §8.
    e.CONTINUED = False
    # Variable-rate enhancement (as MODEL.TTC.VARIABLE_RATE): its own rate weights α of
    # bpp_e, strictly decreasing; [] = one model per ENHANCEMENT.ALPHA. The loss of a batch
    # uses the α of the rate index it drew.
    e.VARIABLE_RATE = CN()
    # Its rate weights α (strictly decreasing); [] = off.
    e.VARIABLE_RATE.ALPHAS = []
    # Rate position of the enhancement in evaluation; -1 = the highest.
    e.VARIABLE_RATE.TEST_RATE = -1.0
    # Initial gains of its lowest and highest rate point.
    e.VARIABLE_RATE.GAIN_RANGE = [0.7, 1.4]
    # On a variable-rate base (one trained with MODEL.TTC.VARIABLE_RATE.ALPHAS): the base's
    # rate position the enhancement is conditioned on, in training and evaluation (-1 = the
    # highest). The enhancement is told it (it learns one side-information scale per base
    # rate point). Unused with a per-α base.
    e.BASE_RATE = -1.0
    # On a variable-rate base: draw the base's rate index per training batch instead of
    # BASE_RATE, so that one enhancement serves every base rate (evaluation uses BASE_RATE).
    e.SAMPLE_BASE_RATES = False

    # -- solver: the reference trains with Adam, lr 1e-4, global gradient-norm clip 1.0 ---------
    # "SGD" (Detectron2's default optimizer) or "ADAM".
    cfg.SOLVER.OPTIMIZER = "SGD"
    # Adam's (β1, β2).
    cfg.SOLVER.ADAM_BETAS = (0.9, 0.999)
    # Mixed precision (SOLVER.AMP.ENABLED, Detectron2's own switch): the autocast dtype,
    # "float16" (Detectron2's AMPTrainer default; gradients scaled) or "bfloat16" (no scaling;
    # also on CPUs). The codec's rate stays float32 either way (ttc_core.entropy).
    cfg.SOLVER.AMP.PRECISION = "float16"

    # -- model selection apart from the reported split (METHOD §8, ttc_core.selection) -----------
    # TTCTrainer trains on DATASETS.TRAIN minus a selection split ("<name>:fit"), evaluates the
    # selection split ("<name>:selection") every TEST.EVAL_PERIOD iterations (logged as
    # "selection/<metric>"), keeps the best checkpoint on it (model_best.pth), and at the end
    # evaluates that checkpoint once on DATASETS.TEST with real bits (OUTPUT_DIR/ttc_report.json).
    cfg.DATASETS.SELECTION = CN()
    s = cfg.DATASETS.SELECTION
    # False: train on all of DATASETS.TRAIN, no periodic evaluation; the final model is
    # reported on DATASETS.TEST (never select on the reported split).
    s.ENABLED = True
    # Size of the selection split: a fraction of the training split in (0, 1), or a number of
    # images >= 1 (a float in YAML / on the command line, e.g. 5000.0: yacs keeps the type).
    s.SIZE = 0.1
    # Seed of the split (a seeded hash of each image's file name ranks the images).
    s.SEED = 0
    # File names of the selection images instead (SIZE and SEED then unused), e.g.
    # ["000000000139.jpg", ...]; every name must be in the training split.
    s.FILES = []
    # Metric of the periodic selection evaluations for the best checkpoint, as Detectron2
    # flattens results (logged with the prefix "selection/"): "bbox/AP" for a detector,
    # "ttc/psnr_scalable" for the enhancement layer.
    s.METRIC = "bbox/AP"
    # "max" (AP, PSNR) or "min" (e.g. a rate) of METRIC is best.
    s.MODE = "max"

    # -- timm task networks (MODEL.TTC.INNER: build_timm_fpn_backbone) -------------------------
    add_timm_config(cfg)
    return cfg


def has_ttc_config(cfg: Any) -> bool:
    """Whether :func:`add_ttc_config` was called on ``cfg``."""
    try:
        return isinstance(cfg.MODEL.TTC, CN) and "LATENT_CHANNELS" in cfg.MODEL.TTC
    except (AttributeError, KeyError):
        return False


def _fail(key: str, value: Any, allowed: str) -> None:
    raise TTCConfigError(f"{key} = {value!r} is invalid: {allowed}")


def _check_number(key: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        _fail(key, value, "expected a number")
    if not (math.isfinite(value) and value >= 0):
        _fail(key, value, "expected a finite number >= 0")


def _check_int(key: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        _fail(key, value, f"expected an integer >= {minimum}")


def validate_ttc_config(cfg: CN) -> None:
    """Check the ttc keys of ``cfg``; raise :class:`TTCConfigError` naming the bad key."""
    if not has_ttc_config(cfg):
        raise TTCConfigError(
            "this config has no MODEL.TTC node: call `ttc_detectron2.add_ttc_config(cfg)` on the "
            "config before merging a ttc config file (see ttc_detectron2's README)"
        )
    t = cfg.MODEL.TTC
    _check_int("MODEL.TTC.LATENT_CHANNELS", t.LATENT_CHANNELS, 1)
    for key in ("ANALYSIS_CHANNELS", "SYNTHESIS_CHANNELS"):
        value = list(t[key])
        if len(value) != 3 or any(
            isinstance(c, bool) or not isinstance(c, int) or c < 1 for c in value
        ):
            _fail(f"MODEL.TTC.{key}", value, "expected three positive integer widths")
    for key in ("ANALYSIS_BLOCKS", "TASK_BLOCKS", "RECON_BLOCKS"):
        _check_int(f"MODEL.TTC.{key}", t[key], 0)
    if isinstance(t.DOWNSAMPLING, bool) or t.DOWNSAMPLING not in DOWNSAMPLINGS:
        _fail("MODEL.TTC.DOWNSAMPLING", t.DOWNSAMPLING, f"choose one of {DOWNSAMPLINGS}")
    if t.ACTIVATION not in ACTIVATIONS:
        _fail("MODEL.TTC.ACTIVATION", t.ACTIVATION, f"choose one of {ACTIVATIONS}")
    for key in ("ALPHA", "BETA", "PROBE_WEIGHT"):
        _check_number(f"MODEL.TTC.{key}", t[key])
    if t.MODE not in MODES:
        _fail("MODEL.TTC.MODE", t.MODE, f"choose one of {MODES}")
    if t.MODE == "baseline" and t.BETA != 0:
        raise TTCConfigError(
            f"MODEL.TTC.MODE = 'baseline' with MODEL.TTC.BETA = {t.BETA!r}: the Baseline trains "
            "its encoder with β = 0, so a config that shows another β misleads. Set "
            "MODEL.TTC.BETA 0.0 (the probe g_a's own weight is MODEL.TTC.PROBE_WEIGHT), or use "
            "MODEL.TTC.MODE 'proposed'"
        )
    if t.CODING_ORDER not in CODING_ORDERS:
        _fail("MODEL.TTC.CODING_ORDER", t.CODING_ORDER, f"choose one of {CODING_ORDERS}")
    for key in ("NORMALIZE_PSEUDO_IMAGE", "TEST_RECONSTRUCTION", "TEST_ACTUAL_BITS"):
        if not isinstance(t[key], bool):
            _fail(f"MODEL.TTC.{key}", t[key], "expected True or False")
    _validate_variable_rate("MODEL.TTC.VARIABLE_RATE", t.VARIABLE_RATE)

    from detectron2.modeling import BACKBONE_REGISTRY

    if t.INNER not in BACKBONE_REGISTRY:
        _fail(
            "MODEL.TTC.INNER",
            t.INNER,
            "expected the name of a backbone in BACKBONE_REGISTRY "
            "(e.g. 'build_resnet_fpn_backbone')",
        )
    if t.INNER.startswith("build_ttc_"):
        _fail("MODEL.TTC.INNER", t.INNER, "the inner backbone cannot be a ttc backbone itself")

    _validate_enhancement(t.ENHANCEMENT)
    _validate_selection(cfg)

    if cfg.INPUT.FORMAT not in ("BGR", "RGB"):
        _fail("INPUT.FORMAT", cfg.INPUT.FORMAT, "the ttc codec codes colour images: 'BGR' or 'RGB'")
    for key in ("PIXEL_MEAN", "PIXEL_STD"):
        if len(cfg.MODEL[key]) != 3:
            _fail(f"MODEL.{key}", cfg.MODEL[key], "expected three values (one per colour)")
    if any(s <= 0 for s in cfg.MODEL.PIXEL_STD):
        _fail("MODEL.PIXEL_STD", cfg.MODEL.PIXEL_STD, "expected positive values")

    if cfg.SOLVER.OPTIMIZER.upper() not in OPTIMIZERS:
        _fail("SOLVER.OPTIMIZER", cfg.SOLVER.OPTIMIZER, f"choose one of {OPTIMIZERS}")
    if cfg.SOLVER.AMP.PRECISION not in AMP_PRECISIONS:
        _fail("SOLVER.AMP.PRECISION", cfg.SOLVER.AMP.PRECISION, f"choose one of {AMP_PRECISIONS}")
    if len(cfg.SOLVER.ADAM_BETAS) != 2 or not all(0 <= b < 1 for b in cfg.SOLVER.ADAM_BETAS):
        _fail("SOLVER.ADAM_BETAS", cfg.SOLVER.ADAM_BETAS, "expected two numbers in [0, 1)")
    clip = cfg.SOLVER.CLIP_GRADIENTS
    if clip.ENABLED and clip.CLIP_TYPE not in CLIP_TYPES:
        _fail("SOLVER.CLIP_GRADIENTS.CLIP_TYPE", clip.CLIP_TYPE, f"choose one of {CLIP_TYPES}")


def _validate_enhancement(e: CN) -> None:
    prefix = "MODEL.TTC.ENHANCEMENT"
    if not isinstance(e.BASE_WEIGHTS, str):
        _fail(f"{prefix}.BASE_WEIGHTS", e.BASE_WEIGHTS, "expected a path (or '')")
    _check_int(f"{prefix}.LATENT_CHANNELS", e.LATENT_CHANNELS, 1)
    for key in ("ANALYSIS_CHANNELS", "SYNTHESIS_CHANNELS"):
        value = list(e[key])
        if len(value) != 3 or any(
            isinstance(c, bool) or not isinstance(c, int) or c < 1 for c in value
        ):
            _fail(f"{prefix}.{key}", value, "expected three positive integer widths")
    for key in ("ANALYSIS_BLOCKS", "SYNTHESIS_BLOCKS"):
        _check_int(f"{prefix}.{key}", e[key], 0)
    if e.ACTIVATION not in ACTIVATIONS:
        _fail(f"{prefix}.ACTIVATION", e.ACTIVATION, f"choose one of {ACTIVATIONS}")
    _check_number(f"{prefix}.ALPHA", e.ALPHA)
    for key in ("STANDALONE", "CONTINUED"):
        if not isinstance(e[key], bool):
            _fail(f"{prefix}.{key}", e[key], "expected True or False")
    _validate_variable_rate(f"{prefix}.VARIABLE_RATE", e.VARIABLE_RATE)
    _check_rate_position(f"{prefix}.BASE_RATE", e.BASE_RATE)
    if not isinstance(e.SAMPLE_BASE_RATES, bool):
        _fail(f"{prefix}.SAMPLE_BASE_RATES", e.SAMPLE_BASE_RATES, "expected True or False")
    if e.STANDALONE and e.CONTINUED:
        raise TTCConfigError(
            f"{prefix}.STANDALONE and {prefix}.CONTINUED are both True: they exclude each other "
            "(Standalone codes ŷ_e with zeros for ŷ_b, Continued with the true ŷ_b; each is its "
            "own run from the same conditional model)"
        )


def _check_rate_position(key: str, value: Any, num_rates: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        _fail(key, value, "expected a rate position (a number >= 0), or -1 for the highest")
    if value != -1 and value < 0:
        _fail(key, value, "expected a rate position >= 0, or -1 for the highest")
    if num_rates is not None and value > num_rates - 1:
        _fail(
            key,
            value,
            f"the model has {num_rates} rate points: expected -1 or 0 to {num_rates - 1}",
        )


def _validate_variable_rate(prefix: str, node: CN) -> None:
    from ttc_core.variable_rate import VariableRate

    alphas = list(node.ALPHAS)
    if alphas:
        try:
            VariableRate(alphas)
        except ValueError as exc:
            raise TTCConfigError(f"{prefix}.ALPHAS = {alphas!r} is invalid: {exc}") from None
    _check_rate_position(f"{prefix}.TEST_RATE", node.TEST_RATE, len(alphas) or None)
    if not alphas and node.TEST_RATE != -1:
        _fail(f"{prefix}.TEST_RATE", node.TEST_RATE, f"a rate position needs {prefix}.ALPHAS")
    gains = list(node.GAIN_RANGE)
    if (
        len(gains) != 2
        or not all(
            isinstance(g, (int, float)) and not isinstance(g, bool) and math.isfinite(g)
            for g in gains
        )
        or not 0 < gains[0] < gains[1]
    ):
        _fail(f"{prefix}.GAIN_RANGE", node.GAIN_RANGE, "expected two increasing positive numbers")


def rate_position(value: float, num_rates: int) -> float | None:
    """A config's rate position (-1: the highest) for ``num_rates`` points; None if per-α."""
    if not num_rates:
        return None
    return float(num_rates - 1) if value == -1 else float(value)


def _validate_selection(cfg: CN) -> None:
    prefix = "DATASETS.SELECTION"
    s = cfg.DATASETS.get("SELECTION")
    if s is None:
        raise TTCConfigError(f"this config has no {prefix} node: call add_ttc_config(cfg)")
    if not isinstance(s.ENABLED, bool):
        _fail(f"{prefix}.ENABLED", s.ENABLED, "expected True or False")
    files = list(s.FILES)
    if not all(isinstance(f, str) and f for f in files):
        _fail(f"{prefix}.FILES", s.FILES, "expected a list of file names")
    if not files:
        size = s.SIZE
        if (
            isinstance(size, bool)
            or not isinstance(size, (int, float))
            or not math.isfinite(size)
            or size <= 0
            or (size >= 1 and size != int(size))
        ):
            _fail(
                f"{prefix}.SIZE",
                size,
                "expected a fraction in (0, 1) or a whole number of images >= 1",
            )
    if isinstance(s.SEED, bool) or not isinstance(s.SEED, int):
        _fail(f"{prefix}.SEED", s.SEED, "expected an integer")
    if s.MODE not in ("max", "min"):
        _fail(f"{prefix}.MODE", s.MODE, "choose 'max' or 'min'")
    metric = s.METRIC
    if not isinstance(metric, str) or not metric or metric.startswith("selection/"):
        _fail(
            f"{prefix}.METRIC",
            metric,
            "expected a result name as Detectron2 flattens it, without the 'selection/' "
            "prefix, e.g. 'bbox/AP' or 'ttc/psnr_scalable'",
        )
    if cfg.MODEL.META_ARCHITECTURE == "TTCReconstructionEnhancement" and metric.startswith(
        ("bbox/", "segm/")
    ):
        _fail(
            f"{prefix}.METRIC",
            metric,
            "the enhancement layer detects nothing: select on one of its results, e.g. "
            "'ttc/psnr_scalable'",
        )


def bottleneck_kwargs(cfg: CN) -> dict[str, Any]:
    """Constructor arguments of :class:`ttc_core.bottleneck.BaseBottleneck` from ``cfg``."""
    t = cfg.MODEL.TTC
    return {
        "in_channels": 3,
        "latent_channels": int(t.LATENT_CHANNELS),
        "analysis_channels": [int(c) for c in t.ANALYSIS_CHANNELS],
        "analysis_blocks": int(t.ANALYSIS_BLOCKS),
        "synthesis_channels": [int(c) for c in t.SYNTHESIS_CHANNELS],
        "task_channels": 3,
        "task_blocks": int(t.TASK_BLOCKS),
        "recon_channels": 3,
        "recon_blocks": int(t.RECON_BLOCKS),
        "activation": str(t.ACTIVATION),
        # only where it is not the paper's 16: earlier kwargs (and codec specs) stay as they were
        **({"downsampling": int(t.DOWNSAMPLING)} if int(t.DOWNSAMPLING) != 16 else {}),
        # only in variable-rate mode: per-α kwargs (and codec specs) stay as they were
        **(
            {
                "num_rates": len(t.VARIABLE_RATE.ALPHAS),
                "gain_range": [float(g) for g in t.VARIABLE_RATE.GAIN_RANGE],
            }
            if t.VARIABLE_RATE.ALPHAS
            else {}
        ),
    }


def enhancement_kwargs(
    cfg: CN, side_channels: int, side_rates: int = 0, downsampling: int = 16
) -> dict[str, Any]:
    """Constructor arguments of :class:`ttc_core.enhancement.EnhancementBottleneck` from ``cfg``.

    ``side_channels`` is the base latent's channel count, ``side_rates`` its rate points (0: a
    per-α base) and ``downsampling`` its stride (ŷ_e must align with ŷ_b), all from the base.
    """
    e = cfg.MODEL.TTC.ENHANCEMENT
    extra = {}
    if e.VARIABLE_RATE.ALPHAS:
        extra["num_rates"] = len(e.VARIABLE_RATE.ALPHAS)
        extra["gain_range"] = [float(g) for g in e.VARIABLE_RATE.GAIN_RANGE]
    if side_rates:
        extra["side_rates"] = int(side_rates)
    if int(downsampling) != 16:  # the paper's 16: kwargs (and codec specs) as before
        extra["downsampling"] = int(downsampling)
    return {
        "in_channels": 3,
        "out_channels": 3,
        "latent_channels": int(e.LATENT_CHANNELS),
        "side_channels": int(side_channels),
        "analysis_channels": [int(c) for c in e.ANALYSIS_CHANNELS],
        "analysis_blocks": int(e.ANALYSIS_BLOCKS),
        "synthesis_channels": [int(c) for c in e.SYNTHESIS_CHANNELS],
        "synthesis_blocks": int(e.SYNTHESIS_BLOCKS),
        "activation": str(e.ACTIVATION),
        "standalone": bool(e.STANDALONE),
        "continued": bool(e.CONTINUED),
        **extra,
    }
