"""Synthetic scenes written in the COCO 2017 detection layout.

::

    root/annotations/instances_train2017.json
    root/annotations/instances_val2017.json
    root/train2017/000000000001.jpg ...
    root/val2017/...

The JSON files follow COCO's format: ``images`` (id, file_name, height, width), ``annotations``
(id, image_id, category_id, bbox ``[x, y, w, h]``, area, iscrowd 0, polygon ``segmentation``)
and ``categories`` with COCO's real ids (person 1, car 3, bus 6, truck 8, traffic light 10,
stop sign 13, ...). Boxes are tight around the *visible* pixels of each instance, areas count
them, and the polygons rasterise (with ``pycocotools``) to exactly those pixels. Instances
smaller than ``min_area`` visible pixels are left out, as are fully occluded ones. Image ids are
unique across splits.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PIL import Image

from ._io import SPLIT_CODES, check_counts, check_seed, prepare_outputs
from .labels import COCO_CATEGORIES, coco_category
from .polygons import mask_bbox, mask_to_polygons
from .synthetic import Scene, _check_size, make_scene

__all__ = ["DEFAULT_SIZE", "GENERATED_CATEGORY_IDS", "coco_annotations", "write_coco_dataset"]

#: default image size (height, width)
DEFAULT_SIZE = (160, 224)
#: the COCO categories the scene generator draws: person, car, bus, truck, traffic light,
#: stop sign
GENERATED_CATEGORY_IDS = (1, 3, 6, 8, 10, 13)
_DATASET_CODE = 1  # mixed into the per-image seeds (Cityscapes uses 0)
_FORMATS = {"jpg": "JPEG", "png": "PNG"}
_INFO = {
    "description": "ttc synthetic street scenes in the COCO 2017 layout",
    "url": "",
    "version": "1.0",
    "year": 2024,
    "contributor": "ttc",
    "date_created": "2024/01/01",
}


def coco_annotations(
    scene: Scene, image_id: int, first_id: int = 1, min_area: int = 16
) -> list[dict[str, Any]]:
    """COCO annotations of a scene's instances with a COCO category, ids from ``first_id``."""
    if min_area < 1:
        raise ValueError(f"min_area must be at least 1 pixel, got {min_area}")
    anns: list[dict[str, Any]] = []
    for k, inst in enumerate(scene.instances):
        if inst.coco_category_id is None or inst.area < min_area:
            continue
        mask = scene.instance_mask(k)
        anns.append(
            {
                "id": first_id + len(anns),
                "image_id": image_id,
                "category_id": inst.coco_category_id,
                "segmentation": mask_to_polygons(mask),
                "area": float(inst.area),
                "bbox": mask_bbox(mask),
                "iscrowd": 0,
            }
        )
    return anns


def write_coco_dataset(
    root: str | Path,
    num_train: int = 8,
    num_val: int = 4,
    size: tuple[int, int] = DEFAULT_SIZE,
    seed: int = 0,
    *,
    image_format: str = "jpg",
    jpeg_quality: int = 95,
    min_area: int = 16,
    all_categories: bool = True,
    overwrite: bool = False,
) -> dict[str, Path]:
    """Generate a small COCO-layout detection dataset under ``root``.

    Each image's scene depends only on ``(seed, split, index)``; the same arguments give
    byte-identical files.

    Args:
        root: dataset root (created if missing).
        num_train: number of ``train2017`` images.
        num_val: number of ``val2017`` images.
        size: ``(height, width)`` of every image.
        seed: non-negative base seed.
        image_format: ``"jpg"`` (as real COCO) or ``"png"`` (lossless).
        jpeg_quality: JPEG quality, 1..100.
        min_area: smallest number of visible pixels for an instance to be annotated.
        all_categories: list all 80 COCO categories (so COCO-pretrained detectors' class
            indices apply); otherwise only the six the generator draws
            (``GENERATED_CATEGORY_IDS``), the same list in both splits.
        overwrite: replace earlier output in ``root`` (otherwise ``FileExistsError``).

    Returns:
        ``{split: path of instances_{split}2017.json}``.
    """
    counts = check_counts(num_train, num_val)
    size = _check_size(size)
    seed = check_seed(seed)
    if image_format not in _FORMATS:
        raise ValueError(f"image_format must be one of {sorted(_FORMATS)}, got {image_format!r}")
    if (
        isinstance(jpeg_quality, bool)
        or not isinstance(jpeg_quality, int)
        or not (1 <= jpeg_quality <= 100)
    ):
        raise ValueError(f"jpeg_quality must be an int in 1..100, got {jpeg_quality!r}")
    if isinstance(min_area, bool) or not isinstance(min_area, int) or min_area < 1:
        raise ValueError(f"min_area must be a positive int, got {min_area!r}")
    root = Path(root)
    ann_dir = root / "annotations"
    prepare_outputs(
        [p for s in counts for p in (root / f"{s}2017", ann_dir / f"instances_{s}2017.json")],
        overwrite,
    )
    ann_dir.mkdir(parents=True, exist_ok=True)
    save_kwargs: dict[str, Any] = (
        {"quality": jpeg_quality, "subsampling": 0} if image_format == "jpg" else {}
    )

    image_id, ann_id = 1, 1
    written: dict[str, Path] = {}
    for split, n in counts.items():
        img_dir = root / f"{split}2017"
        img_dir.mkdir(parents=True, exist_ok=True)
        images: list[dict[str, Any]] = []
        annotations: list[dict[str, Any]] = []
        for i in range(n):
            scene = make_scene(size, seed=(seed, _DATASET_CODE, SPLIT_CODES[split], i))
            file_name = f"{image_id:012d}.{image_format}"
            Image.fromarray(scene.image).save(
                img_dir / file_name, _FORMATS[image_format], **save_kwargs
            )
            images.append(
                {"id": image_id, "file_name": file_name, "height": size[0], "width": size[1]}
            )
            anns = coco_annotations(scene, image_id, ann_id, min_area)
            annotations += anns
            ann_id += len(anns)
            image_id += 1
        if all_categories:
            categories = [dict(c) for c in COCO_CATEGORIES]
        else:
            categories = [coco_category(c) for c in GENERATED_CATEGORY_IDS]
        path = ann_dir / f"instances_{split}2017.json"
        with open(path, "w") as f:
            json.dump(
                {
                    "info": _INFO,
                    "licenses": [],
                    "images": images,
                    "annotations": annotations,
                    "categories": categories,
                },
                f,
            )
        written[split] = path
    return written
