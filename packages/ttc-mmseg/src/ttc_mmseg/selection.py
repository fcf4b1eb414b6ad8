"""Model selection apart from the reported split (METHOD §8), in MMEngine's terms.

::

    train_dataloader.dataset = TTCSelectionSplit(part='fit',       dataset=<training split>)
    val_dataloader.dataset   = TTCSelectionSplit(part='selection', dataset=<training split>)
    test_dataloader.dataset  = <the reported split (Cityscapes val)>

- :class:`TTCSelectionSplit` (a dataset wrapper, registered in ``DATASETS``) carves the
  selection split from the training split with :mod:`ttc_core.selection`: deterministic by a
  seeded hash of the images' file names (``img_path``), configurable by ``size`` (a fraction or
  a count), ``seed`` or an explicit ``files`` list. The two parts never share an image.
- The periodic evaluations (``val_dataloader``, ``val_evaluator`` with ``prefix='selection'``)
  give ``selection/rmse``, ``selection/mIoU``, ``selection/bpp_estimated``, ...; the best
  checkpoint (``CheckpointHook.save_best``) and early stopping (``EarlyStoppingHook``) use them.
- :func:`report` evaluates the chosen checkpoint **once**, at the end of training, on
  ``test_dataloader`` with real bitstreams (``model.test_cfg.actual_bits=True`` for that
  evaluation), and writes ``work_dir/ttc_report.json`` (:func:`ttc_core.selection.write_report`)
  with plain metric keys (``rmse``, ``bpp``, ``bpp_estimated``, ``psnr_direct``, ``mIoU``,
  ``bpp_base``, ...). ``tools/train.py`` (:func:`ttc_mmseg.launch.train`) calls it after
  ``runner.train()``; MMSeg's own ``tools/train.py`` trains the same configs without it.
- :func:`check_protocol` refuses configs that would select on the reported split.
"""

from __future__ import annotations

import contextlib
import os.path as osp
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from mmengine.dist import barrier, is_main_process
from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmseg.registry import DATASETS

from ttc_core.selection import (
    SELECTION_PREFIX,
    SelectionSplit,
    selection_keys,
    split_indices,
    write_report,
)

__all__ = ["PARTS", "TTCSelectionSplit", "check_protocol", "dataset_name", "report"]

PARTS = ("fit", "selection")
#: the ``prefix`` of the selection split's metrics (``BaseMetric`` adds the ``/``)
SELECTION_METRIC_PREFIX = SELECTION_PREFIX.rstrip("/")


def _relative_prefix(dataset) -> str | None:
    prefix = (getattr(dataset, "data_prefix", None) or {}).get("img_path")
    if not prefix:
        return None
    root = getattr(dataset, "data_root", None)
    if root and osp.abspath(prefix).startswith(osp.abspath(root)):
        return osp.relpath(prefix, root)
    return prefix


def dataset_name(dataset) -> str:
    """A readable name of a dataset for reports: ``CityscapesDataset(leftImg8bit/val)``, or
    ``CityscapesDataset(leftImg8bit/train):selection`` for a part of a selection split."""
    name = getattr(dataset, "ttc_name", None)
    if name:
        return name
    prefix = _relative_prefix(dataset)
    return f"{type(dataset).__name__}({prefix})" if prefix else type(dataset).__name__


