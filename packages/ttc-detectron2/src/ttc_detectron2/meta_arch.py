"""Faster R-CNN on the pseudo-image, with the rate and the reconstruction reward as losses.

:class:`TTCGeneralizedRCNN` is Detectron2's ``GeneralizedRCNN`` with a
:class:`~ttc_detectron2.backbone.TTCBackbone`. In training its loss dict is the detector's plus

- ``loss_rate``  = α · mean estimated bpp of the batch, and
- ``loss_recon`` = β · rec (``"proposed"``) or the probe's loss on a detached ŷ_b
  (``"baseline"``), with rec = 255·RMSE of g_a(ŷ_b) per image (METHOD §2).

Detectron2 sums every value of the loss dict, so only losses go there; the estimated bpp and
the PSNR / RMSE of the direct reconstruction are logged through the event storage
(``bottleneck/bpp_estimated``, ``bottleneck/recon_psnr``, ``bottleneck/recon_rmse`` in
``metrics.json``; evaluation results are under ``ttc/``).

At inference each output dict gets ``"bpp"`` (the estimate) and ``"ttc"``: a dict of
``bits``, ``bpp`` (estimates), ``num_pixels`` (H·W of the coded, resized image), and when
computed ``recon_psnr`` and ``actual_bits`` / ``actual_bpp`` (real rANS stream), which
:class:`~ttc_detectron2.evaluation.TTCRateEvaluator` averages.
"""

from __future__ import annotations

from detectron2.config import configurable
from detectron2.modeling import META_ARCH_REGISTRY, GeneralizedRCNN
from detectron2.utils.events import get_event_storage
from torch import Tensor

from ttc_core.losses import RateLoss, ReconstructionReward

from .backbone import TTCBackbone, TTCTerms
from .config import validate_ttc_config
from .errors import TTCConfigError

__all__ = ["TTCGeneralizedRCNN"]


@META_ARCH_REGISTRY.register()
class TTCGeneralizedRCNN(GeneralizedRCNN):
    """``GeneralizedRCNN`` + the base layer's rate and reconstruction losses.

    Args (besides ``GeneralizedRCNN``'s):
        alpha: rate weight α.
        beta: reconstruction reward β (``"proposed"`` mode).
        mode: ``"proposed"`` or ``"baseline"`` (see :class:`ttc_core.losses.ReconstructionReward`).
        probe_weight: weight of the reconstruction probe in ``"baseline"`` mode.
    """

    @configurable
    def __init__(
        self,
        *,
        alpha: float,
        beta: float = 0.1,
        mode: str = "proposed",
        probe_weight: float = 1.0,
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
            self.reward = ReconstructionReward(beta, mode, probe_weight)
        except ValueError as exc:
            raise TTCConfigError(str(exc)) from exc
        # the mode decides where ŷ_b enters g_a: one source of truth, here
        self.backbone.detach_reconstruction = self.reward.detach_latent

    @classmethod
    def from_config(cls, cfg):
        validate_ttc_config(cfg)
        ret = super().from_config(cfg)
        t = cfg.MODEL.TTC
        ret.update(alpha=t.ALPHA, beta=t.BETA, mode=t.MODE, probe_weight=t.PROBE_WEIGHT)
        return ret

    def preprocess_image(self, batched_inputs):
        images = super().preprocess_image(batched_inputs)
        # the backbone codes each image at its own size, not the padded batch
        self.backbone.set_image_sizes(images.image_sizes)
        return images

    def _take_terms(self) -> TTCTerms:
        terms, self.backbone.terms = self.backbone.terms, None
        if terms is None:
            raise RuntimeError("the ttc backbone did not run in this forward pass")
        return terms

    def ttc_losses(self, terms: TTCTerms) -> dict[str, Tensor]:
        """``loss_rate`` and ``loss_recon`` of a batch, plus logging-only values."""
        out = {}
        rate = self.rate_loss(terms.bpp)
        out["loss_rate"], out["bpp"] = rate["loss_rate"], rate["bpp"]
        if terms.reconstructions:
            n = float(len(terms.bpp))
            loss = rmse = 0.0
            for recon, target, idx in terms.reconstructions:
                r = self.reward(recon, target)
                loss = loss + r["loss_recon"] * (len(idx) / n)
                rmse = rmse + r["recon_rmse"] * (len(idx) / n)
            out["loss_recon"], out["recon_rmse"] = loss, rmse
        return out

    def forward(self, batched_inputs):
        if not self.training:
            return self.inference(batched_inputs)
        losses = super().forward(batched_inputs)
        terms = self._take_terms()
        ttc = self.ttc_losses(terms)
        losses["loss_rate"] = ttc["loss_rate"]
        losses["loss_recon"] = ttc["loss_recon"]
        scalars = {
            "bottleneck/bpp_estimated": ttc["bpp"].item(),
            "bottleneck/recon_rmse": ttc["recon_rmse"].item(),
        }
        if terms.recon_psnr is not None:
            scalars["bottleneck/recon_psnr"] = terms.recon_psnr.mean().item()
        get_event_storage().put_scalars(**scalars)
        return losses

    def inference(self, batched_inputs, detected_instances=None, do_postprocess=True):
        results = super().inference(batched_inputs, detected_instances, do_postprocess)
        if not do_postprocess:
            return results  # raw Instances; the terms stay in self.backbone.terms
        terms = self._take_terms()
        for i, result in enumerate(results):
            h, w = terms.image_sizes[i]
            info = {
                "bits": float(terms.bits[i]),
                "bpp": float(terms.bpp[i]),
                "num_pixels": int(h * w),
            }
            if terms.recon_psnr is not None:
                info["recon_psnr"] = float(terms.recon_psnr[i])
            if terms.actual_bits is not None:
                info["actual_bits"] = float(terms.actual_bits[i])
                info["actual_bpp"] = info["actual_bits"] / (h * w)
            result["bpp"] = info["bpp"]
            result["ttc"] = info
        return results
