"""Datasets: COCO-format registration (``--register-coco``) and the selection split.

**Registration.** Detectron2's builtin names (``coco_2017_train``, ``coco_2017_val``, found
under ``$DETECTRON2_DATASETS``) need nothing. Any other COCO-format dataset is registered with
``register_coco_instances``; tools/train_net.py does it in every worker process for each
``--register-coco NAME=JSON:IMAGE_ROOT`` argument (the JSON path and the image folder are split
at the last ``:``). In a LazyConfig file, :func:`register_coco` does the same where a dataset
name is expected, so Detectron2's stock ``tools/lazyconfig_train_net.py`` can train on any
COCO-format data::

    dataloader.train.dataset.names = L(register_coco)(
        name="mine_train", json_file="ann/train.json", image_root="images/train")

**Selection split** (METHOD §8). Model selection must not look at the reported split.
:func:`register_selection_splits` carves, from the training dataset ``NAME`` of
``DATASETS.TRAIN``, two derived datasets in ``DatasetCatalog`` / ``MetadataCatalog``:

- ``NAME:fit`` (what the model trains on) and
- ``NAME:selection`` (periodic evaluations, the best checkpoint),

split by :func:`ttc_core.selection.split_indices` on the images' file names
(``DATASETS.SELECTION``: ``SIZE``, ``SEED`` or ``FILES``), so the split does not depend on the
order or the location of the data. The derived datasets share the source's metadata (class
names, ``evaluator_type``) **except** ``json_file``: ``COCOEvaluator`` then builds the ground
truth from the subset's own dicts (not from the whole training annotation file).
"""

from __future__ import annotations

import copy
import functools
import os
from typing import Any

from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.data.datasets import register_coco_instances

from ttc_core.selection import SelectionSplit, selection_keys, split_indices

from .errors import TTCConfigError

__all__ = [
    "FIT_SUFFIX",
    "SELECTION_SUFFIX",
    "is_derived",
    "parse_coco_spec",
    "register_coco",
    "register_coco_spec",
    "register_selection_split",
    "register_selection_splits",
    "selection_split",
]

FIT_SUFFIX = ":fit"
SELECTION_SUFFIX = ":selection"
#: metadata never copied to a derived dataset (json_file: the GT must come from the subset)
_NOT_COPIED = ("name", "json_file")

#: derived name → (source name, split) of the splits registered by this module
_REGISTERED: dict[str, tuple[str, SelectionSplit]] = {}
#: derived selection name → its dicts (the selection split is evaluated again and again)
_CACHE: dict[str, list[dict[str, Any]]] = {}


def parse_coco_spec(spec: str) -> tuple[str, str, str]:
    """``"NAME=JSON:IMAGE_ROOT"`` → ``(name, json_file, image_root)``."""
    name, sep, rest = spec.partition("=")
    json_file, sep2, image_root = rest.rpartition(":")
    if not (name and sep and sep2 and json_file and image_root):
        raise ValueError(
            f"--register-coco expects NAME=JSON:IMAGE_ROOT (e.g. "
            f"mini_train=data/mini/train.json:data/mini/images), got {spec!r}"
        )
    return name, json_file, image_root


def register_coco(name: str, json_file: str, image_root: str) -> str:
    """Register a COCO-format detection dataset as ``name`` (idempotent); returns ``name``."""
    if not os.path.isfile(json_file):
        raise FileNotFoundError(f"dataset {name!r}: no annotation file {json_file}")
    if not os.path.isdir(image_root):
        raise FileNotFoundError(f"dataset {name!r}: no image folder {image_root}")
    if name not in DatasetCatalog.list():
        register_coco_instances(name, {}, os.path.abspath(json_file), os.path.abspath(image_root))
    return name


def register_coco_spec(spec: str) -> str:
    """Register the dataset of a ``"NAME=JSON:IMAGE_ROOT"`` spec (idempotent); returns NAME."""
    return register_coco(*parse_coco_spec(spec))


