"""The scalable enhancement layer on a frozen Cityscapes base (METHOD §2–3, stage 2).

::

    frame (normalised, H×W) ─┬─ FrozenBase: learned ½ downsample ─ f_b ─ ŷ_b ─ p(ŷ_b) ─ bits_b
                             │              (weights of a trained depth-base checkpoint; frozen)
                             │                                     │ side information
                             └─ learned ½ downsample ─ f_e ─ ŷ_e ─ p(ŷ_e | ŷ_b) ─ bits_e
                                                             └─ g_e ─ output

- :class:`TTCEnhancementSegmentor` (``EncoderDecoder``): ``g_e`` (n = 1) gives a pseudo-image
  for DeepLabV3 (ResNetV1c + ``UpsampledASPPHead`` + auxiliary ``UpsampledFCNHead``, learned ×2
  upsampling of the logits). Loss = CE (main + aux) + α·(bpp_e + bpp_b).
- :class:`TTCReconstructionEnhancement`: ``g_e`` (n = 3) reconstructs the frame at the coded, i.e.
  half, resolution (512×1024 for Cityscapes). Loss = 255·RMSE + α·(bpp_e + bpp_b).

Both load the base from a depth-base checkpoint named by the config key
``model.base.checkpoint`` (a ``.pth`` file, or a finished base run's work_dir, whose
``ttc_report.json`` names the checkpoint it chose: see :func:`resolve_checkpoint`). Its
framework-free ``"ttc_codec"`` spec says how to rebuild the learned downsample and the
bottleneck (the depth head is not needed; :func:`ttc_core.frozen.load_frozen_base`). The base
stays frozen: no gradients, eval mode even when the runner calls ``model.train()``. bpp_b is then a
constant of the loss, but it is logged and reported: the rate of a scalable system is
base + enhancement bits.

Two retraining stages start from a trained **conditional** model (``load_from``; training is
refused otherwise, see :class:`~ttc_mmseg.hooks.TTCCheckpointHook`). In both, every parameter but
the enhancement entropy model is frozen (and in eval mode, so that batch-norm statistics stay as
trained) and training only minimises the rate, for the same number of steps:

- **Standalone** (``standalone=True``, METHOD §2): zeros replace ŷ_b: the lower bound on what
  the side information is worth;
- **Continued** (``continued=True``, METHOD §8): the true ŷ_b: the control of equal budget.
  The side-information saving compares Standalone with Continued (like with like), not with
  the conditional model they started from, whose entropy model trained for fewer steps.

**Rates** (METHOD §5; ttc's vocabulary): ``bpp`` / ``bits`` are actual sizes of real rANS
strings, present only with ``test_cfg.actual_bits=True``; ``..._estimated`` are likelihood
estimates. Per layer ``bpp_base``, ``bpp_enhancement`` (and ``_estimated``); the total is
base + enhancement. ``bpp_pixels='frame'`` divides bits by the H·W of the frame given to the
model (1024×2048: segmentation); ``'coded'`` by the pixels of the coded, learned-downsampled
frame (512×1024: Cityscapes reconstruction). Both layers are divided by the same count.

**Variable rate** (gain units, Cui et al., CVPR 2021; :mod:`ttc_core.variable_rate`):
``codec_loss=dict(alphas=[α_0, …])`` (strictly decreasing) trains one enhancement for N rate
points (``enhancement.num_rates`` is set from it): each training batch draws an index i and is
weighed by α_i; evaluation codes at ``test_cfg.rate`` (default N−1). On a **variable-rate
base** the enhancement is conditioned on the base's decoded latent and told its rate
position (``side_rates``, set from the base's spec): ``base=dict(checkpoint=..., rate=Q)``
fixes the base's rate position (default: its highest), ``sample_rates=True`` draws a base
rate index per training batch instead, and ``test_cfg.base_rate`` overrides ``rate`` in
evaluation. The draws of a batch travel in its :class:`ScalableTerms` (``rate``,
``base_rate``, ``alpha``).

The two-layer forward and the real bits are ttc-core's (:func:`ttc_core.scalable.scalable_forward`,
:func:`~ttc_core.scalable.scalable_actual_bits`). The terms of a pass (:class:`ScalableTerms`)
are returned by :meth:`EnhancementCodecMixin.run_codec` and passed along explicitly; nothing
of one call is kept on the model for the next.
"""

from __future__ import annotations

import copy
import os
import os.path as osp
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from mmengine.config import ConfigDict
from mmengine.logging import print_log
from mmengine.structures import PixelData
from mmseg.models.segmentors import BaseSegmentor, EncoderDecoder
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from torch import Tensor, nn

