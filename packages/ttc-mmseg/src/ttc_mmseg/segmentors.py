"""Segmentors that train a ttc base layer with their task (METHOD §2, base layer).

``loss = task loss + α·bpp + β·rec``: :class:`TTCDepthEstimator` adds ``loss_rate`` and
``loss_recon`` to mmseg's ``DepthEstimator`` losses (MMEngine sums every key containing
``loss``) and logs ``bpp_estimated``, ``recon_rmse`` and ``psnr_direct`` (no ``loss`` in their
names, so they are logged, not optimised).

Rate vocabulary (the same in every ttc package): ``bpp`` / ``bits`` are **actual** sizes of real
rANS bitstreams and appear only when real bits were coded (``test_cfg.actual_bits=True``);
``bpp_estimated`` / ``bits_estimated`` are the likelihood estimates; ``psnr_direct`` is the PSNR
of the direct reconstruction ``g_a(ŷ_b)``. Predictions carry these per image.

**The β in force is the β shown.** ``codec_loss.mode='baseline'`` needs ``beta=0.0``: a non-zero
β (for instance the default 0.1 inherited from a Proposed config) is refused when the model is
built. The mode, α, β and the probe weight in force are logged then, and stored in every
checkpoint by :class:`~ttc_mmseg.hooks.TTCCheckpointHook` (``meta.ttc``).

:class:`CodecSegmentorMixin` holds everything that does not depend on the task, so that other
segmentors (the enhancement stage's ``EncoderDecoder`` subclasses) can reuse it.

**Variable rate** (gain units, Cui et al., CVPR 2021; :mod:`ttc_core.variable_rate`):
``codec_loss=dict(alphas=[α_0, …, α_{N−1}], ...)`` (strictly decreasing; ``alpha`` is then
unused) trains **one** model for N rate points: the bottleneck gets ``num_rates=N`` (set here;
a conflicting ``backbone.bottleneck.num_rates`` is refused), each training batch draws a rate
index i (torch's seeded RNG) and its ``loss_rate`` is ``α_i · bpp``. Evaluation codes at
``test_cfg.rate`` (a rate position in [0, N−1]; default N−1, the highest rate), which
``ttc rd sweep --variable-rate`` sets per point (``tools/test.py --cfg-options
model.test_cfg.rate=i``). Predictions then carry ``rate`` too. Without ``alphas`` nothing
changes: one model per α, the paper's training.
"""

from __future__ import annotations

from mmengine.config import ConfigDict
from mmengine.logging import print_log
from mmseg.models.segmentors import DepthEstimator
from mmseg.registry import MODELS
from torch import Tensor

from ttc_core.checkpoint import make_codec_spec
from ttc_core.losses import RateLoss, ReconstructionLoss, psnr
from ttc_core.optim import probe_parameters
from ttc_core.variable_rate import VariableRate

from .backbone import CodecTerms, TTCBackbone
from .normalization import input_normalization

__all__ = [
    "CodecSegmentorMixin",
    "TTCDepthEstimator",
    "batch_img_metas",
    "variable_rate_backbone",
]

DEFAULT_CODEC_LOSS = dict(alpha=0.01, beta=0.1, mode="proposed", probe_weight=1.0)
#: optional codec_loss key: the rate weights of a variable-rate base (absent: per-α)
VARIABLE_RATE_KEY = "alphas"


def variable_rate_backbone(backbone: dict | None, codec_loss: dict | None):
    """The backbone config with ``bottleneck.num_rates`` set from ``codec_loss.alphas``.

    Returns ``(backbone, VariableRate | None)``; a per-α config is returned unchanged.
    """
    alphas = dict(codec_loss or {}).get(VARIABLE_RATE_KEY)
    if alphas is None or backbone is None:
        return backbone, None
    try:
        schedule = VariableRate(alphas)
    except ValueError as exc:
        raise ValueError(f"model.codec_loss.alphas: {exc}") from exc
    backbone = ConfigDict(backbone)
    bottleneck = dict(backbone.get("bottleneck") or {})
    given = bottleneck.get("num_rates")
    if given not in (None, 0, schedule.num_rates):
        raise ValueError(
            f"model.backbone.bottleneck.num_rates={given} but codec_loss.alphas has "
            f"{schedule.num_rates} rate weights: leave num_rates out (it is set from alphas)"
        )
    bottleneck["num_rates"] = schedule.num_rates
    backbone["bottleneck"] = bottleneck
    return backbone, schedule


