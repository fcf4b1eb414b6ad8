"""Synthetic scenes written in the Cityscapes layout.

::

    root/leftImg8bit/{split}/{city}/{city}_{seq:06d}_{frame:06d}_leftImg8bit.png   8-bit RGB
    root/disparity/{split}/{city}/{stem}_disparity.png          16-bit, p = d * 256 + 1, 0 invalid
    root/camera/{split}/{city}/{stem}_camera.json               extrinsic / intrinsic, as Cityscapes
    root/gtFine/{split}/{city}/{stem}_gtFine_labelIds.png       8-bit Cityscapes label ids
    root/gtFine/{split}/{city}/{stem}_gtFine_labelTrainIds.png  8-bit train ids, 255 = ignore
    root/gtFine/{split}/{city}/{stem}_gtFine_instanceIds.png    16-bit, label_id * 1000 + n
    root/gtFine/{split}/{city}/{stem}_gtFine_color.png          RGBA Cityscapes palette

Disparities are in pixels of the written images and the camera JSON holds the intrinsics of
those images, so ``depth = baseline * fx / disparity`` as with the real data. The images show
the ego vehicle's hood (label 'ego vehicle', train id 255, invalid disparity) and, like real
stereo output, an invalid strip along the left border.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from ._io import SPLIT_CODES, check_counts, check_seed, prepare_outputs
from .labels import label_ids_to_color
from .synthetic import Camera, Scene, _check_size, make_scene

__all__ = [
    "CITIES",
    "DEFAULT_SIZE",
    "encode_disparity",
    "decode_disparity",
    "cityscapes_stem",
    "write_cityscapes_scene",
    "write_cityscapes_dataset",
]

#: real Cityscapes city names used for each split
CITIES: dict[str, tuple[str, ...]] = {
    "train": ("aachen", "bochum", "bremen"),
    "val": ("frankfurt", "lindau", "munster"),
}
#: default image size (height, width): Cityscapes' 1:2 aspect ratio, 1/8 of the resolution
DEFAULT_SIZE = (128, 256)
#: fraction of the width at the left without valid disparity
STEREO_BORDER = 0.03
_FRAME = 19  # the annotated frame of every Cityscapes snippet
_DATASET_CODE = 0  # mixed into the per-image seeds (COCO uses 1)
_MAX_DISPARITY = (np.iinfo(np.uint16).max - 1) / 256.0


def encode_disparity(disparity: np.ndarray) -> np.ndarray:
    """Cityscapes' 16-bit disparity encoding: ``p = round(d * 256) + 1`` where ``d > 0``, else 0."""
    d = np.asarray(disparity, dtype=np.float64)
    if not np.isfinite(d).all() or (d < 0).any():
        raise ValueError("disparities must be finite and >= 0 (0 = invalid)")
    if (d > _MAX_DISPARITY).any():
        raise ValueError(f"disparities above {_MAX_DISPARITY:.2f} px do not fit in 16 bits")
    return np.where(d > 0, np.rint(d * 256.0) + 1, 0).astype(np.uint16)


def decode_disparity(png: np.ndarray) -> np.ndarray:
    """Disparity in pixels from the 16-bit encoding, ``(p - 1) / 256``; 0 where ``p == 0``."""
    p = np.asarray(png)
    if not np.issubdtype(p.dtype, np.integer):
        raise ValueError(f"an encoded disparity map holds integers, got dtype {p.dtype}")
    p = p.astype(np.float64)
    return np.where(p > 0, (p - 1.0) / 256.0, 0.0).astype(np.float32)


def cityscapes_stem(city: str, seq: int, frame: int = _FRAME) -> str:
    """``{city}_{seq:06d}_{frame:06d}``, the common prefix of one frame's files."""
    return f"{city}_{seq:06d}_{frame:06d}"


def write_cityscapes_scene(scene: Scene, root: str | Path, split: str, city: str, seq: int) -> str:
    """Write one scene's files under ``root`` (folders are created); returns its stem."""
    root = Path(root)
    stem = cityscapes_stem(city, seq)
    dirs = {k: root / k / split / city for k in ("leftImg8bit", "disparity", "camera", "gtFine")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    Image.fromarray(scene.image).save(dirs["leftImg8bit"] / f"{stem}_leftImg8bit.png")
    Image.fromarray(encode_disparity(scene.disparity)).save(
        dirs["disparity"] / f"{stem}_disparity.png"
    )
    with open(dirs["camera"] / f"{stem}_camera.json", "w") as f:
        json.dump(scene.camera.to_cityscapes_json(), f, indent=4)
        f.write("\n")
    gt = dirs["gtFine"]
    Image.fromarray(scene.label_ids).save(gt / f"{stem}_gtFine_labelIds.png")
    Image.fromarray(scene.train_ids()).save(gt / f"{stem}_gtFine_labelTrainIds.png")
    Image.fromarray(scene.cityscapes_instance_ids().astype(np.uint16)).save(
        gt / f"{stem}_gtFine_instanceIds.png"
    )
    colour = label_ids_to_color(scene.label_ids)
    rgba = np.concatenate([colour, np.full(colour.shape[:2] + (1,), 255, np.uint8)], axis=-1)
    Image.fromarray(rgba).save(gt / f"{stem}_gtFine_color.png")
    return stem


def write_cityscapes_dataset(
    root: str | Path,
    num_train: int = 8,
    num_val: int = 4,
    size: tuple[int, int] = DEFAULT_SIZE,
    seed: int = 0,
    *,
    overwrite: bool = False,
) -> dict[str, list[str]]:
    """Generate a small Cityscapes-layout dataset under ``root``.

    Frames are spread over the split's cities (``CITIES``) round-robin. Each frame's scene
    depends only on ``(seed, split, index)``, so adding training images leaves the validation
    images unchanged, and the same arguments give byte-identical files.

    Args:
        root: dataset root (created if missing).
        num_train: number of ``train`` frames.
        num_val: number of ``val`` frames.
        size: ``(height, width)`` of every image.
        seed: non-negative base seed.
        overwrite: replace the split folders if they already hold files (otherwise
            ``FileExistsError``).

    Returns:
        ``{split: [stem, ...]}`` for the splits written.
    """
    counts = check_counts(num_train, num_val)
    size = _check_size(size)
    seed = check_seed(seed)
    root = Path(root)
    prepare_outputs(
        [root / k / s for s in counts for k in ("leftImg8bit", "disparity", "camera", "gtFine")],
        overwrite,
    )
    camera = Camera.cityscapes(size)
    written: dict[str, list[str]] = {}
    for split, n in counts.items():
        cities = CITIES[split]
        written[split] = []
        for i in range(n):
            scene = make_scene(
                size,
                seed=(seed, _DATASET_CODE, SPLIT_CODES[split], i),
                camera=camera,
                ego_vehicle=True,
                stereo_border=STEREO_BORDER,
            )
            city = cities[i % len(cities)]
            written[split].append(
                write_cityscapes_scene(scene, root, split, city, seq=i // len(cities))
            )
    return written