from ttc_core.bottleneck import BaseBottleneck
from ttc_core.checkpoint import CheckpointError, make_codec_spec, to_plain
from ttc_core.enhancement import EnhancementBottleneck, EnhancementOutput
from ttc_core.frozen import load_frozen_base
from ttc_core.layers import Downsample
from ttc_core.losses import psnr, reconstruction_rmse
from ttc_core.rates import scalable_rates
from ttc_core.scalable import reconstruction_target, scalable_actual_bits, scalable_forward
from ttc_core.selection import REPORT_FILE, read_report
from ttc_core.variable_rate import VariableRate

from .normalization import input_normalization
from .segmentors import batch_img_metas
from .weights import check_local_weights, without_weights

__all__ = [
    "EnhancementCodecMixin",
    "FrozenBase",
    "ScalableTerms",
    "TTCEnhancementSegmentor",
    "TTCReconstructionEnhancement",
    "resolve_checkpoint",
]

#: the registered name (entry-point group ``ttc.task_decoders``) of the segmentation
#: enhancement's task decoder, stored in its codec spec (``ttc decompress --task-output``);
#: checkpoint data names code, it never imports it
SEGMENTATION_DECODER = "segmentation"
BPP_PIXELS = ("frame", "coded")
DEFAULT_ENHANCEMENT_LOSS = dict(alpha=0.01)


def resolve_checkpoint(path: str | os.PathLike) -> str:
    """The base checkpoint file that ``model.base.checkpoint`` names.

    - a file: itself;
    - a directory: only a finished ttc run's work_dir, and then the checkpoint its
      ``ttc_report.json`` names (the one chosen on the selection split and evaluated on the
      reported split; :func:`ttc_core.selection.read_report`). A relative name in the report is
      relative to the directory, as the study reads it. No checkpoint file is guessed: a
      directory without a report is refused, with the ``.pth`` files it holds listed.
    """
    path = os.fspath(path)
    if osp.isfile(path):
        return path
    if not osp.isdir(path):
        raise CheckpointError(
            f"base checkpoint {path!r} does not exist: train the base first (configs/mmseg/"
            "ttc_depth/) or set model.base.checkpoint=PATH (a .pth file, or a finished base "
            f"run's work_dir holding its {REPORT_FILE})"
        )
    try:
        report = read_report(path)
    except ValueError as exc:
        raise CheckpointError(f"model.base.checkpoint={path!r}: {exc}") from exc
    if report is None or not report.get("checkpoint"):
        found = sorted(name for name in os.listdir(path) if name.endswith(".pth"))
        held = f"it holds {found}" if found else "it holds no .pth file: train the base first"
        raise CheckpointError(
            f"model.base.checkpoint={path!r} is a directory without a {REPORT_FILE} naming the "
            "checkpoint its run chose (tools/train.py writes one when training ends); name the "
            f"checkpoint file instead, model.base.checkpoint={osp.join(path, '<file>.pth')!r} "
            f"({held})"
        )
    chosen = report["checkpoint"]
    chosen = chosen if osp.isabs(chosen) else osp.join(path, chosen)
    if not osp.isfile(chosen):
        raise CheckpointError(
            f"{osp.join(path, REPORT_FILE)} names the checkpoint {chosen!r}, which does not exist"
        )
    return chosen