def batch_img_metas(inputs: Tensor, data_samples) -> list[dict]:
    """The image metas mmseg's ``predict`` derives (its defaults when there are no samples)."""
    if data_samples is not None:
        return [sample.metainfo for sample in data_samples]
    shape = inputs.shape[2:]
    return [
        dict(ori_shape=shape, img_shape=shape, pad_shape=shape, padding_size=[0, 0, 0, 0])
    ] * inputs.shape[0]


class CodecSegmentorMixin:
    """Rate / reconstruction terms, per-image rate results and the codec spec of a segmentor
    whose ``backbone`` is a :class:`~ttc_mmseg.backbone.TTCBackbone`."""

    backbone: TTCBackbone

    def _init_codec(
        self, codec_loss: dict | None, variable_rate: VariableRate | None = None
    ) -> None:
        if not isinstance(self.backbone, TTCBackbone):
            raise TypeError(
                f"{type(self).__name__} needs backbone=dict(type='TTCBackbone', ...), got "
                f"{type(self.backbone).__name__}"
            )
        cfg = {**DEFAULT_CODEC_LOSS, **dict(codec_loss or {})}
        #: the rate weights of a variable-rate base (None: one model per α)
        self.variable_rate = variable_rate
        if variable_rate is None and self.backbone.bottleneck.num_rates:
            raise ValueError(
                f"model.backbone.bottleneck.num_rates={self.backbone.bottleneck.num_rates} "
                "without model.codec_loss.alphas: give the rate weights there (num_rates is "
                "set from them), or leave num_rates out for one model per α"
            )
        if variable_rate is not None:
            cfg[VARIABLE_RATE_KEY] = list(variable_rate.alphas)
            self._check_test_rate()
        unknown = set(cfg) - set(DEFAULT_CODEC_LOSS) - {VARIABLE_RATE_KEY}
        if unknown:
            raise ValueError(
                f"unknown codec_loss keys {sorted(unknown)}; known: {sorted(DEFAULT_CODEC_LOSS)}"
            )
        try:
            self.rate_loss = RateLoss(cfg["alpha"])
            self.recon_loss = ReconstructionLoss(cfg["beta"], cfg["mode"], cfg["probe_weight"])
        except ValueError as exc:
            hint = ""
            if cfg["mode"] == "baseline" and cfg["beta"] != 0:
                hint = (
                    " A Baseline config must say model.codec_loss=dict(mode='baseline', "
                    "beta=0.0, ...): the β of a Proposed config (or the default "
                    f"{DEFAULT_CODEC_LOSS['beta']}) is not inherited silently."
                )
            raise ValueError(f"model.codec_loss={cfg}: {exc}.{hint}") from exc
        self.codec_loss_cfg = cfg
        rate_weights = (
            f"alpha={cfg['alpha']}"
            if variable_rate is None
            else f"variable rate, alphas={list(variable_rate.alphas)} (one drawn per batch; "
            f"alpha={cfg['alpha']} unused), test rate {self.test_rate}"
        )
        print_log(
            f"{type(self).__name__}: codec loss in force: mode={cfg['mode']}, "
            f"{rate_weights}, beta={cfg['beta']}"
            + (
                f", probe_weight={cfg['probe_weight']} (g_a on a detached ŷ_b)"
                if cfg["mode"] == "baseline"
                else ""
            ),
            logger="current",
        )
        self.backbone.detach_reconstruction = self.recon_loss.detach_reconstruction
        mean, std = self._input_normalization()
        self.backbone.set_input_normalization(mean, std)

    @property
    def test_rate(self) -> float | None:
        """The rate position evaluation codes at: ``test_cfg.rate``, default the highest
        (None for a per-α model)."""
        if self.variable_rate is None:
            return None
        rate = (self.test_cfg or {}).get("rate")
        return float(self.variable_rate.num_rates - 1) if rate is None else float(rate)

    def _check_test_rate(self) -> None:
        rate = (self.test_cfg or {}).get("rate")
        if rate is not None:
            try:
                self.backbone.bottleneck.check_rate(rate)
            except ValueError as exc:
                raise ValueError(f"model.test_cfg.rate: {exc}") from exc

    def draw_rate(self) -> tuple[int | None, float | None]:
        """``(rate index, its α)`` for one training batch (``(None, None)``: per-α)."""
        if self.variable_rate is None:
            return None, None
        index = self.variable_rate.sample()
        return index, self.variable_rate.alpha(index)

    def _input_normalization(self) -> tuple[list[float], list[float]]:
        """The data preprocessor's mean / std on 0–255 pixels (identity when it has none)."""
        mean, std, _ = input_normalization(getattr(self, "data_preprocessor", None))
        return mean, std

    def ttc_settings(self) -> dict:
        """What a checkpoint records of this model's training (``meta.ttc``)."""
        return dict(codec_loss=dict(self.codec_loss_cfg))

    def probe_parameters(self) -> list:
        """The Baseline's probe ``g_a`` (kept apart by ``TTCOptimWrapperConstructor``); none in
        Proposed mode, where ``g_a`` is part of the objective."""
        if self.recon_loss.mode != "baseline":
            return []
        return probe_parameters(self)

    # -- forward ----------------------------------------------------------------------------
    def extract_feat_with_terms(
        self, inputs: Tensor, rate: float | None = None
    ) -> tuple[Tensor, CodecTerms]:
        """``extract_feat`` that also returns the codec's terms of this pass (``extract_feat``
        itself returns the features only, as mmseg's does); ``rate``: the rate position of a
        variable-rate bottleneck."""
        x, terms = self.backbone.forward_with_terms(inputs, rate=rate)
        if self.with_neck:
            x = self.neck(x)
        return x, terms

    # -- training ---------------------------------------------------------------------------
    def codec_losses(self, terms: CodecTerms, alpha: float | None = None) -> dict[str, Tensor]:
        """``loss_rate``, ``loss_recon`` and the logged ``bpp_estimated``, ``recon_rmse``,
        ``psnr_direct``; ``alpha``: the rate weight of this batch (variable rate: the α of
        the rate index drawn for it)."""
        losses = dict(self.rate_loss(terms.bpp_estimated, alpha))
        recon = terms.output.reconstruction
        if recon is not None:
            losses.update(self.recon_loss(recon, self.backbone.reconstruction_target(terms)))
        return losses

    # -- inference --------------------------------------------------------------------------
    def attach_codec_results(self, data_samples, terms: CodecTerms) -> None:
        """Per-image rate (and direct-reconstruction PSNR) into each prediction's metainfo:
        ``bits_estimated``, ``bpp_estimated``, ``psnr_direct``; ``bits`` and ``bpp`` (real
        bitstreams) only with ``test_cfg.actual_bits=True``."""
        bits = terms.bits_estimated.detach().float().cpu()
        info = [
            dict(bits_estimated=float(b), bpp_estimated=float(b) / terms.num_pixels) for b in bits
        ]
        if terms.output.reconstruction is not None:
            target = self.backbone.reconstruction_target(terms)
            for i, value in enumerate(psnr(terms.output.reconstruction.detach(), target).cpu()):
                info[i]["psnr_direct"] = float(value)
        if self.test_cfg.get("actual_bits", False):
            for i, n_bits in enumerate(self.actual_bits(terms.coded_input, terms.rate)):
                info[i]["bits"] = float(n_bits)
                info[i]["bpp"] = float(n_bits) / terms.num_pixels
        if terms.rate is not None:
            for values in info:
                values["rate"] = terms.rate
        for sample, values in zip(data_samples, info, strict=True):
            values["coded_shape"] = tuple(int(s) for s in terms.coded_input.shape[-2:])
            sample.set_metainfo(values)

    def actual_bits(self, coded_input: Tensor, rate: float | None = None) -> list[int]:
        """Bits of the real rANS bitstream of each image (8 × string length), at ``rate``."""
        order = self.test_cfg.get("coding_order", "wavefront")
        bits, _ = self.backbone.bottleneck.actual_bits(coded_input, order=order, rate=rate)
        return bits

    # -- checkpoints ------------------------------------------------------------------------
    def codec_spec(self, prefix: str = "") -> dict:
        """The framework-free ``"ttc_codec"`` description of this model's base layer."""
        mean, std = self._input_normalization()
        down = None
        if self.backbone.downsample is not None:
            kwargs = {"channels": 3, **self.backbone.downsample_kwargs}
            down = (kwargs, f"{prefix}backbone.downsample.")
        return make_codec_spec(
            base_kwargs=self.backbone.bottleneck_kwargs,
            base_prefix=f"{prefix}backbone.bottleneck.",
            mean=mean,
            std=std,
            scale=255.0,
            base_downsample=down,
            base_alphas=None if self.variable_rate is None else self.variable_rate.alphas,
        )


