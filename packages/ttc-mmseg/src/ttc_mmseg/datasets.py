"""Cityscapes disparity / depth data for MMSegmentation: a dataset and its loading transforms.

Cityscapes layout (the official archives ``leftImg8bit_trainvaltest.zip``,
``disparity_trainvaltest.zip``, ``camera_trainvaltest.zip``, ``gtFine_trainvaltest.zip``
unpacked into one ``data_root``)::

    data_root/leftImg8bit/{split}/{city}/{stem}_leftImg8bit.png
    data_root/disparity/{split}/{city}/{stem}_disparity.png         16-bit PNG
    data_root/camera/{split}/{city}/{stem}_camera.json              (metric depth only)
    data_root/gtFine/{split}/{city}/{stem}_gtFine_labelTrainIds.png (optional, segmentation)

Disparity encoding (Cityscapes ``README``): a 16-bit value ``p`` is invalid where ``p = 0``,
otherwise the disparity is ``d = (p − 1) / 256`` pixels of the 2048-wide frame. The paper's
target (METHOD §3) is ``(p − 1) / 32768 = d / 128``; metric depth is ``baseline · fx / d``
(metres) from the camera file. **Invalid pixels are 0** in the decoded map (also after padding:
set the data preprocessor's ``seg_pad_val=0``) and are kept out of the loss and the metrics.
Consequence of this convention: a valid pixel with ``p = 1`` (disparity exactly 0, a point at
infinity) decodes to 0 as well and is treated as invalid (for metric depth it has no finite
value anyway).

The maps are decoded in the loading transform, *before* any geometric transform, and put into
``seg_fields`` so that mmseg's ``RandomFlip`` / ``Resize`` move them with the image.
"""

from __future__ import annotations

import json
import os.path as osp
import random
from collections.abc import Sequence

import mmcv
import mmengine.fileio as fileio
import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.datasets import CityscapesDataset
from mmseg.registry import DATASETS, TRANSFORMS

__all__ = [
    "CityscapesDisparityDataset",
    "LoadCityscapesDisparity",
    "TTCColorJitter",
    "DISPARITY_TARGET_SCALE",
    "decode_disparity",
    "disparity_to_depth",
]

#: ``(p − 1) / DISPARITY_TARGET_SCALE`` is the paper's target (disparity / 128)
DISPARITY_TARGET_SCALE = 32768.0
#: ``(p − 1) / DISPARITY_PIXEL_SCALE`` is the disparity in pixels (Cityscapes encoding)
DISPARITY_PIXEL_SCALE = 256.0
TARGETS = ("disparity", "disparity_px", "depth")


def decode_disparity(
    raw: np.ndarray, target: str = "disparity", camera: dict | None = None, path: str = "<array>"
) -> np.ndarray:
    """Decode a raw Cityscapes 16-bit disparity map into a float32 target, invalid = 0.

    Args:
        raw: ``(H, W)`` uint16 array as stored in ``*_disparity.png``.
        target: ``"disparity"`` — ``(p − 1) / 32768`` (the paper's, disparity / 128);
            ``"disparity_px"`` — ``(p − 1) / 256`` (disparity in pixels);
            ``"depth"`` — ``baseline · fx / ((p − 1) / 256)`` in metres (needs ``camera``).
        camera: the parsed ``*_camera.json`` (``extrinsic.baseline``, ``intrinsic.fx``).
        path: file name for error messages.
    """
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
    raw = np.asarray(raw)
    if raw.dtype != np.uint16 or raw.ndim != 2:
        raise ValueError(
            f"{path}: a Cityscapes disparity map must be a single-channel 16-bit PNG, but this "
            f"one decodes to dtype {raw.dtype} with shape {raw.shape}. Use the original files "
            "from 'disparity_trainvaltest.zip' (converting them to 8-bit or RGB destroys the "
            "values)."
        )
    p = raw.astype(np.float64)
    valid = raw > 1 if target == "depth" else raw > 0
    out = np.zeros(raw.shape, dtype=np.float64)
    if target == "disparity":
        out[valid] = (p[valid] - 1.0) / DISPARITY_TARGET_SCALE
    elif target == "disparity_px":
        out[valid] = (p[valid] - 1.0) / DISPARITY_PIXEL_SCALE
    else:
        if camera is None:
            raise ValueError(f"{path}: target='depth' needs the camera file of the frame")
        out[valid] = disparity_to_depth((p[valid] - 1.0) / DISPARITY_PIXEL_SCALE, camera, path)
    return out.astype(np.float32)