class FrozenBase(nn.Module):
    """A trained base layer (learned downsample + ``BaseBottleneck``), frozen.

    Args:
        checkpoint: a checkpoint carrying a ``"ttc_codec"`` spec (any ttc trainer's, e.g. the
            depth base's ``best_selection_rmse_epoch_N.pth``), or a finished run's work
            directory, whose ``ttc_report.json`` names it (see :func:`resolve_checkpoint`).
            The spec gives the constructor arguments and where the weights are; the task head
            is not rebuilt.
        bottleneck / downsample: constructor arguments, only without ``checkpoint`` (the
            weights must then come from ``load_from`` of a model that holds them).
        rate: the rate position a variable-rate base codes at (default: its highest);
            refused for a per-α base.
        sample_rates: draw a rate index of a variable-rate base per training batch (the
            enhancement then learns every base rate) instead of ``rate``.

    It stays in eval mode and without gradients whatever ``train()`` is called with.
    """

    def __init__(
        self,
        checkpoint: str | None = None,
        bottleneck: Mapping | None = None,
        downsample: Mapping | None = None,
        rate: float | None = None,
        sample_rates: bool = False,
    ):
        super().__init__()
        self.input_spec: dict | None = None
        self.alphas: list[float] | None = None
        self.source: str | None = None
        if checkpoint is not None:
            # one loader for every adapter: ttc_core.frozen (codec spec → modules, frozen)
            self.source = resolve_checkpoint(checkpoint)
            loaded = load_frozen_base(self.source)
            self.input_spec = dict(loaded.spec["input"])
            self.alphas = loaded.spec["base"].get("alphas")
            self.bottleneck_kwargs = loaded.bottleneck_kwargs
            self.downsample_kwargs = loaded.downsample_kwargs
            self.bottleneck, self.downsample = loaded.bottleneck, loaded.downsample
        elif bottleneck is None:
            raise ValueError(
                "the base needs checkpoint=PATH (a trained base checkpoint, or the work_dir of a "
                f"finished base run with its {REPORT_FILE}), or "
                "bottleneck=dict(...) when its weights come from load_from"
            )
        else:
            self.bottleneck_kwargs = dict(bottleneck)
            self.downsample_kwargs = dict(downsample) if downsample else None
            self.bottleneck = BaseBottleneck(**self.bottleneck_kwargs)
            self.downsample = (
                Downsample(**self.downsample_kwargs) if self.downsample_kwargs else None
            )
        self.requires_grad_(False)
        super().train(False)
        n = self.bottleneck.num_rates
        if not n and (rate is not None or sample_rates):
            raise ValueError(
                "model.base.rate / sample_rates apply to a variable-rate base; this base was "
                "trained for one rate (per-α): leave them out"
            )
        try:
            self.rate = None if not n else float(n - 1 if rate is None else rate)
            if self.rate is not None:
                self.bottleneck.check_rate(self.rate)
        except ValueError as exc:
            raise ValueError(f"model.base.rate: {exc}") from exc
        self.sample_rates = bool(sample_rates)

    @property
    def num_rates(self) -> int:
        return self.bottleneck.num_rates

    def draw_rate(self) -> float | None:
        """The base's rate position for one training batch: a drawn index with
        ``sample_rates``, else ``rate`` (None for a per-α base)."""
        if self.sample_rates:
            return float(torch.randint(self.num_rates, (1,)).item())
        return self.rate

    @property
    def latent_channels(self) -> int:
        return self.bottleneck.latent_channels

    @property
    def factor(self) -> int:
        return self.downsample.factor if self.downsample is not None else 1

    def train(self, mode: bool = True) -> FrozenBase:
        return super().train(False)  # frozen: always eval

    @torch.no_grad()
    def coded_input(self, x: Tensor) -> Tensor:
        """What ``f_b`` codes: the learned-downsampled normalised frames ``x``."""
        return self.downsample(x) if self.downsample is not None else x


@dataclass
class ScalableTerms:
    """What both layers computed for one batch (returned by ``run_codec``, never kept)."""

    y_base: Tensor  #: ŷ_b
    bits_base: Tensor  #: estimated base bits per image, (N,)
    base_input: Tensor  #: what f_b coded
    enhancement: EnhancementOutput  #: ŷ_e, p(ŷ_e | ŷ_b), g_e(ŷ_e) (no g_e when only the
    #: entropy model trains)
    enhancement_input: Tensor  #: what f_e coded
    frame: Tensor  #: the normalised frames
    num_pixels: int  #: the bpp denominator (see ``bpp_pixels``)
    alpha: float = 0.0  #: the rate weight of this batch (variable rate: α of the drawn index)
    rate: float | None = None  #: the enhancement's rate position (None: per-α)
    base_rate: float | None = None  #: the base's rate position (None: per-α base)

    @property
    def bits_enhancement(self) -> Tensor:
        """Estimated enhancement bits per image, (N,)."""
        return self.enhancement.bits

    @property
    def bpp_base(self) -> Tensor:
        """Estimated base bpp per image (``bpp_pixels`` denominator)."""
        return self.bits_base / self.num_pixels

    @property
    def bpp_enhancement(self) -> Tensor:
        """Estimated enhancement bpp per image (``bpp_pixels`` denominator)."""
        return self.enhancement.bits / self.num_pixels