# -- the selection split ----------------------------------------------------------------------
def selection_split(cfg) -> SelectionSplit:
    """The :class:`~ttc_core.selection.SelectionSplit` of ``cfg.DATASETS.SELECTION``."""
    s = cfg.DATASETS.SELECTION
    size = float(s.SIZE)
    return SelectionSplit(
        size=int(size) if size >= 1 else size, seed=int(s.SEED), files=tuple(s.FILES)
    )


def is_derived(name: str) -> bool:
    """Whether ``name`` is a fit / selection dataset registered by this module."""
    return name in _REGISTERED


def _copy_metadata(source: str, derived: str) -> None:
    # set only what is missing: Detectron2 refuses to change a metadata value, and a COCO
    # source gains its class names only when its JSON is first loaded
    meta = MetadataCatalog.get(source).as_dict()
    target = MetadataCatalog.get(derived)
    missing = {k: v for k, v in meta.items() if k not in _NOT_COPIED and not hasattr(target, k)}
    target.set(**missing)


def _load_part(source: str, split: SelectionSplit, part: int, derived: str) -> list[dict]:
    if derived in _CACHE:
        return copy.deepcopy(_CACHE[derived])
    dicts = DatasetCatalog.get(source)
    _copy_metadata(source, derived)
    keys = selection_keys([d["file_name"] for d in dicts])
    try:
        indices = split_indices(keys, split)[part]
    except ValueError as exc:
        raise TTCConfigError(
            f"cannot carve the selection split (DATASETS.SELECTION) from {source!r}: {exc}"
        ) from exc
    subset = [dicts[i] for i in indices]
    if derived.endswith(SELECTION_SUFFIX):
        _CACHE[derived] = copy.deepcopy(subset)
    return subset


def register_selection_split(name: str, split: SelectionSplit) -> tuple[str, str]:
    """Register ``name:fit`` and ``name:selection`` of the dataset ``name``; returns both names.

    Idempotent for the same split; registering another split of the same dataset replaces the
    derived datasets (e.g. a second trainer with another seed in the same process).
    """
    if name not in DatasetCatalog.list():
        raise TTCConfigError(
            f"DATASETS.TRAIN names {name!r}, which is not registered: use Detectron2's builtin "
            "names or register it (tools/train_net.py --register-coco NAME=JSON:IMAGE_ROOT)"
        )
    names = (name + FIT_SUFFIX, name + SELECTION_SUFFIX)
    for part, derived in enumerate(names):
        if derived in DatasetCatalog.list():
            if _REGISTERED.get(derived) == (name, split):
                continue
            if derived not in _REGISTERED:
                raise TTCConfigError(
                    f"a dataset named {derived!r} is already registered, not by ttc: rename it "
                    "(the suffixes ':fit' and ':selection' name ttc's selection split)"
                )
            DatasetCatalog.remove(derived)
            MetadataCatalog.remove(derived)
            _CACHE.pop(derived, None)
        DatasetCatalog.register(derived, functools.partial(_load_part, name, split, part, derived))
        _copy_metadata(name, derived)
        _REGISTERED[derived] = (name, split)
    return names


def register_selection_splits(cfg) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(fit datasets, selection datasets)`` of ``cfg.DATASETS.TRAIN``, registered.

    With ``DATASETS.SELECTION.ENABLED False``: ``(DATASETS.TRAIN, ())``, nothing registered.
    """
    names = tuple(cfg.DATASETS.TRAIN)
    if not cfg.DATASETS.SELECTION.ENABLED:
        return names, ()
    if len(names) != 1:
        raise TTCConfigError(
            f"the selection split is carved from one training dataset, DATASETS.TRAIN lists "
            f"{len(names)} ({', '.join(names)}): register their union as one dataset, or set "
            "DATASETS.SELECTION.ENABLED False (then no model selection happens)"
        )
    fit, selection = register_selection_split(names[0], selection_split(cfg))
    return (fit,), (selection,)
