"""Label tables of the two real datasets the synthetic scenes imitate.

``CITYSCAPES_LABELS`` reproduces the table of ``cityscapesscripts.helpers.labels`` (same names,
ids, train ids, categories, instance flags and colours), so the generated ``gtFine`` files mean
exactly what they mean in Cityscapes, without needing ``cityscapesscripts`` at run time.
``COCO_CATEGORIES`` is the list of the 80 COCO 2017 detection categories with their real
(non-contiguous) ids, names and supercategories, as in ``instances_*2017.json``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = [
    "CityscapesLabel",
    "CITYSCAPES_LABELS",
    "CITYSCAPES_IGNORE_INDEX",
    "cityscapes_label",
    "label_ids_to_train_ids",
    "label_ids_to_color",
    "COCO_CATEGORIES",
    "coco_category",
]

#: train id of pixels that are ignored in training and evaluation
CITYSCAPES_IGNORE_INDEX = 255


class CityscapesLabel(NamedTuple):
    """One row of the Cityscapes label table (field names as in ``cityscapesscripts``)."""

    name: str
    id: int
    trainId: int  # Cityscapes spelling
    category: str
    categoryId: int
    hasInstances: bool
    ignoreInEval: bool
    color: tuple[int, int, int]


_L = CityscapesLabel
#: the Cityscapes label table (``cityscapesscripts.helpers.labels.labels``)
CITYSCAPES_LABELS: tuple[CityscapesLabel, ...] = (
    _L("unlabeled", 0, 255, "void", 0, False, True, (0, 0, 0)),
    _L("ego vehicle", 1, 255, "void", 0, False, True, (0, 0, 0)),
    _L("rectification border", 2, 255, "void", 0, False, True, (0, 0, 0)),
    _L("out of roi", 3, 255, "void", 0, False, True, (0, 0, 0)),
    _L("static", 4, 255, "void", 0, False, True, (0, 0, 0)),
    _L("dynamic", 5, 255, "void", 0, False, True, (111, 74, 0)),
    _L("ground", 6, 255, "void", 0, False, True, (81, 0, 81)),
    _L("road", 7, 0, "flat", 1, False, False, (128, 64, 128)),
    _L("sidewalk", 8, 1, "flat", 1, False, False, (244, 35, 232)),
    _L("parking", 9, 255, "flat", 1, False, True, (250, 170, 160)),
    _L("rail track", 10, 255, "flat", 1, False, True, (230, 150, 140)),
    _L("building", 11, 2, "construction", 2, False, False, (70, 70, 70)),
    _L("wall", 12, 3, "construction", 2, False, False, (102, 102, 156)),
    _L("fence", 13, 4, "construction", 2, False, False, (190, 153, 153)),
    _L("guard rail", 14, 255, "construction", 2, False, True, (180, 165, 180)),
    _L("bridge", 15, 255, "construction", 2, False, True, (150, 100, 100)),
    _L("tunnel", 16, 255, "construction", 2, False, True, (150, 120, 90)),
    _L("pole", 17, 5, "object", 3, False, False, (153, 153, 153)),
    _L("polegroup", 18, 255, "object", 3, False, True, (153, 153, 153)),
    _L("traffic light", 19, 6, "object", 3, False, False, (250, 170, 30)),
    _L("traffic sign", 20, 7, "object", 3, False, False, (220, 220, 0)),
    _L("vegetation", 21, 8, "nature", 4, False, False, (107, 142, 35)),
    _L("terrain", 22, 9, "nature", 4, False, False, (152, 251, 152)),
    _L("sky", 23, 10, "sky", 5, False, False, (70, 130, 180)),
    _L("person", 24, 11, "human", 6, True, False, (220, 20, 60)),
    _L("rider", 25, 12, "human", 6, True, False, (255, 0, 0)),
    _L("car", 26, 13, "vehicle", 7, True, False, (0, 0, 142)),
    _L("truck", 27, 14, "vehicle", 7, True, False, (0, 0, 70)),
    _L("bus", 28, 15, "vehicle", 7, True, False, (0, 60, 100)),
    _L("caravan", 29, 255, "vehicle", 7, True, True, (0, 0, 90)),
    _L("trailer", 30, 255, "vehicle", 7, True, True, (0, 0, 110)),
    _L("train", 31, 16, "vehicle", 7, True, False, (0, 80, 100)),
    _L("motorcycle", 32, 17, "vehicle", 7, True, False, (0, 0, 230)),
    _L("bicycle", 33, 18, "vehicle", 7, True, False, (119, 11, 32)),
    _L("license plate", -1, -1, "vehicle", 7, False, True, (0, 0, 142)),
)
del _L

_BY_NAME = {label.name: label for label in CITYSCAPES_LABELS}
_BY_ID = {label.id: label for label in CITYSCAPES_LABELS if label.id >= 0}

# Lookup tables over the 8-bit label-id range; ids outside the table map to "ignore".
_TRAIN_ID_LUT = np.full(256, CITYSCAPES_IGNORE_INDEX, dtype=np.uint8)
_COLOR_LUT = np.zeros((256, 3), dtype=np.uint8)
for _label in _BY_ID.values():
    _TRAIN_ID_LUT[_label.id] = _label.trainId
    _COLOR_LUT[_label.id] = _label.color
del _label


def cityscapes_label(key: str | int) -> CityscapesLabel:
    """The Cityscapes label with this name (``"car"``) or label id (``26``)."""
    table = _BY_NAME if isinstance(key, str) else _BY_ID
    try:
        return table[key]
    except KeyError:
        raise ValueError(f"unknown Cityscapes label {key!r}") from None


def label_ids_to_train_ids(label_ids: np.ndarray) -> np.ndarray:
    """Map an array of Cityscapes label ids (0..33) to train ids (0..18, 255 = ignore)."""
    label_ids = np.asarray(label_ids)
    if label_ids.size and (label_ids.min() < 0 or label_ids.max() > 255):
        raise ValueError("Cityscapes label ids must lie in 0..255")
    return _TRAIN_ID_LUT[label_ids.astype(np.intp)]


def label_ids_to_color(label_ids: np.ndarray) -> np.ndarray:
    """Map label ids to the Cityscapes palette: an ``(..., 3)`` uint8 array."""
    label_ids = np.asarray(label_ids)
    if label_ids.size and (label_ids.min() < 0 or label_ids.max() > 255):
        raise ValueError("Cityscapes label ids must lie in 0..255")
    return _COLOR_LUT[label_ids.astype(np.intp)]


def _coco(cid: int, name: str, supercategory: str) -> dict[str, object]:
    return {"supercategory": supercategory, "id": cid, "name": name}


#: the 80 COCO 2017 detection categories, in the order of ``instances_*2017.json``
# fmt: off
COCO_CATEGORIES: tuple[dict[str, object], ...] = tuple(
    _coco(*row)
    for row in (
        (1, "person", "person"), (2, "bicycle", "vehicle"), (3, "car", "vehicle"),
        (4, "motorcycle", "vehicle"), (5, "airplane", "vehicle"), (6, "bus", "vehicle"),
        (7, "train", "vehicle"), (8, "truck", "vehicle"), (9, "boat", "vehicle"),
        (10, "traffic light", "outdoor"), (11, "fire hydrant", "outdoor"),
        (13, "stop sign", "outdoor"), (14, "parking meter", "outdoor"), (15, "bench", "outdoor"),
        (16, "bird", "animal"), (17, "cat", "animal"), (18, "dog", "animal"),
        (19, "horse", "animal"), (20, "sheep", "animal"), (21, "cow", "animal"),
        (22, "elephant", "animal"), (23, "bear", "animal"), (24, "zebra", "animal"),
        (25, "giraffe", "animal"), (27, "backpack", "accessory"), (28, "umbrella", "accessory"),
        (31, "handbag", "accessory"), (32, "tie", "accessory"), (33, "suitcase", "accessory"),
        (34, "frisbee", "sports"), (35, "skis", "sports"), (36, "snowboard", "sports"),
        (37, "sports ball", "sports"), (38, "kite", "sports"), (39, "baseball bat", "sports"),
        (40, "baseball glove", "sports"), (41, "skateboard", "sports"),
        (42, "surfboard", "sports"), (43, "tennis racket", "sports"), (44, "bottle", "kitchen"),
        (46, "wine glass", "kitchen"), (47, "cup", "kitchen"), (48, "fork", "kitchen"),
        (49, "knife", "kitchen"), (50, "spoon", "kitchen"), (51, "bowl", "kitchen"),
        (52, "banana", "food"), (53, "apple", "food"), (54, "sandwich", "food"),
        (55, "orange", "food"), (56, "broccoli", "food"), (57, "carrot", "food"),
        (58, "hot dog", "food"), (59, "pizza", "food"), (60, "donut", "food"),
        (61, "cake", "food"), (62, "chair", "furniture"), (63, "couch", "furniture"),
        (64, "potted plant", "furniture"), (65, "bed", "furniture"),
        (67, "dining table", "furniture"), (70, "toilet", "furniture"), (72, "tv", "electronic"),
        (73, "laptop", "electronic"), (74, "mouse", "electronic"), (75, "remote", "electronic"),
        (76, "keyboard", "electronic"), (77, "cell phone", "electronic"),
        (78, "microwave", "appliance"), (79, "oven", "appliance"), (80, "toaster", "appliance"),
        (81, "sink", "appliance"), (82, "refrigerator", "appliance"), (84, "book", "indoor"),
        (85, "clock", "indoor"), (86, "vase", "indoor"), (87, "scissors", "indoor"),
        (88, "teddy bear", "indoor"), (89, "hair drier", "indoor"), (90, "toothbrush", "indoor"),
    )
)
# fmt: on

_COCO_BY_NAME = {str(c["name"]): c for c in COCO_CATEGORIES}
_COCO_BY_ID = {int(c["id"]): c for c in COCO_CATEGORIES}  # type: ignore[call-overload]


def coco_category(key: str | int) -> dict[str, object]:
    """The COCO category with this name (``"car"``) or id (``3``), as a fresh dict."""
    table = _COCO_BY_NAME if isinstance(key, str) else _COCO_BY_ID
    try:
        return dict(table[key])  # type: ignore[index]
    except KeyError:
        raise ValueError(f"unknown COCO category {key!r}") from None