class EnhancementCodecMixin:
    """Frozen base + trainable enhancement layer, their rates, results and codec spec.

    Mixed into an mmseg segmentor (``BaseSegmentor`` subclass); see the module docstring.
    """

    #: ``"image"`` or ``"pseudo_image"`` (codec spec)
    enhancement_output_type = "image"
    #: registered name of the task decoder of ``ttc decompress --task-output``, or None
    task_decoder: str | None = None

    def _init_enhancement(
        self,
        base: Mapping,
        enhancement: Mapping | None,
        downsample: Mapping | None,
        codec_loss: Mapping | None,
        standalone: bool,
        continued: bool,
        bpp_pixels: str,
        synthesis_blocks: int,
        out_channels: int,
    ) -> None:
        if bpp_pixels not in BPP_PIXELS:
            raise ValueError(f"bpp_pixels must be one of {BPP_PIXELS}, got {bpp_pixels!r}")
        if standalone and continued:
            raise ValueError(
                "standalone=True (zeros for ŷ_b) and continued=True (the true ŷ_b) exclude each "
                "other: one run trains one of the two controls"
            )
        cfg = {**DEFAULT_ENHANCEMENT_LOSS, **dict(codec_loss or {})}
        #: the rate weights of a variable-rate enhancement (None: one model per α)
        self.variable_rate = None
        if cfg.get("alphas") is not None:
            try:
                self.variable_rate = VariableRate(cfg["alphas"])
            except ValueError as exc:
                raise ValueError(f"model.codec_loss.alphas: {exc}") from exc
            cfg["alphas"] = list(self.variable_rate.alphas)
        unknown = set(cfg) - set(DEFAULT_ENHANCEMENT_LOSS) - {"alphas"}
        if unknown:
            raise ValueError(
                f"unknown codec_loss keys {sorted(unknown)}; known: "
                f"{sorted(DEFAULT_ENHANCEMENT_LOSS)} (the base is frozen: no β here)"
            )
        self.alpha = float(cfg["alpha"])
        if not self.alpha >= 0:
            raise ValueError(f"codec_loss.alpha must be >= 0, got {self.alpha}")
        self.codec_loss_cfg = cfg
        self.bpp_pixels = bpp_pixels

        self.base = FrozenBase(**dict(base))
        if self.base.source is not None:
            print_log(f"frozen base layer loaded from {self.base.source}", logger="current")
        self.enhancement_downsample_kwargs = (
            {"channels": 3, **dict(downsample)} if downsample else None
        )
        self.enhancement_downsample = (
            Downsample(**self.enhancement_downsample_kwargs)
            if self.enhancement_downsample_kwargs
            else None
        )
        factor = self.enhancement_downsample.factor if self.enhancement_downsample else 1
        if factor != self.base.factor:
            raise ValueError(
                f"the enhancement layer downsamples by {factor} but the base by "
                f"{self.base.factor}: ŷ_e and ŷ_b must have the same spatial size"
            )
        kwargs = dict(enhancement or {})
        kwargs.pop("standalone", None)  # the model's own switches decide
        kwargs.pop("continued", None)
        side = self.base.latent_channels
        if kwargs.setdefault("side_channels", side) != side:
            raise ValueError(
                f"enhancement side_channels={kwargs['side_channels']} but the base latent has "
                f"{side} channels"
            )
        kwargs.setdefault("synthesis_blocks", synthesis_blocks)
        kwargs.setdefault("out_channels", out_channels)
        # variable rate: the enhancement's own rate points from codec_loss.alphas, and the
        # base's (side_rates) from its spec, so that the enhancement knows the base's rate
        if kwargs.get("downsampling") == 16:  # the default, written out
            kwargs.pop("downsampling")
        for key, value, source in (
            (
                "num_rates",
                0 if self.variable_rate is None else self.variable_rate.num_rates,
                "codec_loss.alphas",
            ),
            ("side_rates", self.base.num_rates, "the base's num_rates"),
            # ŷ_e must align with ŷ_b: the base's stride (16, the paper's, is left out)
            (
                "downsampling",
                0 if self.base.bottleneck.stride == 16 else self.base.bottleneck.stride,
                "the base's downsampling",
            ),
        ):
            if kwargs.get(key) not in (None, value):
                raise ValueError(
                    f"model.enhancement.{key}={kwargs[key]} but {source} gives {value}: leave "
                    f"{key} out (it is set from {source})"
                )
            if value:
                kwargs[key] = value
            else:
                kwargs.pop(key, None)
        self.enhancement_kwargs = kwargs
        self.enhancement = EnhancementBottleneck(**kwargs)
        self._check_input_normalization()
        if standalone:
            self.set_standalone()
        elif continued:
            self.set_continued()
        self._check_test_rates()
        rates = f"alpha={self.alpha}"
        if self.variable_rate is not None:
            rates = (
                f"variable rate, alphas={list(self.variable_rate.alphas)} (one drawn per "
                f"batch), test rate {self.test_rate}"
            )
        if self.base.num_rates:
            rates += (
                f"; variable-rate base at rate "
                f"{'drawn per batch' if self.base.sample_rates else self.base.rate}, "
                f"test base rate {self.test_base_rate}"
            )
        print_log(f"{type(self).__name__}: stage {self.stage}, {rates}", logger="current")

    # -- rates ------------------------------------------------------------------------------
    @property
    def test_rate(self) -> float | None:
        """The enhancement's rate position in evaluation (``test_cfg.rate``, default the
        highest; None for a per-α enhancement)."""
        if self.variable_rate is None:
            return None
        rate = (self.test_cfg or {}).get("rate")
        return float(self.variable_rate.num_rates - 1) if rate is None else float(rate)

    @property
    def test_base_rate(self) -> float | None:
        """The base's rate position in evaluation (``test_cfg.base_rate``, else
        ``base.rate``; None for a per-α base)."""
        if not self.base.num_rates:
            return None
        rate = (self.test_cfg or {}).get("base_rate")
        return self.base.rate if rate is None else float(rate)

    def _check_test_rates(self) -> None:
        cfg = self.test_cfg or {}
        for key, model, value in (
            ("rate", self.enhancement, cfg.get("rate")),
            ("base_rate", self.base.bottleneck, cfg.get("base_rate")),
        ):
            if value is None:
                continue
            try:
                model.check_rate(value)
            except ValueError as exc:
                raise ValueError(f"model.test_cfg.{key}: {exc}") from exc

    def _draw_rates(self) -> tuple[float, float | None, float | None]:
        """``(α, rate, base_rate)`` of one pass: drawn per batch in training (variable
        rate), the test rates in evaluation."""
        if not self.training:
            alpha = self.alpha
            if self.variable_rate is not None:
                alpha = self.variable_rate.alphas[round(self.test_rate)]
            return alpha, self.test_rate, self.test_base_rate
        base_rate = self.base.draw_rate()
        if self.variable_rate is None:
            return self.alpha, None, base_rate
        index = self.variable_rate.sample()
        return self.variable_rate.alpha(index), float(index), base_rate

    # -- configuration ----------------------------------------------------------------------
    def _input_normalization(self) -> tuple[list[float], list[float], str]:
        """Mean / std on 0–255 pixels and channel order of the data preprocessor's output."""
        return input_normalization(getattr(self, "data_preprocessor", None))

    def _check_input_normalization(self) -> None:
        spec = self.base.input_spec
        if spec is None:
            return
        mean, std, order = self._input_normalization()
        scale = float(spec.get("scale", 1.0))
        base_mean = [m * 255.0 / scale for m in spec["mean"]]
        base_std = [s * 255.0 / scale for s in spec["std"]]
        close = all(
            abs(a - b) <= 1e-3 for a, b in zip(mean + std, base_mean + base_std, strict=True)
        )
        if not close or order != spec.get("channel_order", "RGB"):
            raise ValueError(
                f"the data preprocessor (mean {mean}, std {std}, {order}) must normalise the "
                f"frames as the base saw them (mean {base_mean}, std {base_std}, "
                f"{spec.get('channel_order', 'RGB')}): both layers are coded from one input"
            )

    @property
    def standalone(self) -> bool:
        return self.enhancement.standalone

    @property
    def continued(self) -> bool:
        return self.enhancement.continued

    @property
    def entropy_model_only(self) -> bool:
        """Only the enhancement entropy model trains (Standalone or Continued)."""
        return self.enhancement.entropy_model_only

    @property
    def stage(self) -> str:
        """``"conditional"``, ``"standalone"`` or ``"continued"``."""
        return self.enhancement.stage

    @property
    def requires_load_from(self) -> bool:
        """Standalone and Continued retrain the entropy model of a *trained* conditional model
        (checked by ``TTCCheckpointHook`` before training)."""
        return self.entropy_model_only

    def ttc_settings(self) -> dict:
        """What a checkpoint records of this model's training (``meta.ttc``)."""
        return dict(codec_loss=dict(self.codec_loss_cfg), stage=self.stage)

    def set_standalone(self) -> None:
        """Zeros replace ŷ_b; freeze everything but the enhancement entropy model."""
        self.enhancement.set_standalone(True)
        self._freeze_all_but_the_entropy_model()

    def set_continued(self) -> None:
        """The true ŷ_b; freeze everything but the enhancement entropy model."""
        self.enhancement.set_continued(True)
        self._freeze_all_but_the_entropy_model()

    def _freeze_all_but_the_entropy_model(self) -> None:
        for name, param in self.named_parameters():
            param.requires_grad_(name.startswith("enhancement.entropy_model."))
        self.train(self.training)

    def train(self, mode: bool = True):
        super().train(mode)
        if getattr(self, "enhancement", None) is not None and self.entropy_model_only:
            # batch-norm statistics and dropout of the frozen parts stay as trained
            for module in self.children():
                module.train(False)
            self.enhancement.entropy_model.train(mode)
        return self

    # -- forward ----------------------------------------------------------------------------
    def run_codec(self, inputs: Tensor) -> ScalableTerms:
        """Both layers on normalised frames (:func:`ttc_core.scalable.scalable_forward`)."""
        x_b = self.base.coded_input(inputs)
        x_e = (
            self.enhancement_downsample(inputs)
            if self.enhancement_downsample is not None
            else inputs
        )
        # Standalone / Continued training only minimises the rate: no g_e and no task network
        # (ŷ_b is zeros or the true one, as the entropy model's switch says); the frozen
        # transforms take part without gradient, their parameters require none
        rate_only = self.entropy_model_only and self.training
        alpha, rate, base_rate = self._draw_rates()
        out = scalable_forward(
            self.base.bottleneck,
            self.enhancement,
            x_b,
            x_e,
            synthesize=not rate_only,
            rate=rate,
            base_rate=base_rate,
        )
        if self.bpp_pixels == "frame":
            num_pixels = int(inputs.shape[-2]) * int(inputs.shape[-1])
        else:
            num_pixels = int(x_e.shape[-2]) * int(x_e.shape[-1])
        return ScalableTerms(
            out.y_base,
            out.bits_base,
            x_b,
            out.enhancement,
            x_e,
            inputs,
            num_pixels,
            alpha=alpha,
            rate=rate,
            base_rate=base_rate,
        )

    # -- losses -----------------------------------------------------------------------------
    def rate_losses(self, terms: ScalableTerms) -> dict[str, Tensor]:
        """``loss_rate = α·(bpp_e + bpp_b)`` (bpp_b is a constant; α of the batch, see
        ``ScalableTerms.alpha``) and the logged estimates ``bpp_estimated`` (total),
        ``bpp_base_estimated``, ``bpp_enhancement_estimated``."""
        bpp_base = terms.bpp_base.mean().detach()
        bpp_enhancement = terms.bpp_enhancement.mean()
        return {
            "loss_rate": terms.alpha * (bpp_enhancement + bpp_base),
            "bpp_estimated": (bpp_enhancement + bpp_base).detach(),
            "bpp_base_estimated": bpp_base,
            "bpp_enhancement_estimated": bpp_enhancement.detach(),
        }

    @staticmethod
    def _merge(losses: dict, extra: dict) -> dict:
        for key, value in extra.items():
            if key in losses:
                raise KeyError(f"loss key {key!r} is produced twice")
            losses[key] = value
        return losses

    # -- results ----------------------------------------------------------------------------
    def attach_rate_results(self, data_samples, terms: ScalableTerms, extra=None) -> None:
        """Per-image bits / bpp of both layers: ``bits_base_estimated``,
        ``bits_enhancement_estimated``, ``bits_estimated`` (total) and the same ``bpp_...``; with
        ``test_cfg.actual_bits=True`` also the real strings' ``bits_base``,
        ``bits_enhancement``, ``bits``, ``bpp_base``, ``bpp_enhancement``, ``bpp``."""
        n = terms.num_pixels
        counted = terms.frame if self.bpp_pixels == "frame" else terms.enhancement_input
        shape = tuple(int(s) for s in counted.shape[-2:])
        base = terms.bits_base.detach().float().cpu().tolist()
        enh = terms.bits_enhancement.detach().float().cpu().tolist()
        info = [
            dict(
                scalable_rates(b, e, n, estimated=True),
                bpp_pixels=self.bpp_pixels,
                bpp_shape=shape,
                coded_shape=tuple(int(s) for s in terms.enhancement_input.shape[-2:]),
            )
            for b, e in zip(base, enh, strict=True)
        ]
        if (self.test_cfg or {}).get("actual_bits", False):
            base_a, enh_a = self.actual_bits(terms)
            for values, b, e in zip(info, base_a, enh_a, strict=True):
                values.update(scalable_rates(float(b), float(e), n, estimated=False))
        for values in info:
            if terms.rate is not None:
                values["rate"] = terms.rate
            if terms.base_rate is not None:
                values["base_rate"] = terms.base_rate
        for i, (sample, values) in enumerate(zip(data_samples, info, strict=True)):
            if extra is not None:
                values.update(extra[i])
            sample.set_metainfo(values)

    def actual_bits(self, terms: ScalableTerms) -> tuple[list[int], list[int]]:
        """Bits of the real rANS strings of each image: (base, enhancement)."""
        order = (self.test_cfg or {}).get("coding_order", "wavefront")
        return scalable_actual_bits(
            self.base.bottleneck,
            self.enhancement,
            terms.base_input,
            terms.enhancement_input,
            order=order,
            rate=terms.rate,
            base_rate=terms.base_rate,
        )

    # -- checkpoints ------------------------------------------------------------------------
    def task_network_spec(self) -> dict | None:
        """What a task decoder needs to rebuild the task network (None: no task network)."""
        return None

    def codec_spec(self) -> dict:
        """The ``"ttc_codec"`` spec: frozen base + enhancement, rebuilt by ``ttc`` alone."""
        mean, std, order = self._input_normalization()
        base_down = None
        if self.base.downsample_kwargs:
            base_down = (self.base.downsample_kwargs, "base.downsample.")
        enh_down = None
        if self.enhancement_downsample_kwargs:
            enh_down = (self.enhancement_downsample_kwargs, "enhancement_downsample.")
        spec = make_codec_spec(
            base_kwargs=self.base.bottleneck_kwargs,
            base_prefix="base.bottleneck.",
            mean=mean,
            std=std,
            scale=255.0,
            channel_order=order,
            base_downsample=base_down,
            base_alphas=self.base.alphas if self.base.num_rates else None,
            enhancement=dict(
                kwargs={
                    **self.enhancement_kwargs,
                    "standalone": self.standalone,
                    "continued": self.continued,
                },
                prefix="enhancement.",
                downsample=enh_down,
                output=self.enhancement_output_type,
                task_decoder=self.task_decoder,
                alphas=None if self.variable_rate is None else self.variable_rate.alphas,
            ),
        )
        network = self.task_network_spec()
        if network is not None:
            spec["enhancement"]["task_network"] = network
        return spec


