"""Faster R-CNN on the pseudo-image, with the rate and the reconstruction losses of ttc.

:class:`TTCGeneralizedRCNN` is Detectron2's ``GeneralizedRCNN`` with a
:class:`~ttc_detectron2.backbone.TTCBackbone`. In training its loss dict is the detector's plus

- ``loss_rate``  = α · mean estimated bpp of the batch, and
- ``loss_recon`` = β · rec (``"proposed"``) or the probe's loss on a detached ŷ_b
  (``"baseline"``, where β = 0), with rec = 255·RMSE of g_a(ŷ_b) per image (METHOD §2).

Detectron2 sums every value of the loss dict, so only losses go there; the estimated bpp and
the PSNR / RMSE of the direct reconstruction are logged through the event storage
(``bottleneck/bpp_estimated``, ``bottleneck/psnr_direct``, ``bottleneck/recon_rmse`` in
``metrics.json``; evaluation results are under ``ttc/``). The β in force is logged when the
model is built (and written into checkpoints, ``"ttc_objective"``).

At inference each output dict gets ``"ttc"``: a dict in ttc's rate vocabulary of
``bits_estimated``, ``bpp_estimated`` (likelihood estimates), ``num_pixels`` (H·W of the
coded, resized image), when computed ``psnr_direct`` (of g_a(ŷ_b)), and with real rANS
bitstreams (``MODEL.TTC.TEST_ACTUAL_BITS``) ``bits`` / ``bpp``, the actual rate. No key
named ``bpp`` ever holds an estimate. :class:`~ttc_detectron2.evaluation.TTCRateEvaluator`
averages them.

**Variable rate** (``MODEL.TTC.VARIABLE_RATE.ALPHAS``; gain units, Cui et al., CVPR 2021,
:mod:`ttc_core.variable_rate`): each training batch draws a rate index i (torch's seeded RNG),
codes at it and weighs its rate by α_i (``loss_rate`` = α_i · bpp; logged as
``bottleneck/rate_index``); inference codes at ``VARIABLE_RATE.TEST_RATE`` and every ``"ttc"``
dict carries ``rate``.

**The codec's terms travel as values, not as state.** ``forward`` and ``inference`` follow
``GeneralizedRCNN.forward`` / ``GeneralizedRCNN.inference`` step by step; the one difference is
the backbone call: :meth:`TTCBackbone.forward_with_terms
<ttc_detectron2.backbone.TTCBackbone.forward_with_terms>` returns the features *and* the
batch's :class:`~ttc_detectron2.backbone.CodecTerms`, which are used in the same call and then
dropped. Nothing is left on any module between calls, so test-time augmentation
(``GeneralizedRCNNWithTTA`` calls ``inference(..., do_postprocess=False)``) and reentrant use
are safe.
"""

from __future__ import annotations

import logging
from typing import Any

from detectron2.config import configurable
from detectron2.modeling import META_ARCH_REGISTRY, GeneralizedRCNN
from detectron2.structures import ImageList
from detectron2.utils.events import get_event_storage
from torch import Tensor

from ttc_core.losses import RateLoss, ReconstructionLoss
from ttc_core.variable_rate import VariableRate

from .backbone import CodecTerms, TTCBackbone
from .config import rate_position, validate_ttc_config
from .errors import TTCConfigError

__all__ = ["TTCGeneralizedRCNN"]

logger = logging.getLogger(__name__)