@DATASETS.register_module()
class TTCSelectionSplit(torch.utils.data.Dataset):
    """One part of a training split: the images to fit on, or the selection split.

    Args:
        dataset: the training split (a dataset config, or a built MMEngine ``BaseDataset``);
            its items' ``img_path`` file names are the keys of the split.
        part: ``'fit'`` (train on it) or ``'selection'`` (select the checkpoint on it).
        size: selection images: a fraction of the training split in (0, 1) (default 0.1), or
            a count >= 1.
        seed: seed of the ranking (another seed, another split).
        files: file names of the selection images instead of ``size`` / ``seed``.

    Use the same ``dataset``, ``size``, ``seed`` and ``files`` for both parts (the training
    and the validation pipelines may differ): :func:`check_protocol` checks it. A failed
    item is re-drawn inside the part, as ``BaseDataset.__getitem__`` re-draws inside a dataset.

    The part indexes the built dataset rather than taking ``BaseDataset.get_subset``: that
    copies the dataset with a ``copy.deepcopy`` memo that is a mutable default argument
    (mmengine 0.10.7 ``_copy_without_annotation(memo=dict())``), shared by every call in the
    process, so an object whose ``id`` was reused after garbage collection is "copied" as a
    stale object from an earlier call (seen: a dataset in place of a pipeline, "object is not
    callable" in the third of several runners).
    """

    def __init__(
        self,
        dataset: Mapping | Any,
        part: str,
        size: float = 0.1,
        seed: int = 0,
        files: Sequence[str] = (),
    ):
        if part not in PARTS:
            raise ValueError(f"TTCSelectionSplit part must be one of {PARTS}, got {part!r}")
        self.part = part
        self.split = SelectionSplit(size=size, seed=int(seed), files=tuple(files))
        full = DATASETS.build(dataset) if isinstance(dataset, Mapping) else dataset
        if not hasattr(full, "prepare_data"):
            raise TypeError(
                f"TTCSelectionSplit needs an MMEngine BaseDataset (with prepare_data()), "
                f"got {type(full).__name__}"
            )
        full.full_init()
        keys = selection_keys([full.get_data_info(i)["img_path"] for i in range(len(full))])
        fit, selection = split_indices(keys, self.split)
        self.indices = fit if part == "fit" else selection
        self.keys = [keys[i] for i in self.indices]
        self.num_source = len(keys)
        self.source_name = dataset_name(full)
        self.ttc_name = f"{self.source_name}:{part}"
        self.dataset = full
        print_log(
            f"selection split of {self.source_name} (size {self.split.size}, seed "
            f"{self.split.seed}{', file list' if self.split.files else ''}): '{part}' has "
            f"{len(self.indices)} of {len(keys)} images",
            logger="current",
        )

    @property
    def metainfo(self) -> dict:
        return self.dataset.metainfo

    def full_init(self) -> None:
        """Nothing to do: the split is made when the wrapper is built."""

    def get_data_info(self, idx: int) -> dict:
        return self.dataset.get_data_info(self.indices[idx])

    def __getitem__(self, idx: int):
        full = self.dataset
        index = self.indices[idx]
        if full.test_mode:
            return full[index]  # raises on a failed item, as MMEngine does in test mode
        for _ in range(full.max_refetch + 1):
            data = full.prepare_data(index)
            if data is not None:
                return data
            index = self.indices[np.random.randint(0, len(self.indices))]
        raise RuntimeError(
            f"{self.ttc_name}: no valid item after {full.max_refetch + 1} draws; check the "
            "dataset's files and pipeline"
        )

    def __len__(self) -> int:
        return len(self.indices)

    def __repr__(self) -> str:
        return f"TTCSelectionSplit({self.ttc_name}, {len(self)} of {self.num_source} images)"


# -- the protocol ----------------------------------------------------------------------------
def _metrics(evaluator_cfg) -> list[dict]:
    if evaluator_cfg is None:
        return []
    if isinstance(evaluator_cfg, Mapping):
        return list(evaluator_cfg.get("metrics", [evaluator_cfg]))
    return list(evaluator_cfg)


def _split_args(cfg: Mapping) -> tuple:
    return (
        cfg.get("size", 0.1),
        cfg.get("seed", 0),
        tuple(cfg.get("files", ())),
        _source(cfg.get("dataset") or {}),
    )


def _source(dataset_cfg: Mapping) -> tuple:
    """What identifies a dataset's image list in a config (not its pipeline)."""
    return (
        dataset_cfg.get("type"),
        str(dataset_cfg.get("data_root")),
        repr(dataset_cfg.get("data_prefix")),
        repr(dataset_cfg.get("ann_file")),
    )


def check_protocol(cfg: Mapping) -> str | None:
    """Refuse a config that would select the checkpoint on its reported split.

    Raises ``ValueError`` when the validation and the test datasets are the same, when the
    selection split is carved from the test dataset, when the selection split's metrics are
    not prefixed ``selection`` or the reported ones are, or when the ``fit`` and ``selection``
    parts are carved differently. Returns a warning (or None)
    for configs that validate on something other than a selection split (then nothing here
    vouches for the selection).
    """
    train = (cfg.get("train_dataloader") or {}).get("dataset") or {}
    val = (cfg.get("val_dataloader") or {}).get("dataset") or {}
    test = (cfg.get("test_dataloader") or {}).get("dataset") or {}
    if val and test and (val == test or _source(val) == _source(test)):
        raise ValueError(
            "val_dataloader and test_dataloader evaluate the same images: the reported split "
            "would choose the checkpoint. Validate on a selection split of the training split: "
            "val_dataloader.dataset=dict(type='TTCSelectionSplit', part='selection', "
            "dataset=<training split, test pipeline>)"
        )
    for metric in _metrics(cfg.get("test_evaluator")):
        if str(metric.get("prefix") or "").split("/")[0] == SELECTION_METRIC_PREFIX:
            raise ValueError(
                f"test_evaluator {metric.get('type')} has prefix {metric.get('prefix')!r}: the "
                "reported split's metrics are unprefixed (test_evaluator = val_evaluator?)"
            )
    carved_from = _source(val.get("dataset") or {})
    if val.get("type") == "TTCSelectionSplit" and test and carved_from == _source(test):
        raise ValueError(
            "the selection split is carved from the reported split (test_dataloader's images): "
            "carve it from the training split"
        )
    if val.get("type") != "TTCSelectionSplit":
        return (
            "val_dataloader does not evaluate a selection split (TTCSelectionSplit): the "
            "best checkpoint and early stopping depend on whatever it holds"
        )
    if val.get("part") != "selection":
        raise ValueError(f"val_dataloader's TTCSelectionSplit has part={val.get('part')!r}")
    if train.get("type") != "TTCSelectionSplit" or train.get("part") != "fit":
        raise ValueError(
            "val_dataloader evaluates a selection split, but train_dataloader does not train on "
            "the rest of it: set train_dataloader.dataset=dict(type='TTCSelectionSplit', "
            "part='fit', ...) with the same dataset, size, seed and files"
        )
    if _split_args(train) != _split_args(val):
        raise ValueError(
            "the 'fit' and 'selection' parts are carved differently (dataset, size, seed or "
            f"files): {_split_args(train)} vs {_split_args(val)}; they would overlap"
        )
    for metric in _metrics(cfg.get("val_evaluator")):
        if str(metric.get("prefix") or "").split("/")[0] != SELECTION_METRIC_PREFIX:
            raise ValueError(
                f"val_evaluator {metric.get('type')} needs prefix='{SELECTION_METRIC_PREFIX}' "
                "(its metrics come from the selection split)"
            )
    return None


