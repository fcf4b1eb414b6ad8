"""Model selection apart from the reported split (METHOD §8), for both adapters.

Early stopping and the best-checkpoint choice must not look at the split whose numbers are
reported (COCO val2017, Cityscapes val): that makes every RD point optimistic. ttc carves a
**selection split** from the *training* split, deterministically, and evaluates the reported
split **once**, at the end, with real bits::

    training split ──┬── fit        (what the model trains on)
                     └── selection  (periodic evaluations, early stopping, best checkpoint)
    reported split ───── evaluated once, with the chosen checkpoint  ─▶ ttc_report.json

Which images are in the selection split depends only on their keys (file names or image ids),
the seed and the size, never on the order a dataset lists them in: each key is ranked by a
seeded SHA-256 and the lowest ranks are taken. A file list can name the selection images
instead.

Every run's reported evaluation is one JSON document in the run directory,
:data:`REPORT_FILE`, written by :func:`write_report`; ``ttc rd collect`` reads it, and the RD
JSON records which split each number comes from.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "REPORT_FILE",
    "REPORT_SPLIT",
    "SELECTION_PREFIX",
    "SELECTION_SPLIT",
    "SelectionSplit",
    "read_report",
    "selection_keys",
    "split_indices",
    "write_report",
]

#: the reported evaluation of a run, in its output / work directory
REPORT_FILE = "ttc_report.json"
#: the ``split`` value of records from the selection split / the reported split
SELECTION_SPLIT = "selection"
REPORT_SPLIT = "report"
#: metrics of evaluations on the selection split are logged under this prefix
SELECTION_PREFIX = "selection/"


@dataclass(frozen=True)
class SelectionSplit:
    """How the selection split is carved from the training split.

    Args:
        size: number of selection images (an integer >= 1), or a fraction of the training
            split in (0, 1). At least one image stays in each part.
        seed: seed of the ranking (another seed, another split).
        files: explicit keys of the selection images (file names, paths or ids); when given,
            ``size`` and ``seed`` are unused and every listed key must exist.
    """

    size: float = 0.1
    seed: int = 0
    files: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.files:
            size = self.size
            if isinstance(size, bool) or not isinstance(size, (int, float)):
                raise ValueError(f"selection split size must be a number, got {size!r}")
            if not math.isfinite(size) or size <= 0 or (size >= 1 and size != int(size)):
                raise ValueError(
                    f"selection split size must be an integer >= 1 (images) or a fraction in "
                    f"(0, 1), got {size!r}"
                )

    def count(self, total: int) -> int:
        """How many of ``total`` training images go to the selection split."""
        if total < 2:
            raise ValueError(
                f"the training split has {total} image(s): a selection split needs at least 2 "
                "(one to fit, one to select on)"
            )
        n = int(self.size) if self.size >= 1 else max(1, round(self.size * total))
        if n >= total:
            raise ValueError(
                f"selection split of {n} images leaves none of the {total} training images to "
                "train on: choose a smaller size"
            )
        return n


def _rank(key: str, seed: int) -> bytes:
    return hashlib.sha256(f"{seed}\0{key}".encode()).digest()


def selection_keys(paths: Sequence[Any]) -> list[str]:
    """Keys of dataset items: the file name of a path (so a moved data root keeps its split),
    the value as text otherwise (e.g. COCO image ids)."""
    return [
        os.path.basename(str(p)) if isinstance(p, (str, os.PathLike)) else str(p) for p in paths
    ]


def split_indices(keys: Sequence[str], split: SelectionSplit) -> tuple[list[int], list[int]]:
    """``(fit, selection)`` indices into ``keys``, each in the original order.

    Raises ``ValueError`` for duplicate keys (they would make the split ambiguous) and for
    listed files that are not in ``keys``.
    """
    keys = [str(k) for k in keys]
    if len(set(keys)) != len(keys):
        seen: set[str] = set()
        dup = next(k for k in keys if k in seen or seen.add(k))
        raise ValueError(f"the training split lists {dup!r} twice: keys must be unique")
    if split.files:
        wanted = set(split.files)
        missing = sorted(wanted - set(keys))
        if missing:
            raise ValueError(
                f"{len(missing)} selection file(s) are not in the training split, e.g. "
                f"{missing[0]!r}"
            )
        chosen = {i for i, k in enumerate(keys) if k in wanted}
        if len(chosen) >= len(keys):
            raise ValueError("the selection file list names every training image")
    else:
        n = split.count(len(keys))
        order = sorted(range(len(keys)), key=lambda i: _rank(keys[i], split.seed))
        chosen = set(order[:n])
    fit = [i for i in range(len(keys)) if i not in chosen]
    return fit, sorted(chosen)


def write_report(
    run_dir: str | os.PathLike,
    metrics: Mapping[str, Any],
    *,
    dataset: str,
    checkpoint: str | None,
    iteration: int | None,
    selection: Mapping[str, Any] | None,
    num_images: int | None = None,
) -> Path:
    """Write the reported-split evaluation of a run to ``run_dir/ttc_report.json``.

    Args:
        metrics: the evaluation's results, flat (``"bbox/AP"``, ``"bpp"``, ...); ``bpp`` keys
            follow ttc's rate vocabulary (``bpp`` = real bits, ``bpp_estimated`` = estimate).
        dataset: name of the reported split.
        checkpoint: the evaluated checkpoint (chosen on the selection split).
        iteration: the training iteration / epoch of that checkpoint.
        selection: how it was chosen, e.g. ``{"metric": "selection/bbox/AP", "value": 31.2,
            "rule": "best", "dataset": "coco_2017_train:selection"}``; None when no selection
            split was used (the last checkpoint is reported).
    """
    record: dict[str, Any] = {
        "split": REPORT_SPLIT,
        "dataset": dataset,
        "checkpoint": checkpoint,
        "iteration": iteration,
        "selection": dict(selection) if selection is not None else None,
    }
    if num_images is not None:
        record["num_images"] = int(num_images)
    clash = sorted(set(metrics) & set(record))
    if clash:
        raise ValueError(f"metric names {clash} clash with the report's own keys")
    record.update({str(k): _number(v) for k, v in metrics.items()})
    path = Path(run_dir) / REPORT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)  # a half-written report is never read
    return path


def _number(value: Any) -> Any:
    try:
        return float(value) if not isinstance(value, (str, bool, type(None))) else value
    except (TypeError, ValueError):
        return value


def read_report(run_dir: str | os.PathLike) -> dict[str, Any] | None:
    """The run's reported evaluation (:func:`write_report`), or None when it has none."""
    path = Path(run_dir) / REPORT_FILE
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("split") != REPORT_SPLIT:
        raise ValueError(f'{path}: not a ttc report (no "split": "report")')
    return data