def _check_whole(test_cfg) -> ConfigDict:
    test_cfg = ConfigDict(test_cfg or dict(mode="whole"))
    if test_cfg.get("mode", "whole") != "whole":
        raise ValueError(
            f"test_cfg.mode must be 'whole', got {test_cfg.get('mode')!r}: the rate is defined "
            "per frame, and sliding windows would code each window separately"
        )
    return test_cfg


@MODELS.register_module()
class TTCEnhancementSegmentor(EnhancementCodecMixin, EncoderDecoder):
    """Semantic segmentation from an enhancement layer coded given a frozen base.

    ``frame ─ downsample ─ f_e ─ ŷ_e (| ŷ_b) ─ g_e ─ pseudo-image ─ backbone ─ heads ─ ×2``.

    Args:
        base: ``dict(checkpoint=PATH)`` of the trained base: a ``.pth`` file, or a finished
            base run's work_dir (the checkpoint its ``ttc_report.json`` names), see
            :func:`resolve_checkpoint` and :class:`FrozenBase`.
        enhancement: :class:`ttc_core.enhancement.EnhancementBottleneck` arguments
            (``side_channels`` is the base's; ``synthesis_blocks`` defaults to 1, the paper's
            pseudo-image decoder).
        downsample: the enhancement layer's learned downsample (same factor as the base's).
        codec_loss: ``dict(alpha)``: rate weight on ``bpp_e + bpp_b`` (bpp per frame pixel).
        standalone: the Standalone reference (zeros for ŷ_b, only the enhancement entropy
            model trains); needs ``load_from`` of a trained conditional model.
        continued: the Continued control (the true ŷ_b, only the enhancement entropy model
            trains, for as many steps as the Standalone); needs ``load_from`` of a trained
            conditional model. Exclusive with ``standalone``.
        bpp_pixels: ``'frame'`` (default: bits / 1024·2048) or ``'coded'``.
        test_cfg: ``mode='whole'`` only; ``actual_bits=True`` codes every image with the
            real rANS coder; ``coding_order`` (``'wavefront'``).
        backbone, decode_head, neck, auxiliary_head, ...: ``EncoderDecoder`` arguments; the
            backbone reads the 3-channel pseudo-image (e.g. ``ResNetV1c``), the heads should
            be ``UpsampledASPPHead`` / ``UpsampledFCNHead`` (learned ×2 to the frame).
    """

    enhancement_output_type = "pseudo_image"
    task_decoder = SEGMENTATION_DECODER

    def __init__(
        self,
        backbone: dict,
        decode_head: dict,
        base: dict,
        enhancement: dict | None = None,
        downsample: dict | None = None,
        codec_loss: dict | None = None,
        standalone: bool = False,
        continued: bool = False,
        bpp_pixels: str = "frame",
        neck: dict | None = None,
        auxiliary_head: dict | None = None,
        train_cfg: dict | None = None,
        test_cfg: dict | None = None,
        data_preprocessor: dict | None = None,
        pretrained: str | None = None,
        init_cfg=None,
    ):
        check_local_weights(backbone, "model.backbone")
        self._task_network_cfg = to_plain(
            dict(backbone=without_weights(backbone), neck=neck, decode_head=decode_head),
            drop_keys=("init_cfg", "pretrained"),
        )
        super().__init__(
            backbone=copy.deepcopy(backbone),
            decode_head=copy.deepcopy(decode_head),
            neck=copy.deepcopy(neck),
            auxiliary_head=copy.deepcopy(auxiliary_head),
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            data_preprocessor=data_preprocessor,
            pretrained=pretrained,
            init_cfg=init_cfg,
        )
        self.test_cfg = _check_whole(self.test_cfg)
        self._init_enhancement(
            base,
            enhancement,
            dict(factor=2) if downsample is None else downsample,
            codec_loss,
            standalone,
            continued,
            bpp_pixels,
            synthesis_blocks=1,
            out_channels=3,
        )

    def task_network_spec(self) -> dict:
        return dict(
            self._task_network_cfg,
            prefix=dict(backbone="backbone.", neck="neck.", decode_head="decode_head."),
        )

    def extract_feat(self, inputs: Tensor) -> list[Tensor]:
        x, _ = self.extract_feat_with_terms(inputs)
        return x

    def extract_feat_with_terms(self, inputs: Tensor) -> tuple[list[Tensor], ScalableTerms]:
        """``extract_feat`` that also returns both layers' terms of this pass."""
        terms = self.run_codec(inputs)
        x = self.backbone(terms.enhancement.output)
        if self.with_neck:
            x = self.neck(x)
        return x, terms

    # mmseg's loss / predict, with the rate terms taken from the same forward pass (passed
    # along, not kept on the model); ``_forward`` / ``encode_decode`` are mmseg's own
    def loss(self, inputs: Tensor, data_samples) -> dict:
        if self.entropy_model_only:
            # only the entropy model trains: the task loss has no gradient to give it
            return self.rate_losses(self.run_codec(inputs))
        x, terms = self.extract_feat_with_terms(inputs)
        losses = self._decode_head_forward_train(x, data_samples)
        if self.with_auxiliary_head:
            losses.update(self._auxiliary_head_forward_train(x, data_samples))
        return self._merge(losses, self.rate_losses(terms))

    def predict(self, inputs: Tensor, data_samples=None):
        # test_cfg.mode is 'whole' (_check_whole): mmseg's inference is then whole_inference =
        # encode_decode = extract_feat + decode_head.predict
        metas = batch_img_metas(inputs, data_samples)
        x, terms = self.extract_feat_with_terms(inputs)
        seg_logits = self.decode_head.predict(x, metas, self.test_cfg)
        results = self.postprocess_result(seg_logits, data_samples)
        self.attach_rate_results(results, terms)
        return results


