"""Shared helpers of the dataset writers: argument checks, per-image seeds, output folders."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

#: split name -> code mixed into every image's seed
SPLIT_CODES = {"train": 0, "val": 1}


def check_counts(num_train: int, num_val: int) -> dict[str, int]:
    """Validate the image counts; returns ``{split: count}`` for the non-empty splits."""
    counts = {"train": num_train, "val": num_val}
    for name, n in counts.items():
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"num_{name} must be a non-negative int, got {n!r}")
    if num_train + num_val == 0:
        raise ValueError("num_train + num_val must be at least 1: nothing to write")
    return {k: v for k, v in counts.items() if v > 0}


def check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return seed


def prepare_outputs(paths: Iterable[Path], overwrite: bool) -> None:
    """Refuse to mix with earlier output, or (``overwrite``) remove it first.

    Only the given split folders / files are touched, never the rest of the root.
    """
    existing = [p for p in paths if p.exists() and (p.is_file() or any(p.iterdir()))]
    if existing and not overwrite:
        raise FileExistsError(
            f"{existing[0]} already exists; pass overwrite=True (--overwrite) to replace it"
        )
    for p in existing:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink()