def disparity_to_depth(
    disparity_px: np.ndarray, camera: dict, path: str = "<camera>"
) -> np.ndarray:
    """Metric depth ``baseline · fx / d`` (metres) of disparities ``d`` > 0 in pixels."""
    try:
        baseline = float(camera["extrinsic"]["baseline"])
        fx = float(camera["intrinsic"]["fx"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(
            f"{path}: camera file lacks extrinsic.baseline / intrinsic.fx ({exc!r})"
        ) from exc
    return baseline * fx / np.asarray(disparity_px, dtype=np.float64)


@TRANSFORMS.register_module()
class LoadCityscapesDisparity(BaseTransform):
    """Load and decode a Cityscapes disparity map into ``gt_depth_map`` (float32, invalid = 0).

    Put it right after ``LoadImageFromFile`` and before any geometric transform: it decodes
    the raw 16-bit values (which no geometric transform may interpolate) and registers
    ``gt_depth_map`` in ``seg_fields`` so flips / resizes / crops move it with the image.

    Required keys: ``depth_map_path`` (and ``camera_path`` for ``target="depth"``).
    Added keys: ``gt_depth_map``, ``depth_target``, ``depth_rescale_factor`` (1.0).

    Args:
        target: ``"disparity"`` (the paper's ``(p − 1)/32768``, default), ``"disparity_px"``
            (``(p − 1)/256``) or ``"depth"`` (metres, ``baseline·fx/disparity``).
        max_depth: with ``target="depth"``, depths beyond it are marked invalid (0).
        backend_args: mmengine file backend arguments.
    """

    def __init__(
        self,
        target: str = "disparity",
        max_depth: float | None = None,
        backend_args: dict | None = None,
    ):
        super().__init__()
        if target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
        self.target = target
        self.max_depth = max_depth
        self.backend_args = backend_args.copy() if backend_args else None

    def _read_camera(self, results: dict) -> dict | None:
        if self.target != "depth":
            return None
        path = results.get("camera_path")
        if not path:
            raise KeyError(
                "LoadCityscapesDisparity(target='depth') needs the camera file of each frame: "
                "give the dataset data_prefix=dict(..., camera_path='camera/<split>') "
                "(from 'camera_trainvaltest.zip')"
            )
        return json.loads(fileio.get_text(path, backend_args=self.backend_args))

    def transform(self, results: dict) -> dict:
        path = results["depth_map_path"]
        data = fileio.get(path, backend_args=self.backend_args)
        raw = mmcv.imfrombytes(data, flag="unchanged", backend="cv2")
        if raw is None:
            raise ValueError(f"{path}: not a readable image")
        depth = decode_disparity(raw, self.target, self._read_camera(results), path)
        if self.max_depth is not None and self.target == "depth":
            depth[depth > self.max_depth] = 0.0
        img = results.get("img")
        if img is not None and img.shape[:2] != depth.shape:
            raise ValueError(
                f"{path}: disparity map is {depth.shape[1]}×{depth.shape[0]} but its image is "
                f"{img.shape[1]}×{img.shape[0]}; load the disparity before any geometric "
                "transform and check that the files belong together"
            )
        results["gt_depth_map"] = depth
        results.setdefault("seg_fields", [])
        if "gt_depth_map" not in results["seg_fields"]:
            results["seg_fields"].append("gt_depth_map")
        results["depth_target"] = self.target
        results["depth_rescale_factor"] = 1.0
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(target={self.target!r}, max_depth={self.max_depth})"


@TRANSFORMS.register_module()
class TTCColorJitter(BaseTransform):
    """Colour jitter with torchvision's ``ColorJitter`` semantics, on BGR uint8 images.

    Brightness, contrast and saturation factors are drawn uniformly from
    ``[max(0, 1 − v), 1 + v]`` and applied in a random order, every time (the reference
    training uses ``ColorJitter(0.5, 0.5, 0.5)``; mmseg's ``PhotoMetricDistortion`` is a
    different, additive-brightness scheme). The arithmetic is mmcv's ``adjust_brightness`` /
    ``adjust_contrast`` / ``adjust_color`` (blends with black, the mean grey level and the
    grey image). Registered under a ttc-prefixed name: a generic ``ColorJitter`` in mmseg's
    registry would shadow or clash with other plugins' transforms.
    """

    def __init__(self, brightness: float = 0.5, contrast: float = 0.5, saturation: float = 0.5):
        super().__init__()
        for name, v in (
            ("brightness", brightness),
            ("contrast", contrast),
            ("saturation", saturation),
        ):
            if v < 0:
                raise ValueError(f"{name} must be >= 0, got {v}")
        self.brightness, self.contrast, self.saturation = brightness, contrast, saturation

    @staticmethod
    def _factor(v: float) -> float:
        return random.uniform(max(0.0, 1.0 - v), 1.0 + v)

    def transform(self, results: dict) -> dict:
        img = results["img"]
        ops = [
            (mmcv.adjust_brightness, self.brightness),
            (mmcv.adjust_contrast, self.contrast),
            (mmcv.adjust_color, self.saturation),
        ]
        random.shuffle(ops)
        out = img
        for op, v in ops:
            if v > 0:
                out = op(out, self._factor(v), backend="cv2")
        results["img"] = out.astype(img.dtype, copy=False)
        return results

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(brightness={self.brightness}, contrast={self.contrast}, "
            f"saturation={self.saturation})"
        )


@DATASETS.register_module()
class CityscapesDisparityDataset(CityscapesDataset):
    """Cityscapes frames with their disparity maps (and optionally camera files, labels).

    Args:
        data_root: the folder holding ``leftImg8bit/``, ``disparity/`` (``camera/``, ``gtFine/``).
        data_prefix: folders relative to ``data_root``: ``img_path`` (e.g.
            ``'leftImg8bit/train'``), ``depth_map_path`` (``'disparity/train'``), optionally
            ``camera_path`` (``'camera/train'``, needed for metric depth) and
            ``seg_map_path`` (``'gtFine/train'``, so the same dataset serves segmentation).
        img_suffix / depth_map_suffix / camera_suffix / seg_map_suffix: Cityscapes file suffixes.

    Every frame must have its disparity map (and camera file / label when those prefixes are
    given); a missing folder or file is reported with what to download.
    """

    def __init__(
        self,
        data_prefix: dict | None = None,
        img_suffix: str = "_leftImg8bit.png",
        depth_map_suffix: str = "_disparity.png",
        camera_suffix: str = "_camera.json",
        seg_map_suffix: str = "_gtFine_labelTrainIds.png",
        **kwargs,
    ):
        if data_prefix is None:
            data_prefix = dict(img_path="leftImg8bit/train", depth_map_path="disparity/train")
        self.depth_map_suffix = depth_map_suffix
        self.camera_suffix = camera_suffix
        super().__init__(
            data_prefix=data_prefix, img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs
        )

    def _require_dir(self, key: str, what: str, archive: str) -> str:
        path = self.data_prefix.get(key)
        if not path:
            raise ValueError(f"{type(self).__name__}: data_prefix needs '{key}' ({what})")
        if not osp.isdir(path):
            raise FileNotFoundError(
                f"{type(self).__name__}: {what} folder {path!r} does not exist. data_root "
                f"({self.data_root!r}) must be a Cityscapes root with '{archive}' unpacked in it."
            )
        return path

    def _check_files(self, kind: str, paths: Sequence[str], archive: str) -> None:
        missing = [p for p in paths if not osp.isfile(p)]
        if missing:
            raise FileNotFoundError(
                f"{type(self).__name__}: {len(missing)} of {len(paths)} frames have no {kind} "
                f"file (first: {missing[0]!r}). Unpack '{archive}' into data_root "
                f"({self.data_root!r}) or select a split that has them."
            )

    def load_data_list(self) -> list[dict]:
        img_dir = self._require_dir("img_path", "image", "leftImg8bit_trainvaltest.zip")
        depth_dir = self._require_dir("depth_map_path", "disparity", "disparity_trainvaltest.zip")
        camera_dir = (
            self._require_dir("camera_path", "camera", "camera_trainvaltest.zip")
            if self.data_prefix.get("camera_path")
            else None
        )
        seg_dir = (
            self._require_dir("seg_map_path", "label", "gtFine_trainvaltest.zip")
            if self.data_prefix.get("seg_map_path")
            else None
        )
        images = sorted(
            fileio.list_dir_or_file(
                img_dir,
                list_dir=False,
                suffix=self.img_suffix,
                recursive=True,
                backend_args=self.backend_args,
            )
        )
        if not images:
            raise FileNotFoundError(
                f"{type(self).__name__}: no '*{self.img_suffix}' images under {img_dir!r}"
            )
        data_list = []
        for rel in images:
            stem = rel[: -len(self.img_suffix)]
            info = dict(
                img_path=osp.join(img_dir, rel),
                depth_map_path=osp.join(depth_dir, stem + self.depth_map_suffix),
                label_map=self.label_map,
                reduce_zero_label=self.reduce_zero_label,
                seg_fields=[],
            )
            if camera_dir is not None:
                info["camera_path"] = osp.join(camera_dir, stem + self.camera_suffix)
            if seg_dir is not None:
                info["seg_map_path"] = osp.join(seg_dir, stem + self.seg_map_suffix)
            data_list.append(info)
        self._check_files(
            "disparity", [d["depth_map_path"] for d in data_list], "disparity_trainvaltest.zip"
        )
        if camera_dir is not None:
            self._check_files(
                "camera", [d["camera_path"] for d in data_list], "camera_trainvaltest.zip"
            )
        if seg_dir is not None:
            self._check_files(
                "label",
                [d["seg_map_path"] for d in data_list],
                "gtFine_trainvaltest.zip (then createTrainIdLabelImgs)",
            )
        return data_list