@MODELS.register_module()
class TTCDepthEstimator(CodecSegmentorMixin, DepthEstimator):
    """mmseg's ``DepthEstimator`` trained jointly with a ttc base layer.

    Args:
        codec_loss: ``dict(alpha, beta, mode, probe_weight)``: rate weight α (on the bpp of
            the frame), reconstruction weight β, ``mode='proposed'`` (the reward reaches the
            encoder) or ``'baseline'`` (``beta`` must be 0.0, refused otherwise; ``g_a`` is
            trained as a probe on a detached ŷ_b with ``probe_weight``, and
            ``optim_wrapper.constructor='TTCOptimWrapperConstructor'`` keeps it out of the
            gradient clip of the other parameters). ``alphas=[α_0, …]`` (strictly decreasing)
            instead trains one variable-rate model (module docstring).
        test_cfg: ``mode`` must be ``'whole'`` (mmseg 1.2.2's ``DepthEstimator.inference``
            ignores ``'slide'``, and the rate is per frame); ``actual_bits=True`` also runs the
            real coder on every image (slow: the context model decodes serially);
            ``coding_order`` (``'wavefront'``) selects its step order; ``rate`` the rate
            position of a variable-rate model (default: its highest).
        Other arguments: as ``DepthEstimator``.
    """

    def __init__(self, *args, codec_loss: dict | None = None, **kwargs):
        # a variable-rate codec_loss sets the bottleneck's num_rates before it is built
        kwargs["backbone"], variable_rate = variable_rate_backbone(
            kwargs.get("backbone"), codec_loss
        )
        super().__init__(*args, **kwargs)
        mode = self.test_cfg.get("mode", "whole") if self.test_cfg else "whole"
        if mode != "whole":
            raise ValueError(
                f"{type(self).__name__} supports test_cfg.mode='whole' only, got {mode!r}: the "
                "rate is defined per full frame, and mmseg 1.2.2's DepthEstimator.inference "
                "silently runs 'whole' for 'slide' anyway"
            )
        self.test_cfg = ConfigDict(self.test_cfg or dict(mode="whole"))
        self._init_codec(codec_loss, variable_rate)

    # mmseg's loss / predict, with the codec's terms taken from the same forward pass (the
    # terms are passed along, not left on the backbone); ``_forward`` (tensor mode) and
    # ``extract_feat`` / ``encode_decode`` are mmseg's own, on the plain backbone forward
    def loss(self, inputs: Tensor, data_samples) -> dict:
        # variable rate: one rate index per batch, its α weighs this batch's rate term
        index, alpha = self.draw_rate()
        x, terms = self.extract_feat_with_terms(inputs, rate=index)
        losses = self._decode_head_forward_train(x, data_samples)
        if self.with_auxiliary_head:
            losses.update(self._auxiliary_head_forward_train(x, data_samples))
        for key, value in self.codec_losses(terms, alpha).items():
            if key in losses:
                raise KeyError(f"loss key {key!r} is produced twice")
            losses[key] = value
        return losses

    def predict(self, inputs: Tensor, data_samples=None):
        # test_cfg.mode is 'whole' (checked in __init__): mmseg's inference is then
        # whole_inference = encode_decode = extract_feat + decode_head.predict
        metas = batch_img_metas(inputs, data_samples)
        x, terms = self.extract_feat_with_terms(inputs, rate=self.test_rate)
        depth = self.decode_head.predict(x, metas, self.test_cfg)
        results = self.postprocess_result(depth, data_samples)
        self.attach_codec_results(results, terms)
        return results
