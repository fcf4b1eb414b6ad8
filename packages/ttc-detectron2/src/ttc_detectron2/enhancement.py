r"""COCO reconstruction as a scalable enhancement layer on a frozen, trained detection base.

Stage 2 of de Andrade & Bajić (METHOD §2–3): the base layer of a trained ttc detector is
frozen, and an enhancement latent ŷ_e is learned for image reconstruction, coded with a
conditional entropy model p(ŷ_e | ŷ_b)::

    detector input (resized, unpadded) ─ x ∈ [0,1] RGB
        x ─ f_b (frozen) ─ ⌊·⌉ ─ ŷ_b ─ p(ŷ_b) (frozen) ─▶ bpp_base (a constant, reported)
        │                         └───────────────┐
        └─ f_e ─ ⌊·⌉ ─ ŷ_e ─ p(ŷ_e | ŷ_b) ◀───────┘ ─▶ bpp_enhancement
                        └─ g_e ─ x̂ ─▶ 255·RMSE(x̂, x), psnr_scalable

    loss = 255·RMSE(x̂, x) + ALPHA · bpp_enhancement_estimated
    rate of the scalable system = bpp_base + bpp_enhancement

:class:`TTCReconstructionEnhancement` is a Detectron2 meta-architecture (``META_ARCH_REGISTRY``),
trained by tools/train_net.py like the detector. It builds only the base *codec*
(:class:`ttc_core.bottleneck.BaseBottleneck`, from the base checkpoint's codec spec), no
detector heads; the base is frozen (no gradients, eval mode, also under ``trainer.train()``).

- **Base weights** (:func:`base_source`): read when the model is built, from ``MODEL.WEIGHTS``
  when that is an enhancement checkpoint (self-contained: it holds its base, so e.g.
  ``--eval-only`` needs no other file), else from ``MODEL.TTC.ENHANCEMENT.BASE_WEIGHTS`` (or
  ``MODEL.WEIGHTS`` when that is empty). ``MODEL.WEIGHTS`` is then loaded by the checkpointer
  as usual: a base checkpoint contributes nothing more (the enhancement starts from scratch),
  an enhancement checkpoint restores everything (its base included).
- **What is coded**: each image at its own resized, unpadded size, RGB in [0, 1] (the image the
  base codes; Detectron2's ``INPUT.FORMAT`` and pixel normalisation do not matter here);
  bpp = bits / (H·W of the resized image), PSNR on [0, 1] pixels of the same image.
- **Standalone** (``MODEL.TTC.ENHANCEMENT.STANDALONE``): zeros replace ŷ_b and only the
  enhancement's entropy model is trainable; from a trained conditional model (``MODEL.WEIGHTS``)
  this retrains its entropy model without side information (the loss is then
  ``ALPHA · bpp_enhancement_estimated`` alone: nothing else can change).
- **Continued** (``MODEL.TTC.ENHANCEMENT.CONTINUED``), the equal-budget control of Standalone:
  the true ŷ_b, only the entropy model trainable, the same loss and number of steps, from the
  same conditional model. The side-information saving is Standalone vs Continued (METHOD §8).
  :class:`~ttc_detectron2.engine.TTCTrainer` refuses to train either stage from anything but a
  trained enhancement model (``MODEL.WEIGHTS`` holding ``enhancement.*`` weights, or
  ``--resume``).
- **Checkpoints** carry a codec spec with both layers (``output: "image"``), so
  ``ttc compress --layers all -c model_final.pth`` writes base + enhancement into one file and
  ``ttc decompress`` rebuilds the reconstruction from it alone, without Detectron2.

**Variable rate** (:mod:`ttc_core.variable_rate`): ``MODEL.TTC.ENHANCEMENT.VARIABLE_RATE.ALPHAS``
trains one enhancement for several rate points (a rate index drawn per batch, its α weighs
bpp_e; evaluation at ``VARIABLE_RATE.TEST_RATE``). On a variable-rate base the enhancement
is conditioned on the base's decoded latent at ``ENHANCEMENT.BASE_RATE`` (or a base rate
index drawn per batch with ``SAMPLE_BASE_RATES``) and is told that rate position. The
``"ttc"`` dicts then carry ``rate`` / ``base_rate``.

At inference each output dict holds ``"reconstruction"`` (``(3, H, W)`` RGB in [0, 1] at the
coded size) and ``"ttc"``, per image in ttc's rate vocabulary: ``bits_base_estimated``,
``bits_enhancement_estimated``, ``bits_estimated`` (their sum), the same as ``bpp_*``,
``psnr_scalable`` (of g_e(ŷ_e)), ``psnr_direct`` (of the base's g_a(ŷ_b), with
``MODEL.TTC.TEST_RECONSTRUCTION``) and, with real rANS bitstreams
(``MODEL.TTC.TEST_ACTUAL_BITS``), the actual ``bits_base``, ``bits_enhancement``, ``bits`` and
``bpp_base``, ``bpp_enhancement``, ``bpp``.
:class:`~ttc_detectron2.evaluation.TTCEnhancementEvaluator` averages them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from detectron2.config import configurable
from detectron2.modeling import META_ARCH_REGISTRY
from detectron2.utils.events import get_event_storage
from torch import Tensor, nn

from ttc_core.bottleneck import BaseBottleneck
from ttc_core.checkpoint import (
    CheckpointError,
    find_codec_spec,
    load_checkpoint,
    make_codec_spec,
    spec_to_tensor,
)
from ttc_core.enhancement import EnhancementBottleneck
from ttc_core.frozen import load_frozen_base as core_load_frozen_base
from ttc_core.losses import RateLoss, psnr, reconstruction_rmse
from ttc_core.rates import scalable_rates
from ttc_core.scalable import group_by_size, scalable_actual_bits, scalable_forward
from ttc_core.variable_rate import VariableRate

from .config import enhancement_kwargs as cfg_enhancement_kwargs
from .config import rate_position, validate_ttc_config
from .errors import TTCConfigError

__all__ = [
    "TTCReconstructionEnhancement",
    "base_source",
    "is_enhancement_checkpoint",
    "load_frozen_base",
]

logger = logging.getLogger(__name__)

#: state-dict prefixes of the two layers in this model (and in its codec spec)
BASE_PREFIX = "base."
ENHANCEMENT_PREFIX = "enhancement."
_EXTRA_STATE = "_extra_state"
_CODEC_INPUT = {"mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0], "scale": 1.0}


def load_frozen_base(path: str) -> tuple[BaseBottleneck, dict[str, Any], dict[str, Any]]:
    """The base layer of a trained ttc detector: ``(module, its kwargs, the codec spec)``.

    Loaded and frozen by :func:`ttc_core.frozen.load_frozen_base` (eval mode, no gradients,
    coder tables built); here only checked to be a Detectron2 base: one that codes RGB [0, 1]
    images directly (a ttc detector's checkpoint, or an enhancement model's, which holds its
    base too). Errors name the config key to fix.
    """
    try:
        loaded = core_load_frozen_base(path)
    except CheckpointError as exc:
        raise TTCConfigError(
            f"cannot load the detection base {path!r} (MODEL.TTC.ENHANCEMENT.BASE_WEIGHTS, or "
            f"MODEL.WEIGHTS when that is empty; a model_best.pth of tools/train_net.py for a ttc "
            f"detector): {exc}"
        ) from exc
    inp = loaded.spec.get("input", {})
    if loaded.downsample is not None or any(inp.get(k) != v for k, v in _CODEC_INPUT.items()):
        raise TTCConfigError(
            f"the base of {path} does not code RGB [0, 1] images at the input size (a learned "
            "downsample or an input normalisation is recorded): it is not a Detectron2 ttc base"
        )
    return loaded.bottleneck, loaded.bottleneck_kwargs, loaded.spec


def is_enhancement_checkpoint(path: str) -> bool:
    """Whether ``path`` is a local checkpoint of a scalable model: its codec spec has an
    enhancement layer (it then holds its base's weights too, under the spec's base prefix).

    URLs, Detectron2 ``catalog://`` names and missing files are not inspected (False): the
    checkpointer reports those when it loads them.
    """
    if not path or "://" in path or not os.path.isfile(path):
        return False
    try:
        spec = find_codec_spec(load_checkpoint(path))
    except CheckpointError as exc:
        raise TTCConfigError(f"MODEL.WEIGHTS = {path!r} cannot be read: {exc}") from exc
    return isinstance(spec, Mapping) and isinstance(spec.get("enhancement"), Mapping)


def base_source(cfg) -> str:
    """The checkpoint the frozen base is built from.

    1. ``MODEL.WEIGHTS`` when it is an enhancement checkpoint (:func:`is_enhancement_checkpoint`):
       the checkpointer restores everything from it, its base included, so that base is the one
       in use; a self-contained checkpoint then needs no other file (e.g. ``--eval-only`` or a
       Standalone / Continued start from it), and ``BASE_WEIGHTS`` is not read.
    2. ``MODEL.TTC.ENHANCEMENT.BASE_WEIGHTS``: the detection base a new enhancement trains on.
    3. ``MODEL.WEIGHTS`` when ``BASE_WEIGHTS`` is empty (e.g. a ttc detector's checkpoint).
    """
    weights = cfg.MODEL.WEIGHTS
    base_weights = cfg.MODEL.TTC.ENHANCEMENT.BASE_WEIGHTS
    if is_enhancement_checkpoint(weights):
        if base_weights and os.path.abspath(base_weights) != os.path.abspath(weights):
            logger.info(
                "MODEL.WEIGHTS %s is an enhancement checkpoint: its own base is used "
                "(MODEL.TTC.ENHANCEMENT.BASE_WEIGHTS %s is not read)",
                weights,
                base_weights,
            )
        return weights
    return base_weights or weights


@META_ARCH_REGISTRY.register()
class TTCReconstructionEnhancement(nn.Module):
    """Reconstruction enhancement layer conditioned on a frozen base (module docstring).

    Args:
        base: the trained base layer (frozen here).
        base_kwargs: its constructor arguments (for the codec spec).
        enhancement_kwargs: constructor arguments of the
            :class:`~ttc_core.enhancement.EnhancementBottleneck` (``standalone`` and
            ``continued`` included).
        alpha: rate weight of ``bpp_e``.
        input_format: channel order of ``batched_inputs[i]["image"]`` (``INPUT.FORMAT``).
        reconstruct_base_at_test: also report the PSNR of the base's own g_a(ŷ_b).
        actual_bits_at_test: code every test image with the real rANS coder (both layers).
        coding_order: ``"wavefront"`` or ``"raster"``.
        test_resize: ``(short, max)`` test-time resize, recorded in the codec spec.
        alphas: rate weights of a variable-rate enhancement (empty: per-α).
        test_rate: its rate position in evaluation (-1: the highest).
        base_rate: the rate position of a variable-rate base (-1: the highest).
        sample_base_rates: draw the base's rate index per training batch instead.
        base_alphas: the base's rate weights (from its codec spec), recorded in this spec.
    """

    @configurable
    def __init__(
        self,
        *,
        base: BaseBottleneck,
        base_kwargs: Mapping[str, Any],
        enhancement_kwargs: Mapping[str, Any],
        alpha: float,
        input_format: str = "BGR",
        reconstruct_base_at_test: bool = True,
        actual_bits_at_test: bool = False,
        coding_order: str = "wavefront",
        test_resize: tuple[int, int] | None = None,
        alphas: Sequence[float] = (),
        test_rate: float = -1.0,
        base_rate: float = -1.0,
        sample_base_rates: bool = False,
        base_alphas: Sequence[float] | None = None,
    ):
        super().__init__()
        if input_format not in ("BGR", "RGB"):
            raise TTCConfigError(f"input_format must be 'BGR' or 'RGB', got {input_format!r}")
        try:
            self.rate_loss = RateLoss(alpha)
            self.variable_rate = VariableRate(alphas) if alphas else None
        except ValueError as exc:
            raise TTCConfigError(str(exc)) from exc
        if base.num_rates == 0 and (base_rate != -1 or sample_base_rates):
            raise TTCConfigError(
                "MODEL.TTC.ENHANCEMENT.BASE_RATE / SAMPLE_BASE_RATES apply to a variable-rate "
                "base; this base was trained for one rate (per-α): leave them at their defaults"
            )
        try:
            #: the base's rate position (None: per-α base); evaluation always uses it
            self.base_rate = rate_position(base_rate, base.num_rates)
            if self.base_rate is not None:
                base.check_rate(self.base_rate)
        except ValueError as exc:
            raise TTCConfigError(f"MODEL.TTC.ENHANCEMENT.BASE_RATE: {exc}") from exc
        self.sample_base_rates = bool(sample_base_rates)
        self.base_alphas = None if base_alphas is None else [float(a) for a in base_alphas]
        self.base_kwargs = dict(base_kwargs)
        self.enhancement_kwargs = dict(enhancement_kwargs)
        if self.enhancement_kwargs.get("side_channels") != base.latent_channels:
            raise TTCConfigError(
                f"the enhancement's side_channels ({self.enhancement_kwargs.get('side_channels')})"
                f" must equal the base latent's channels ({base.latent_channels})"
            )
        self.base = base
        self.base.requires_grad_(False)
        self.base.eval()
        self.enhancement = EnhancementBottleneck(**self.enhancement_kwargs)
        n = self.enhancement.num_rates
        if n != (0 if self.variable_rate is None else self.variable_rate.num_rates):
            raise TTCConfigError(
                f"the enhancement has {n} rate points but ENHANCEMENT.VARIABLE_RATE.ALPHAS "
                f"{list(alphas)} gives {len(alphas)}: build both from one config"
            )
        #: the enhancement's rate position in evaluation (None: per-α)
        self.test_rate = rate_position(test_rate, n)
        # the coder tables depend only on the fixed scale table: build them now, so that every
        # state dict (before or after an evaluation) has the same shapes
        self.enhancement.update(force=True)
        self.input_format = input_format
        self.reconstruct_base_at_test = bool(reconstruct_base_at_test)
        self.actual_bits_at_test = bool(actual_bits_at_test)
        self.coding_order = coding_order
        self.test_resize = (
            None if test_resize is None else (int(test_resize[0]), int(test_resize[1]))
        )
        self.register_load_state_dict_pre_hook(self._check_loaded_state)

    @classmethod
    def from_config(cls, cfg) -> dict[str, Any]:
        validate_ttc_config(cfg)
        t = cfg.MODEL.TTC
        source = base_source(cfg)
        if not source:
            raise TTCConfigError(
                "TTCReconstructionEnhancement needs a trained detection base: set "
                "MODEL.TTC.ENHANCEMENT.BASE_WEIGHTS to its checkpoint (the model_final.pth of "
                "a ttc detector trained with tools/train_net.py)"
            )
        base, base_kwargs, spec = load_frozen_base(source)
        test_resize = (
            (int(cfg.INPUT.MIN_SIZE_TEST), int(cfg.INPUT.MAX_SIZE_TEST))
            if cfg.INPUT.MIN_SIZE_TEST > 0
            else None
        )
        base_resize = spec["input"].get("resize_shortest_edge")
        if (
            base_resize is not None
            and test_resize is not None
            and list(base_resize) != list(test_resize)
        ):
            logger.warning(
                "the base in %s was evaluated at shortest edge %s, this config tests at %s: "
                "bpp and PSNR are not those of the base's operating point",
                source,
                base_resize,
                list(test_resize),
            )
        logger.info("frozen detection base: %s (M = %d)", source, base.latent_channels)
        e = t.ENHANCEMENT
        return {
            "base": base,
            "base_kwargs": base_kwargs,
            "enhancement_kwargs": cfg_enhancement_kwargs(
                cfg, base.latent_channels, base.num_rates, base.stride
            ),
            "alphas": tuple(float(a) for a in e.VARIABLE_RATE.ALPHAS),
            "test_rate": float(e.VARIABLE_RATE.TEST_RATE),
            "base_rate": float(e.BASE_RATE),
            "sample_base_rates": bool(e.SAMPLE_BASE_RATES),
            "base_alphas": spec["base"].get("alphas"),
            "alpha": t.ENHANCEMENT.ALPHA,
            "input_format": cfg.INPUT.FORMAT,
            "reconstruct_base_at_test": t.TEST_RECONSTRUCTION,
            "actual_bits_at_test": t.TEST_ACTUAL_BITS,
            "coding_order": t.CODING_ORDER,
            "test_resize": test_resize,
        }

    # -- state ------------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return next(self.enhancement.parameters()).device

    @property
    def standalone(self) -> bool:
        return self.enhancement.standalone

    @property
    def stage(self) -> str:
        """``"conditional"``, ``"standalone"`` or ``"continued"``."""
        return self.enhancement.stage

    def objective(self) -> dict[str, Any]:
        """The training stage and rate weight in force (written into checkpoints)."""
        objective = {"stage": self.stage, "alpha": float(self.rate_loss.alpha)}
        if self.variable_rate is not None:  # per-α objectives are written as before
            objective.update(alphas=list(self.variable_rate.alphas), test_rate=self.test_rate)
        if self.base_rate is not None:
            objective.update(base_rate=self.base_rate, sample_base_rates=self.sample_base_rates)
        return objective

    def train(self, mode: bool = True) -> TTCReconstructionEnhancement:
        """Train the enhancement; the base stays in eval mode (it is frozen)."""
        super().train(mode)
        self.base.eval()
        return self

    def codec_spec(self) -> dict[str, Any]:
        """The framework-free ``"ttc_codec"`` spec of both layers (for ``ttc compress``)."""
        return make_codec_spec(
            self.base_kwargs,
            BASE_PREFIX,
            channel_order="RGB",
            resize_shortest_edge=self.test_resize,
            enhancement={
                "kwargs": self.enhancement_kwargs,
                "prefix": ENHANCEMENT_PREFIX,
                "downsample": None,
                "output": "image",
                "alphas": None if self.variable_rate is None else self.variable_rate.alphas,
            },
            base_alphas=self.base_alphas,
            **_CODEC_INPUT,
        )

    def get_extra_state(self) -> Tensor:
        # the spec travels with the weights (``_extra_state``), whatever checkpointer saves them
        return spec_to_tensor(self.codec_spec())

    def set_extra_state(self, state: Any) -> None:
        # the spec describes the module as built; a loaded one is informational only
        pass

    def _check_loaded_state(self, module, state_dict, prefix, *args) -> None:
        """Load-time hook (``register_load_state_dict_pre_hook``); it renames no key.

        The layout loaded is this module's own (``base.*``, ``enhancement.*``,
        ``_extra_state``), as every checkpoint of this model is written. Two checks only:

        - a state dict without the codec spec (``_extra_state``; e.g. one whose spec a
          checkpointer dropped, see ``TTCCheckpointer._load_model``) gets the module's own, so
          that loading does not report it missing (the spec describes the module as built);
        - a warning when the loaded ``base.*`` differs from the base the model was built with
          (the loaded one is then used, frozen).
        """
        state_dict.setdefault(prefix + _EXTRA_STATE, self.get_extra_state())
        own = self.base.state_dict()
        differs = [
            key
            for key, value in own.items()
            if prefix + BASE_PREFIX + key in state_dict
            and not (
                state_dict[prefix + BASE_PREFIX + key].shape == value.shape
                and torch.equal(state_dict[prefix + BASE_PREFIX + key].to(value.device), value)
            )
        ]
        if differs:
            logger.warning(
                "the loaded weights hold a different base layer than the one the model was "
                "built with (%d tensors differ, e.g. %s): the loaded base is used, frozen",
                len(differs),
                differs[0],
            )

    # -- the model ----------------------------------------------------------------------------
    def images(self, batched_inputs: Sequence[Mapping[str, Any]]) -> list[Tensor]:
        """RGB images in [0, 1], ``(3, H, W)`` each, from Detectron2's inputs (0–255)."""
        out = []
        for inp in batched_inputs:
            x = inp["image"].to(self.device, non_blocking=True).float() / 255.0
            out.append(x.flip(0) if self.input_format == "BGR" else x)
        return out

    def draw_rates(self) -> tuple[float | None, float | None, float | None]:
        """``(α, rate, base_rate)`` of one training batch: a drawn rate index of a
        variable-rate enhancement with its α (else ``None`` and the configured α), and the
        base's rate position (drawn with ``SAMPLE_BASE_RATES``)."""
        base_rate = self.base_rate
        if self.sample_base_rates:
            base_rate = float(torch.randint(self.base.num_rates, (1,)).item())
        if self.variable_rate is None:
            return None, None, base_rate
        index = self.variable_rate.sample()
        return self.variable_rate.alpha(index), float(index), base_rate

    def _code(
        self,
        x: Tensor,
        reconstruct_base: bool,
        rate: float | None = None,
        base_rate: float | None = None,
    ) -> dict[str, Tensor]:
        """Both layers of a batch of same-sized images ``(N, 3, H, W)``
        (:func:`ttc_core.scalable.scalable_forward`: the base frozen, without gradient), at
        the rate positions of variable-rate layers."""
        # the codec runs in float32 also under mixed precision (see TTCBackbone)
        with torch.autocast(device_type=x.device.type, enabled=False):
            both = scalable_forward(self.base, self.enhancement, x, rate=rate, base_rate=base_rate)
            psnr_direct = None
            if reconstruct_base:
                with torch.no_grad():
                    recon_b = self.base.decode(both.y_base, tuple(x.shape[-2:]), rate=base_rate)[1]
                    psnr_direct = psnr(recon_b, x)
        out = both.enhancement
        return {
            "y_base": both.y_base,
            "bits_base": both.bits_base,
            "y_enhancement": out.y_hat,
            "bits_enhancement": out.bits,
            "output": out.output,
            "rmse": reconstruction_rmse(out.output, x),
            "psnr_scalable": psnr(out.output.detach(), x),
            "psnr_direct": psnr_direct,
        }

    def forward(self, batched_inputs: Sequence[Mapping[str, Any]]):
        if not self.training:
            return self.inference(batched_inputs)
        images = self.images(batched_inputs)
        sizes = [tuple(x.shape[-2:]) for x in images]
        n = len(images)
        # variable rate: one draw per batch, its α weighs this batch's rate
        alpha, rate_index, base_rate = self.draw_rates()
        # batch means (each image weighs the same, whatever its size)
        rmse = bpp_b = bpp_e = psnr_mean = 0.0
        for (h, w), idx in group_by_size(sizes).items():
            r = self._code(
                torch.stack([images[i] for i in idx]),
                reconstruct_base=False,
                rate=rate_index,
                base_rate=base_rate,
            )
            pixels = float(h * w)
            rmse = rmse + r["rmse"].sum() / n
            bpp_e = bpp_e + (r["bits_enhancement"] / pixels).sum() / n
            bpp_b = bpp_b + (r["bits_base"] / pixels).sum() / n
            psnr_mean = psnr_mean + r["psnr_scalable"].sum() / n
        rate = self.rate_loss(bpp_e.reshape(1), alpha)
        losses = {"loss_rate": rate["loss_rate"]}
        if not self.enhancement.entropy_model_only:
            # Standalone / Continued: f_e and g_e are frozen, the rate is all that can change
            losses["loss_recon"] = rmse
        bpp_e_value = rate["bpp_estimated"].item()
        get_event_storage().put_scalars(
            **{
                # training-time rates are likelihood estimates; the total is base + enhancement
                "enhancement/bpp_enhancement_estimated": bpp_e_value,
                "enhancement/bpp_base_estimated": float(bpp_b),
                "enhancement/bpp_estimated": bpp_e_value + float(bpp_b),
                "enhancement/psnr_scalable": float(psnr_mean),
                "enhancement/rmse": float(rmse.detach()),
                **({} if rate_index is None else {"enhancement/rate_index": rate_index}),
            }
        )
        return losses

    @torch.no_grad()
    def inference(self, batched_inputs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Per image: ``{"reconstruction": (3, H, W) in [0, 1], "ttc": {...}}`` (the module
        docstring lists the ``"ttc"`` keys)."""
        images = self.images(batched_inputs)
        sizes = [tuple(x.shape[-2:]) for x in images]
        results: list[dict[str, Any]] = [{} for _ in images]
        for (h, w), idx in group_by_size(sizes).items():
            x = torch.stack([images[i] for i in idx])
            r = self._code(
                x,
                reconstruct_base=self.reconstruct_base_at_test,
                rate=self.test_rate,
                base_rate=self.base_rate,
            )
            pixels = h * w
            for k, i in enumerate(idx):
                bits_b, bits_e = float(r["bits_base"][k]), float(r["bits_enhancement"][k])
                info = {
                    "num_pixels": int(pixels),
                    **scalable_rates(bits_b, bits_e, pixels, estimated=True),
                    "psnr_scalable": float(r["psnr_scalable"][k]),
                }
                if r["psnr_direct"] is not None:
                    info["psnr_direct"] = float(r["psnr_direct"][k])
                if self.test_rate is not None:
                    info["rate"] = self.test_rate
                if self.base_rate is not None:
                    info["base_rate"] = self.base_rate
                if self.actual_bits_at_test:  # real rANS bitstreams: the actual rate
                    info.update(
                        scalable_rates(*self.coded_bits(x[k : k + 1]), pixels, estimated=False)
                    )
                results[i] = {"reconstruction": r["output"][k].clamp(0, 1), "ttc": info}
        return results

    @torch.no_grad()
    def coded_bits(self, x: Tensor) -> tuple[float, float]:
        """Bits (8 · bytes) of the real rANS streams of one image ``(1, 3, H, W)``:
        ``(base, enhancement)`` (:func:`ttc_core.scalable.scalable_actual_bits`: the
        enhancement coded given the ŷ_b the base coded)."""
        bits_b, bits_e = scalable_actual_bits(
            self.base,
            self.enhancement,
            x,
            order=self.coding_order,
            rate=self.test_rate,
            base_rate=self.base_rate,
        )
        return float(bits_b[0]), float(bits_e[0])
