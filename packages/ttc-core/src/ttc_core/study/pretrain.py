"""The study's ``pretrain`` phase: a plain detector trained once on generated scenes, cached.

The paper's detection base starts from a COCO-pretrained Faster R-CNN. The study has no COCO,
and a ResNet-18 Faster R-CNN trained from scratch for the demo's 100 iterations learns nothing
(box AP ≈ 0, the trivial predictor's). So the study pretrains its own detector, by the
project's own script, and both the Proposed and the Baseline detectors (and everything trained
on them) start from the same weights via ``MODEL.WEIGHTS``::

    generated scenes (own seed) ─▶ Detectron2 GeneralizedRCNN (DefaultTrainer) ─▶ model_final.pth
       never the study's data         python -m ttc_detectron2.pretrain         │  sha256
                                                                               ▼
                      ttc_{proposed,baseline}_R_18_FPN_demo_synthetic-coco.yaml MODEL.WEIGHTS

The launcher is the Detectron2 plugin's (:mod:`ttc_detectron2.pretrain`), run as a process as
every training of the study is: ttc-core itself imports no framework.

It is built once and cached under ``$TTC_PRETRAINED_CACHE`` (default
``~/.cache/ttc/pretrained/``), in a folder named by :func:`cache_key`: a hash of the config
file's text, the overrides and the data parameters. Any change to those builds a new entry;
an entry whose record (``ttc_pretrained.json``) exists and whose weights still match the
recorded sha256 is reused: later ``make demo`` / ``ttc study`` runs, of any scale with the same
pretraining, skip the phase. An interrupted build leaves no record and is redone.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..rd.collect import sha256_file

__all__ = [
    "RECORD",
    "Pretraining",
    "PretrainError",
    "cache_key",
    "cache_root",
    "ensure_pretrained",
    "pretrain_command",
    "read_record",
]

#: what a finished build writes (weights, sha256, command, box AP); its absence = not built
RECORD = "ttc_pretrained.json"
#: the dataset names the pretraining config trains and evaluates on
TRAIN_NAME, VAL_NAME = "ttc_pretrain_train", "ttc_pretrain_val"
#: bump when the build procedure itself changes (forces new cache entries)
_VERSION = 1


class PretrainError(RuntimeError):
    """The pretraining could not be built or its cached weights are unusable."""


@dataclass(frozen=True)
class Pretraining:
    """A pretrained detector: its config, its generated data, its schedule.

    Attributes:
        config: the Detectron2 config, relative to the repository root.
        coco: generated COCO-layout data ``(train, val, (H, W))``; ``val`` are the pretraining
            set's own held-out scenes (its box AP is measured there).
        seed: the data seed. The study's data use seed 0, so any other seed gives other scenes
            (``make_scene`` seeds each image with ``(seed, dataset, split, index)``).
        options: launcher overrides (``KEY VALUE`` pairs: the schedule).
        experiments: the detection experiments that start from it.
    """

    config: str
    coco: tuple[int, int, tuple[int, int]]
    seed: int
    options: tuple[str, ...] = ()
    experiments: tuple[str, ...] = ("coco_detection",)

    def __post_init__(self) -> None:
        if self.seed == 0:
            raise ValueError("the pretraining data need a seed of their own (the study's is 0)")


def cache_root() -> Path:
    """``$TTC_PRETRAINED_CACHE``, else ``~/.cache/ttc/pretrained``."""
    env = os.environ.get("TTC_PRETRAINED_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "ttc" / "pretrained"


def cache_key(p: Pretraining, repo: str | os.PathLike = ".") -> str:
    """Name of the cache entry: config name + a hash of what determines the weights.

    Hashed: the config file's bytes, the overrides, the data parameters and seed, and the build
    procedure's version. Not hashed: the device and the folders (the weights do not depend on
    where they are stored; the record says where they were built).
    """
    path = Path(repo) / p.config
    if not path.is_file():
        raise PretrainError(f"pretraining config {path} not found")
    payload = {
        "version": _VERSION,
        "config": hashlib.sha256(path.read_bytes()).hexdigest(),
        "options": list(p.options),
        "coco": [p.coco[0], p.coco[1], list(p.coco[2])],
        "seed": p.seed,
    }
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]
    return f"{path.stem}-{digest}"


def pretrain_command(
    p: Pretraining,
    folder: Path,
    repo: str | os.PathLike = ".",
    device: str = "cpu",
    python: str = sys.executable,
) -> list[str]:
    """The launcher command that trains ``p`` into ``folder/train``."""
    coco = folder / "data" / "coco"
    ann = coco / "annotations"
    return [
        python,
        "-m",
        "ttc_detectron2.pretrain",
        "--config-file",
        str(Path(repo) / p.config),
        "--register-coco",
        f"{TRAIN_NAME}={ann}/instances_train2017.json:{coco}/train2017",
        "--register-coco",
        f"{VAL_NAME}={ann}/instances_val2017.json:{coco}/val2017",
        "MODEL.DEVICE",
        device,
        *p.options,
        "OUTPUT_DIR",
        str(folder / "train"),
    ]


def read_record(folder: Path, verify: bool = True) -> dict[str, Any] | None:
    """The record of a finished build in ``folder`` (None if unfinished); with ``verify``, the
    weights must exist and match the recorded sha256 (else :class:`PretrainError`)."""
    path = folder / RECORD
    if not path.is_file():
        return None
    record = json.loads(path.read_text())
    weights = folder / record["weights"]
    if verify:
        if not weights.is_file():
            raise PretrainError(f"{path} names {weights}, which does not exist: delete {folder}")
        if sha256_file(weights) != record["sha256"]:
            raise PretrainError(
                f"{weights} does not match the sha256 in {path} (changed or truncated): "
                f"delete {folder} to rebuild it"
            )
    return {**record, "path": str(weights), "folder": str(folder)}


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """One build per cache entry at a time (two studies started together wait for each other)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as f:
        try:
            import fcntl

            fcntl.flock(f, fcntl.LOCK_EX)
        except ImportError:  # not POSIX: no locking
            pass
        yield


