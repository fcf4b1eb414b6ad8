"""Synthetic street scenes in the real COCO and Cityscapes on-disk layouts.

The generator (:func:`make_scene`) renders small seeded scenes (ground plane, sky, buildings,
cars, persons, ...) whose image, disparity, semantic labels and instances agree with each
other; the writers put them where the real datasets' tools look for them::

    from ttc_core.datasets import write_coco_dataset, write_cityscapes_dataset

    write_coco_dataset("data/coco", num_train=8, num_val=4, size=(160, 224), seed=0)
    write_cityscapes_dataset("data/cityscapes", num_train=8, num_val=4, size=(128, 256))

or, from the shell, ``ttc data synth {coco,cityscapes} --out DIR``. Only numpy and Pillow are
needed (no torch, no cityscapesscripts, no pycocotools).
"""

from .cityscapes import (
    cityscapes_stem,
    decode_disparity,
    encode_disparity,
    write_cityscapes_dataset,
    write_cityscapes_scene,
)
from .coco import GENERATED_CATEGORY_IDS, coco_annotations, write_coco_dataset
from .labels import (
    CITYSCAPES_IGNORE_INDEX,
    CITYSCAPES_LABELS,
    COCO_CATEGORIES,
    CityscapesLabel,
    cityscapes_label,
    coco_category,
    label_ids_to_color,
    label_ids_to_train_ids,
)
from .polygons import mask_bbox, mask_to_polygons
from .synthetic import Camera, Instance, Scene, make_scene

__all__ = [
    "Camera",
    "Instance",
    "Scene",
    "make_scene",
    "write_coco_dataset",
    "write_cityscapes_dataset",
    "write_cityscapes_scene",
    "coco_annotations",
    "GENERATED_CATEGORY_IDS",
    "cityscapes_stem",
    "encode_disparity",
    "decode_disparity",
    "mask_to_polygons",
    "mask_bbox",
    "CityscapesLabel",
    "CITYSCAPES_LABELS",
    "CITYSCAPES_IGNORE_INDEX",
    "COCO_CATEGORIES",
    "cityscapes_label",
    "coco_category",
    "label_ids_to_train_ids",
    "label_ids_to_color",
]