@META_ARCH_REGISTRY.register()
class TTCGeneralizedRCNN(GeneralizedRCNN):
    """``GeneralizedRCNN`` + the base layer's rate and reconstruction losses.

    Args (besides ``GeneralizedRCNN``'s):
        alpha: rate weight α.
        beta: reconstruction weight β (``"proposed"`` mode).
        mode: ``"proposed"`` or ``"baseline"`` (see :class:`ttc_core.losses.ReconstructionLoss`).
        probe_weight: weight of the reconstruction probe in ``"baseline"`` mode.
        alphas: rate weights of a variable-rate model (strictly decreasing; empty: per-α).
        test_rate: the rate position inference codes at (-1: the highest).
    """

    @configurable
    def __init__(
        self,
        *,
        alpha: float,
        beta: float = 0.1,
        mode: str = "proposed",
        probe_weight: float = 1.0,
        alphas: tuple[float, ...] = (),
        test_rate: float = -1.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(self.backbone, TTCBackbone):
            raise TTCConfigError(
                "TTCGeneralizedRCNN needs the ttc backbone: set MODEL.BACKBONE.NAME to "
                f"'build_ttc_backbone' (got a {type(self.backbone).__name__})"
            )
        try:
            self.rate_loss = RateLoss(alpha)
            self.recon_loss = ReconstructionLoss(beta, mode, probe_weight)
            self.variable_rate = VariableRate(alphas) if alphas else None
        except ValueError as exc:
            raise TTCConfigError(str(exc)) from exc
        if self.recon_loss.weight == 0:
            # g_a has no loss to learn from (a Baseline without probe, β = 0): it is not run in
            # training, so frozen (DDP would otherwise wait for gradients that never come)
            self.backbone.bottleneck.reconstruction_synthesis.requires_grad_(False)
        n = self.backbone.bottleneck.num_rates
        if n != (0 if self.variable_rate is None else self.variable_rate.num_rates):
            raise TTCConfigError(
                f"the bottleneck has {n} rate points but MODEL.TTC.VARIABLE_RATE.ALPHAS "
                f"{list(alphas)} gives {len(alphas)}: build both from one config"
            )
        #: the rate position inference codes at (None: per-α)
        self.test_rate = rate_position(test_rate, n)
        # the mode decides where ŷ_b enters g_a: self.recon_loss is the one source of truth,
        # passed to the backbone with every batch (_features_and_terms)
        logger.info("ttc objective in force: %s", self.objective())

    def objective(self) -> dict[str, Any]:
        """The loss weights in force: ``mode``, ``alpha``, ``beta`` (0 in the Baseline),
        ``probe_weight`` (the Baseline's probe g_a only). Written into checkpoints."""
        objective = {
            "mode": self.recon_loss.mode,
            "alpha": float(self.rate_loss.alpha),
            "beta": float(self.recon_loss.beta),
            "probe_weight": float(self.recon_loss.probe_weight)
            if self.recon_loss.detach_reconstruction
            else 0.0,
        }
        if self.variable_rate is not None:  # per-α objectives are written as before
            objective["alphas"] = list(self.variable_rate.alphas)
            objective["test_rate"] = self.test_rate
        return objective

    @classmethod
    def from_config(cls, cfg):
        validate_ttc_config(cfg)
        ret = super().from_config(cfg)
        t = cfg.MODEL.TTC
        ret.update(alpha=t.ALPHA, beta=t.BETA, mode=t.MODE, probe_weight=t.PROBE_WEIGHT)
        ret.update(
            alphas=tuple(float(a) for a in t.VARIABLE_RATE.ALPHAS),
            test_rate=float(t.VARIABLE_RATE.TEST_RATE),
        )
        return ret

    def _features_and_terms(
        self, images: ImageList, *, measure: bool = True, rate: float | None = None
    ) -> tuple[dict[str, Tensor], CodecTerms]:
        """The backbone on a preprocessed batch: each image coded at its own unpadded size."""
        return self.backbone.forward_with_terms(
            images.tensor,
            images.image_sizes,
            detach_reconstruction=self.recon_loss.detach_reconstruction,
            measure=measure,
            rate=rate,
            # a loss of weight 0 (Baseline without probe, β = 0) is not worth computing
            train_reconstruction=self.recon_loss.weight > 0,
        )

    def draw_rate(self) -> tuple[int | None, float | None]:
        """``(rate index, its α)`` for one training batch; ``(None, None)`` for per-α."""
        if self.variable_rate is None:
            return None, None
        index = self.variable_rate.sample()
        return index, self.variable_rate.alpha(index)

    def ttc_losses(self, terms: CodecTerms, alpha: float | None = None) -> dict[str, Tensor]:
        """``loss_rate`` and ``loss_recon`` of a batch, plus logging-only values; ``alpha``:
        the rate weight of this batch (variable rate: the α of its drawn index)."""
        out = {}
        rate = self.rate_loss(terms.bpp_estimated, alpha)
        out["loss_rate"], out["bpp_estimated"] = rate["loss_rate"], rate["bpp_estimated"]
        if terms.reconstructions:
            n = float(len(terms.bpp_estimated))
            loss = rmse = 0.0
            for recon, target, idx in terms.reconstructions:
                r = self.recon_loss(recon, target)
                loss = loss + r["loss_recon"] * (len(idx) / n)
                rmse = rmse + r["recon_rmse"] * (len(idx) / n)
            out["loss_recon"], out["recon_rmse"] = loss, rmse
        else:  # g_a not run (its loss weight is 0): the same loss keys, no reconstruction
            out["loss_recon"] = terms.bits_estimated.new_zeros(())
        return out

    def forward(self, batched_inputs):
        """Training: the detector's losses + ``loss_rate`` and ``loss_recon`` (as
        ``GeneralizedRCNN.forward``, with the backbone's terms returned, not stored)."""
        if not self.training:
            return self.inference(batched_inputs)
        images = self.preprocess_image(batched_inputs)
        if "instances" in batched_inputs[0]:
            gt_instances = [x["instances"].to(self.device) for x in batched_inputs]
        else:
            gt_instances = None
        # variable rate: one rate index per batch; its α weighs this batch's rate
        index, alpha = self.draw_rate()
        features, terms = self._features_and_terms(images, rate=index)

        if self.proposal_generator is not None:
            proposals, proposal_losses = self.proposal_generator(images, features, gt_instances)
        else:
            proposals = [x["proposals"].to(self.device) for x in batched_inputs]
            proposal_losses = {}
        _, detector_losses = self.roi_heads(images, features, proposals, gt_instances)
        if self.vis_period > 0:
            storage = get_event_storage()
            if storage.iter % self.vis_period == 0:
                self.visualize_training(batched_inputs, proposals)
        losses = {**detector_losses, **proposal_losses}

        ttc = self.ttc_losses(terms, alpha)
        losses["loss_rate"] = ttc["loss_rate"]
        losses["loss_recon"] = ttc["loss_recon"]
        scalars = {"bottleneck/bpp_estimated": ttc["bpp_estimated"].item()}
        if "recon_rmse" in ttc:
            scalars["bottleneck/recon_rmse"] = ttc["recon_rmse"].item()
        if terms.psnr_direct is not None:
            scalars["bottleneck/psnr_direct"] = terms.psnr_direct.mean().item()
        if index is not None:
            scalars["bottleneck/rate_index"] = float(index)
        get_event_storage().put_scalars(**scalars)
        return losses

    def inference(self, batched_inputs, detected_instances=None, do_postprocess=True):
        """``GeneralizedRCNN.inference``, each output dict with ``"ttc"`` (module docstring).

        With ``do_postprocess=False`` (e.g. test-time augmentation) the raw ``Instances`` are
        returned, as Detectron2 does; they have no place for the codec's terms, so neither
        g_a's PSNR nor real bitstreams are computed for them.
        """
        assert not self.training
        images = self.preprocess_image(batched_inputs)
        features, terms = self._features_and_terms(
            images, measure=do_postprocess, rate=self.test_rate
        )
        if detected_instances is None:
            if self.proposal_generator is not None:
                proposals, _ = self.proposal_generator(images, features, None)
            else:
                proposals = [x["proposals"].to(self.device) for x in batched_inputs]
            results, _ = self.roi_heads(images, features, proposals, None)
        else:
            detected_instances = [x.to(self.device) for x in detected_instances]
            results = self.roi_heads.forward_with_given_boxes(features, detected_instances)
        if not do_postprocess:
            return results

        results = GeneralizedRCNN._postprocess(results, batched_inputs, images.image_sizes)
        for i, result in enumerate(results):
            h, w = terms.image_sizes[i]
            info = {
                "bits_estimated": float(terms.bits_estimated[i]),
                "bpp_estimated": float(terms.bpp_estimated[i]),
                "num_pixels": int(h * w),
            }
            if terms.psnr_direct is not None:
                info["psnr_direct"] = float(terms.psnr_direct[i])
            if terms.bits is not None:  # real rANS bitstreams: the actual rate
                info["bits"] = float(terms.bits[i])
                info["bpp"] = info["bits"] / (h * w)
            if terms.rate is not None:
                info["rate"] = terms.rate
            result["ttc"] = info
        return results