@MODELS.register_module()
class TTCReconstructionEnhancement(EnhancementCodecMixin, BaseSegmentor):
    """Input reconstruction from an enhancement layer coded given a frozen base.

    ``frame ─ downsample ─ f_e ─ ŷ_e (| ŷ_b) ─ g_e (n = 3) ─ x̂`` at the coded resolution
    (half of the frame: 512×1024 for Cityscapes). The target is the frame in [0, 1] RGB,
    bilinearly resized to the coded size (as the base's ``g_a`` target). Loss =
    ``recon_weight · 255·RMSE + α·(bpp_e + bpp_b)``; predictions carry ``psnr_scalable`` (dB,
    on [0, 1]), the rates, and ``pred_reconstruction`` (the clamped x̂).

    Args: as :class:`TTCEnhancementSegmentor` without the task network; ``bpp_pixels``
    defaults to ``'coded'`` (bits / 512·1024, METHOD §5); ``recon_weight`` weighs the
    reconstruction term. The data preprocessor must give RGB (``bgr_to_rgb=True``).
    """

    enhancement_output_type = "image"
    task_decoder = None

    def __init__(
        self,
        base: dict,
        enhancement: dict | None = None,
        downsample: dict | None = None,
        codec_loss: dict | None = None,
        standalone: bool = False,
        continued: bool = False,
        bpp_pixels: str = "coded",
        recon_weight: float = 1.0,
        train_cfg: dict | None = None,
        test_cfg: dict | None = None,
        data_preprocessor: dict | None = None,
        init_cfg=None,
    ):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.train_cfg = train_cfg
        self.test_cfg = _check_whole(test_cfg)
        self.recon_weight = float(recon_weight)
        self._init_enhancement(
            base,
            enhancement,
            dict(factor=2) if downsample is None else downsample,
            codec_loss,
            standalone,
            continued,
            bpp_pixels,
            synthesis_blocks=3,
            out_channels=3,
        )
        mean, std, order = self._input_normalization()
        if order != "RGB":
            raise ValueError("TTCReconstructionEnhancement needs RGB input: set bgr_to_rgb=True")
        self.register_buffer("input_mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("input_std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    # BaseSegmentor's interface
    def extract_feat(self, inputs: Tensor) -> ScalableTerms:
        return self.run_codec(inputs)

    def encode_decode(self, inputs: Tensor, batch_data_samples=None) -> Tensor:
        return self.run_codec(inputs).enhancement.output

    def target(self, terms: ScalableTerms) -> Tensor:
        """The frames in [0, 1] RGB, bilinearly resized to the coded size."""
        return reconstruction_target(
            terms.frame,
            self.input_mean,
            self.input_std,
            size=tuple(terms.enhancement_input.shape[-2:]),
        )

    def loss(self, inputs: Tensor, data_samples=None) -> dict:
        terms = self.run_codec(inputs)
        losses = {}
        if not self.entropy_model_only:
            output, target = terms.enhancement.output, self.target(terms)
            rec = reconstruction_rmse(output, target)
            losses["loss_recon"] = self.recon_weight * rec.mean()
            # logged, not optimised: the PSNR of the enhancement layer's reconstruction
            losses["psnr_scalable"] = psnr(output.detach(), target).mean()
        return self._merge(losses, self.rate_losses(terms))

    def predict(self, inputs: Tensor, data_samples=None):
        terms = self.run_codec(inputs)
        output = terms.enhancement.output.detach().clamp(0, 1)
        values = psnr(output, self.target(terms)).cpu().tolist()
        if data_samples is None:
            data_samples = [SegDataSample() for _ in range(inputs.shape[0])]
        for sample, image in zip(data_samples, output, strict=True):
            sample.set_data(dict(pred_reconstruction=PixelData(data=image)))
        self.attach_rate_results(data_samples, terms, extra=[dict(psnr_scalable=v) for v in values])
        return data_samples

    def _forward(self, inputs: Tensor, data_samples=None) -> Tensor:
        return self.encode_decode(inputs)
