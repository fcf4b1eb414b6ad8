"""Evaluation of ttc models: one evaluation gives one RD point.

- :class:`DisparityRMSEMetric`: the paper's disparity RMSE on valid pixels, plus the
  δ < 1.25ⁿ accuracies (``delta1..3``) of mmseg's ``DepthMetric``.
- :class:`RateMetric`: the mean bits per pixel, in ttc's rate vocabulary: ``bpp`` is the rate
  of **real rANS bitstreams** and is present only when the segmentor coded them
  (``test_cfg.actual_bits=True``); ``bpp_estimated`` is the likelihood estimate. For the
  scalable (enhancement) models the totals are base + enhancement, with ``bpp_base`` /
  ``bpp_enhancement`` (and their ``_estimated``). ``psnr_direct`` is the PSNR of the direct
  reconstruction ``g_a(ŷ_b)``, ``psnr_scalable`` that of the enhancement layer's
  reconstruction. mmseg's ``IoUMetric`` gives the segmentation enhancement's mIoU.

In the shipped configs the periodic evaluations run on the selection split with
``prefix='selection'`` (``selection/rmse``, ``selection/bpp_estimated``, ...); the reported
split's evaluation has no prefix (see :mod:`ttc_mmseg.selection`).

**Units.** The model predicts the paper's target ``t = (p − 1)/32768 = d/128`` (``d`` = disparity
in pixels of the 2048-wide frame). ``rmse = scale · sqrt(Σ(t̂ − t)² / n)`` over the valid pixels
with ``scale = 128`` is therefore the disparity RMSE **in pixels** (not half-resolution
pixels): the same quantity as the training loss ``128 · sqrt(masked MSE)`` and as the paper's
curves (≈ 6 px). ``rmse`` pools all valid pixels of the evaluated set (each pixel weighs the
same); ``rmse_image`` is the mean of per-image RMSEs. With metric depth targets use
``scale=1`` (metres). The δ accuracies use the ratio ``max(t̂/t, t/t̂)``, which is the same for
disparity and for depth (depth ∝ 1/disparity); non-positive predictions count as misses.

mmseg's own ``DepthMetric`` can be added next to these (for the ``depth`` target, with a
``prefix`` to keep its ``rmse`` apart); note that it keeps every valid pixel of every image in
memory until the end of the evaluation, which these metrics do not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from mmseg.registry import METRICS

__all__ = ["DisparityRMSEMetric", "RateMetric"]


def _table(title: str, values: dict[str, float]) -> str:
    keys = list(values)
    width = [max(len(k), 10) for k in keys]
    head = " | ".join(k.rjust(w) for k, w in zip(keys, width, strict=True))
    row = " | ".join(
        (f"{values[k]:.5g}" if isinstance(values[k], float) else str(values[k])).rjust(w)
        for k, w in zip(keys, width, strict=True)
    )
    return f"{title}\n{head}\n{row}"


@METRICS.register_module()
class DisparityRMSEMetric(BaseMetric):
    """Disparity (or depth) RMSE over valid pixels, and δ accuracies.

    Args:
        scale: multiplies errors (128: the paper's target → disparity pixels; 1: metres).
        unit: label of the RMSE's unit, for the log.
        invalid_value: ground-truth value of invalid pixels (0, as the loading transform).
        min_value / max_value: evaluate only ground truth in ``(min_value, max_value)``
            (target units), besides the validity mask.
        collect_device / prefix / collect_dir: as mmengine's ``BaseMetric``. No other
            keyword is accepted: a misspelled option is an error, not silently ignored.
    """

    default_prefix = None

    def __init__(
        self,
        scale: float = 128.0,
        unit: str = "px",
        invalid_value: float = 0.0,
        min_value: float | None = None,
        max_value: float | None = None,
        collect_device: str = "cpu",
        prefix: str | None = None,
        collect_dir: str | None = None,
    ):
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        self.scale = float(scale)
        self.unit = unit
        self.invalid_value = float(invalid_value)
        self.min_value = min_value
        self.max_value = max_value

    def _mask(self, gt: torch.Tensor) -> torch.Tensor:
        mask = (gt != self.invalid_value) & torch.isfinite(gt)
        if self.min_value is not None:
            mask &= gt > self.min_value
        if self.max_value is not None:
            mask &= gt < self.max_value
        return mask

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            pred = sample["pred_depth_map"]["data"].squeeze().double()
            gt = sample["gt_depth_map"]["data"].squeeze().to(pred)
            if pred.shape != gt.shape:
                raise ValueError(
                    f"prediction {tuple(pred.shape)} and ground truth {tuple(gt.shape)} differ "
                    f"for {sample.get('img_path', '?')}"
                )
            mask = self._mask(gt)
            n = int(mask.sum())
            p, t = pred[mask], gt[mask]
            sq = float(((p - t) ** 2).sum()) if n else 0.0
            ratio = torch.where(
                p > 0, torch.maximum(p / t, t / p.clamp_min(1e-30)), torch.full_like(p, math.inf)
            )
            deltas = [int((ratio < 1.25**k).sum()) for k in (1, 2, 3)]
            self.results.append(dict(sq=sq, n=n, deltas=deltas))

    def compute_metrics(self, results: list) -> dict[str, float]:
        logger: MMLogger = MMLogger.get_current_instance()
        counted = [r for r in results if r["n"] > 0]
        if not counted:
            raise ValueError(
                "DisparityRMSEMetric: no valid ground-truth pixel in the evaluated images "
                "(all disparities are 0 = invalid)"
            )
        n = sum(r["n"] for r in counted)
        sq = sum(r["sq"] for r in counted)
        metrics = {
            "rmse": self.scale * math.sqrt(sq / n),
            "rmse_image": sum(self.scale * math.sqrt(r["sq"] / r["n"]) for r in counted)
            / len(counted),
        }
        for k in range(3):
            metrics[f"delta{k + 1}"] = sum(r["deltas"][k] for r in counted) / n
        print_log(
            "\n"
            + _table(
                f"disparity RMSE [{self.unit}] over {n} valid pixels of {len(counted)} images:",
                metrics,
            ),
            logger=logger,
        )
        return metrics


#: per-image key on the predictions (= the metric's key) → label in the log
RATE_KEYS = {
    "bpp": "bpp (actual)",
    "bpp_estimated": "bpp (estimated)",
    "bpp_base": "base bpp (actual)",
    "bpp_base_estimated": "base bpp (estimated)",
    "bpp_enhancement": "enhancement bpp (actual)",
    "bpp_enhancement_estimated": "enhancement bpp (estimated)",
    "psnr_direct": "direct reconstruction PSNR [dB]",
    "psnr_scalable": "scalable reconstruction PSNR [dB]",
}


@METRICS.register_module()
class RateMetric(BaseMetric):
    """Mean bits per pixel (and the reconstruction PSNR) of a ttc model.

    Reads what the ttc segmentors put into each prediction and averages it over the frames,
    under the same names:

    - base layer (``TTCDepthEstimator``): ``bpp_estimated``, ``psnr_direct`` (PSNR of the
      direct reconstruction ``g_a(ŷ_b)``) and, only with the segmentor's
      ``test_cfg.actual_bits=True``, ``bpp`` (real bitstreams);
    - scalable models (``TTCEnhancementSegmentor``, ``TTCReconstructionEnhancement``):
      ``bpp_estimated`` = base + enhancement, ``bpp_base_estimated``,
      ``bpp_enhancement_estimated``, with real bits ``bpp``, ``bpp_base``, ``bpp_enhancement``;
      for the reconstruction enhancement ``psnr_scalable``, the PSNR of ``g_e(ŷ_e)``.

    No result is called ``bpp`` unless real bits were coded for every frame.

    PSNRs are means of per-image values in dB on [0, 1] RGB at the coded (half) resolution.
    The denominator of the bpp is stated in the log: the frame's pixels for depth and
    segmentation, the coded pixels for the Cityscapes reconstruction enhancement.

    Args:
        collect_device / prefix / collect_dir: as mmengine's ``BaseMetric``. No other
            keyword is accepted: a misspelled option is an error, not silently ignored.
    """

    default_prefix = None

    def __init__(
        self,
        collect_device: str = "cpu",
        prefix: str | None = None,
        collect_dir: str | None = None,
    ):
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            if "bpp_estimated" not in sample:
                raise KeyError(
                    "RateMetric: the predictions carry no 'bpp_estimated'; evaluate a ttc "
                    "segmentor "
                    "(model.type='TTCDepthEstimator', 'TTCEnhancementSegmentor' or "
                    "'TTCReconstructionEnhancement') or drop RateMetric from the evaluator"
                )
            record = {key: float(sample[key]) for key in RATE_KEYS if key in sample}
            if "bpp_pixels" in sample:
                h, w = sample["bpp_shape"]
                record["pixels"] = f"{sample['bpp_pixels']} pixels, {h}×{w}"
            self.results.append(record)

    def compute_metrics(self, results: list) -> dict[str, float]:
        logger: MMLogger = MMLogger.get_current_instance()
        metrics: dict[str, float] = {}
        for key in RATE_KEYS:
            values = [r[key] for r in results if key in r]
            if not values:
                continue
            if len(values) != len(results):
                # a mean over some frames only would not be the rate of the evaluated set
                raise ValueError(f"RateMetric: {len(values)} of {len(results)} frames have {key!r}")
            metrics[key] = sum(values) / len(values)
        pixels = sorted({r["pixels"] for r in results if "pixels" in r})
        denominator = "; ".join(pixels) if pixels else "frame pixels"
        print_log(
            "\n"
            + _table(
                f"rate over {len(results)} frames (bits / {denominator}):",
                {RATE_KEYS[k]: v for k, v in metrics.items()},
            ),
            logger=logger,
        )
        return metrics