# -- the reported evaluation ------------------------------------------------------------------
@contextlib.contextmanager
def real_bits(model):
    """``model.test_cfg.actual_bits=True`` for the duration (real rANS bitstreams)."""
    test_cfg = getattr(model, "test_cfg", None)
    if test_cfg is None:
        raise TypeError(f"{type(model).__name__} has no test_cfg: not a ttc segmentor")
    old = test_cfg.get("actual_bits", False)
    test_cfg["actual_bits"] = True
    try:
        yield
    finally:
        test_cfg["actual_bits"] = old


def _checkpoint_hook(runner) -> CheckpointHook | None:
    return next((h for h in runner.hooks if isinstance(h, CheckpointHook)), None)


def chosen_checkpoint(runner) -> tuple[str | None, dict | None]:
    """The best checkpoint on the selection split (message hub ``best_ckpt``, as
    ``CheckpointHook(save_best=...)`` records it) and how it was chosen; ``(None, {rule:
    'last'})`` without one (then the final model is reported)."""
    hub = runner.message_hub
    hook = _checkpoint_hook(runner)
    keys = list(getattr(hook, "key_indicators", None) or []) if hook is not None else []
    val_name = None
    if runner.val_loop is not None:
        val_name = dataset_name(runner.val_dataloader.dataset)
    if keys:
        key = keys[0]
        suffix = "" if len(keys) == 1 else f"_{key}"
        path = hub.get_info(f"best_ckpt{suffix}")
        if path:
            rule = hook.rules[0] if getattr(hook, "rules", None) else None
            selection = dict(
                metric=key,
                value=hub.get_info(f"best_score{suffix}"),
                rule="best",
                order=rule,
                dataset=val_name,
            )
            return str(path), selection
    return None, dict(metric=None, value=None, rule="last", dataset=val_name)


def report(runner) -> Path | None:
    """Evaluate the chosen checkpoint once on ``test_dataloader`` with real bits and write
    ``work_dir/ttc_report.json``; returns its path (None on other ranks than the first).

    Call it after ``runner.train()`` (:func:`ttc_mmseg.launch.train` does).
    """
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    path, selection = chosen_checkpoint(runner)
    iteration, epoch = runner.iter, runner.epoch
    if path is not None:
        barrier()  # the first rank saves the checkpoint: the others wait until it is written
        checkpoint = runner.load_checkpoint(path)
        meta = checkpoint.get("meta", {})
        iteration, epoch = meta.get("iter", iteration), meta.get("epoch", epoch)
    else:
        last = osp.join(runner.work_dir, "last_checkpoint")
        if osp.isfile(last):
            with open(last) as f:
                saved = f.read().strip()
            # the last checkpoint is the final state only when it was saved at the end
            if saved and osp.basename(saved) in (f"epoch_{epoch}.pth", f"iter_{iteration}.pth"):
                path = saved
    selection = dict(selection, epoch=epoch)
    print_log(
        f"reported evaluation: {path or 'the final model'} (chosen by {selection['rule']}"
        + (f" {selection['metric']} = {selection['value']}" if selection["metric"] else "")
        + ") on the test split, with real bitstreams",
        logger="current",
    )
    with real_bits(model):
        metrics = runner.test()
    if not is_main_process():
        return None
    test_set = runner.test_dataloader.dataset
    out = write_report(
        runner.work_dir,
        metrics,
        dataset=dataset_name(test_set),
        checkpoint=path,
        iteration=iteration,
        selection=selection,
        num_images=len(test_set),
    )
    print_log(f"reported metrics written to {out}", logger="current")
    return out
