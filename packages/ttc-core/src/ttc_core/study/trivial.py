"""Trivial predictors: what a model must clearly beat before its RD curve means anything.

A task network that has learned nothing still produces a number: an RMSE, an mIoU, a PSNR.
Each function here computes, from the dataset files alone, the score of the predictor that
needs no model at all, with the same definition as the metric it stands beside:

==================  ====================================  ===================================
task                trivial predictor                     computed like
==================  ====================================  ===================================
disparity           the mean training disparity           ``DisparityRMSEMetric.rmse``: RMSE
                                                          in disparity pixels, pooled over the
                                                          valid pixels of the reported split
segmentation        the majority training class           mmseg ``IoUMetric``: per-class IoU
                    everywhere                            over the split, NaN classes dropped
reconstruction      the mean training colour              PSNR on [0, 1] RGB, mean over images
detection           no detections                         box AP = 0 by definition
==================  ====================================  ===================================
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = [
    "majority_class_miou",
    "mean_colour_psnr",
    "mean_disparity_rmse",
    "no_detection_ap",
]

_IGNORE = 255


def _files(root: Path, pattern: str) -> list[Path]:
    files = sorted(root.glob(pattern))
    if not files:
        raise FileNotFoundError(f"no files match {root / pattern}")
    return files


def _disparity(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Disparity in pixels and its validity mask from a Cityscapes 16-bit PNG."""
    p = np.asarray(Image.open(path), dtype=np.float64)
    return (p - 1.0) / 256.0, p > 0


def mean_disparity_rmse(root: str | Path, train: str = "train", report: str = "val") -> float:
    """RMSE (disparity pixels) of predicting the mean training disparity on ``report``."""
    root = Path(root)
    total = count = 0.0
    for path in _files(root / "disparity" / train, "*/*_disparity.png"):
        d, valid = _disparity(path)
        total += float(d[valid].sum())
        count += float(valid.sum())
    mean = total / count
    sq = n = 0.0
    for path in _files(root / "disparity" / report, "*/*_disparity.png"):
        d, valid = _disparity(path)
        sq += float(((d[valid] - mean) ** 2).sum())
        n += float(valid.sum())
    return math.sqrt(sq / n)


def majority_class_miou(
    root: str | Path, train: str = "train", report: str = "val", num_classes: int = 19
) -> float:
    """mIoU (fraction) of predicting the most frequent training class at every pixel."""
    root = Path(root)
    pattern = "*/*_gtFine_labelTrainIds.png"
    counts = np.zeros(num_classes, np.int64)
    for path in _files(root / "gtFine" / train, pattern):
        ids = np.asarray(Image.open(path)).ravel()
        counts += np.bincount(ids[ids < num_classes], minlength=num_classes)[:num_classes]
    majority = int(counts.argmax())
    area = np.zeros(num_classes, np.int64)
    for path in _files(root / "gtFine" / report, pattern):
        ids = np.asarray(Image.open(path)).ravel()
        area += np.bincount(ids[ids < num_classes], minlength=num_classes)[:num_classes]
    valid = area.sum()
    # constant prediction c: IoU(c) = |gt = c| / |valid|; every other class present in the
    # ground truth has IoU 0; classes neither present nor predicted are NaN (dropped)
    ious = [
        (area[c] / valid if c == majority else 0.0)
        for c in range(num_classes)
        if area[c] > 0 or c == majority
    ]
    return float(np.mean(ious))


def _rgb01(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float64) / 255.0


def mean_colour_psnr(
    train_images: list[str | Path], report_images: list[str | Path], scale: float = 1.0
) -> float:
    """Mean PSNR (dB) of predicting the mean training colour for every ``report`` image.

    ``scale`` < 1 evaluates at the coded resolution (e.g. 0.5 for Cityscapes' half-resolution
    reconstruction: the target is the frame bilinearly resized, as ttc's reconstruction
    enhancer resizes it).
    """
    if not train_images or not report_images:
        raise ValueError("give training and reported-split images")
    colour = np.mean([_rgb01(Path(p)).reshape(-1, 3).mean(0) for p in train_images], axis=0)
    values = []
    for path in report_images:
        x = _rgb01(Path(path))
        if scale != 1.0:
            x = _bilinear(x, scale)
        mse = float(((x - colour) ** 2).mean())
        values.append(10 * math.log10(1.0 / max(mse, 1e-10)))
    return float(np.mean(values))


def _bilinear(x: np.ndarray, scale: float) -> np.ndarray:
    import torch
    import torch.nn.functional as F

    t = torch.from_numpy(x).permute(2, 0, 1)[None]
    size = (int(x.shape[0] * scale), int(x.shape[1] * scale))
    t = F.interpolate(t, size=size, mode="bilinear", align_corners=False).clamp(0, 1)
    return t[0].permute(1, 2, 0).numpy()


def no_detection_ap() -> float:
    """Box AP of a detector that detects nothing: 0 (COCO's AP of an empty result)."""
    return 0.0