def _box_ap(train_dir: Path) -> dict[str, float]:
    path = train_dir / "eval_results.json"
    if not path.is_file():
        return {}
    bbox = json.loads(path.read_text()).get("bbox", {})
    return {k: bbox[k] for k in ("AP", "AP50", "AP75") if k in bbox}


def _model_only(checkpoint: Path, out: Path) -> Path:
    """The weights alone (``{"model": ...}``, a third of the size: no Adam state), which is all
    ``MODEL.WEIGHTS`` reads; the training folder's full checkpoint is removed."""
    import torch

    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    torch.save({"model": state["model"], "iteration": state.get("iteration")}, out)
    checkpoint.unlink()
    return out


def ensure_pretrained(
    p: Pretraining,
    repo: str | os.PathLike = ".",
    *,
    cache: str | os.PathLike | None = None,
    device: str = "cpu",
    env: dict[str, str] | None = None,
    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr, flush=True),
) -> dict[str, Any]:
    """Build ``p`` unless cached; returns its record (``path``, ``sha256``, ``box_AP``, ...)."""
    from ..datasets import write_coco_dataset

    repo = Path(repo).resolve()
    root = Path(cache) if cache is not None else cache_root()
    folder = root / cache_key(p, repo)
    record = read_record(folder)
    if record is not None:
        log(f"pretrain: cached {record['path']} (sha256 {record['sha256'][:12]}…), reused")
        return {**record, "cached": True}
    with _locked(folder):
        record = read_record(folder)  # built by another study while this one waited
        if record is not None:
            return {**record, "cached": True}
        started = time.time()
        n, v, size = p.coco
        write_coco_dataset(folder / "data" / "coco", n, v, size, p.seed, overwrite=True)
        t_data = time.time() - started
        command = pretrain_command(p, folder, repo, device)
        log(f"pretrain: {n} generated scenes (seed {p.seed}) → {folder}")
        with open(folder / "pretrain.log", "w") as out:
            rc = subprocess.call(
                command, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
            )
        if rc != 0:
            raise PretrainError(f"pretraining failed (exit {rc}); see {folder / 'pretrain.log'}")
        final = folder / "train" / "model_final.pth"
        if not final.is_file():
            raise PretrainError(f"pretraining wrote no {final}; see {folder / 'pretrain.log'}")
        weights = _model_only(final, folder / "model_pretrained.pth")
        record = {
            "key": folder.name,
            "weights": str(weights.relative_to(folder)),
            "sha256": sha256_file(weights),
            "bytes": weights.stat().st_size,
            "command": shlex.join(command),
            "config": p.config,
            "options": list(p.options),
            "data": {"coco": [n, v, list(size)], "seed": p.seed},
            "device": device,
            "box_AP": _box_ap(folder / "train"),
            "seconds": {"data": round(t_data, 1), "total": round(time.time() - started, 1)},
        }
        (folder / RECORD).write_text(json.dumps(record, indent=2))
        log(
            f"pretrain: built in {record['seconds']['total']:.0f}s, box AP on its own held-out "
            f"scenes {record['box_AP'].get('AP', float('nan')):.1f}"
        )
    return {**record, "path": str(weights), "folder": str(folder), "cached": False}
