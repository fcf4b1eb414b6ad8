"""The trainer behind tools/train_net.py: Detectron2's ``DefaultTrainer`` plus ttc's pieces.

:class:`TTCTrainer` differs from ``DefaultTrainer`` only where ttc needs it:

- **Optimizer**: Adam or SGD with global-norm clipping
  (:func:`~ttc_detectron2.solver.build_optimizer`).
- **Evaluators**: ``COCOEvaluator`` (for COCO-type datasets) beside
  :class:`~ttc_detectron2.evaluation.TTCRateEvaluator`, so one evaluation is one RD point;
  :class:`~ttc_detectron2.evaluation.TTCEnhancementEvaluator` for the enhancement layer.
- **Checkpoints** carry the ``"ttc_codec"`` spec
  (:class:`~ttc_detectron2.checkpoint.TTCCheckpointer`).
- **CPU multi-process training.** ``launch`` uses gloo when there is no GPU, but
  ``create_ddp_model`` defaults to ``device_ids=[local_rank]``, which DDP rejects for CPU
  modules, and ``DefaultTrainer.__init__`` gives no way to pass other arguments. The DDP wrapper
  is therefore built by the overridable :meth:`TTCTrainer.build_ddp_model`: on CUDA it is
  exactly Detectron2's default; on the CPU it passes ``device_ids=None``. ``__init__`` builds
  the same objects in the same order as ``DefaultTrainer.__init__`` otherwise.
"""

from __future__ import annotations

import logging
import os
import weakref

from detectron2.data import MetadataCatalog
from detectron2.engine import AMPTrainer, DefaultTrainer, SimpleTrainer, TrainerBase
from detectron2.engine.defaults import create_ddp_model
from detectron2.evaluation import COCOEvaluator, DatasetEvaluators
from detectron2.utils import comm
from detectron2.utils.logger import setup_logger

from .checkpoint import TTCCheckpointer
from .errors import TTCConfigError
from .evaluation import TTCEnhancementEvaluator, TTCRateEvaluator
from .solver import build_optimizer

__all__ = ["TTCTrainer", "build_evaluator"]


def build_evaluator(cfg, dataset_name: str, output_folder: str | None = None) -> DatasetEvaluators:
    """``COCOEvaluator`` (box AP; COCO-type datasets) + ``TTCRateEvaluator`` (bpp, PSNR).

    For the enhancement layer (``TTCReconstructionEnhancement``): ``TTCEnhancementEvaluator``
    (PSNR, base + enhancement bpp) alone; it detects nothing.
    """
    if output_folder is None:
        output_folder = os.path.join(cfg.OUTPUT_DIR, "inference", dataset_name)
    if cfg.MODEL.META_ARCHITECTURE == "TTCReconstructionEnhancement":
        return DatasetEvaluators(
            [TTCEnhancementEvaluator(distributed=True, output_dir=output_folder)]
        )
    evaluators = []
    if MetadataCatalog.get(dataset_name).get("evaluator_type") == "coco":
        evaluators.append(COCOEvaluator(dataset_name, tasks=("bbox",), output_dir=output_folder))
    evaluators.append(TTCRateEvaluator(distributed=True, output_dir=output_folder))
    return DatasetEvaluators(evaluators)


class TTCTrainer(DefaultTrainer):
    """``DefaultTrainer`` for ttc detectors (see the module docstring)."""

    def __init__(self, cfg):
        # Same construction as DefaultTrainer.__init__, except the DDP wrapper, which is built
        # by build_ddp_model (the base class hard-codes create_ddp_model's GPU default).
        TrainerBase.__init__(self)
        logger = logging.getLogger("detectron2")
        if not logger.isEnabledFor(logging.INFO):
            setup_logger()
        cfg = DefaultTrainer.auto_scale_workers(cfg, comm.get_world_size())

        model = self.build_model(cfg)
        optimizer = self.build_optimizer(cfg, model)
        data_loader = self.build_train_loader(cfg)
        model = self.build_ddp_model(cfg, model)
        trainer_cls = AMPTrainer if cfg.SOLVER.AMP.ENABLED else SimpleTrainer
        self._trainer = trainer_cls(model, data_loader, optimizer)

        self.scheduler = self.build_lr_scheduler(cfg, optimizer)
        self.checkpointer = TTCCheckpointer(model, cfg.OUTPUT_DIR, trainer=weakref.proxy(self))
        self.start_iter = 0
        self.max_iter = cfg.SOLVER.MAX_ITER
        self.cfg = cfg
        self.register_hooks(self.build_hooks())

    @classmethod
    def build_ddp_model(cls, cfg, model):
        """Wrap ``model`` for multi-process training (no-op with one process).

        CUDA: Detectron2's default (``device_ids=[local_rank]``). CPU: ``device_ids=None``.
        """
        kwargs = {"broadcast_buffers": False}
        if str(cfg.MODEL.DEVICE).startswith("cpu"):
            kwargs["device_ids"] = None
        return create_ddp_model(model, **kwargs)

    @classmethod
    def build_optimizer(cls, cfg, model):
        return build_optimizer(cfg, model)

    @classmethod
    def build_evaluator(cls, cfg, dataset_name, output_folder=None):
        return build_evaluator(cfg, dataset_name, output_folder)

    def resume_or_load(self, resume: bool = True):
        check_weights(self.cfg, resume)
        return super().resume_or_load(resume=resume)


def check_weights(cfg, resume: bool = False) -> None:
    """Fail early and clearly when ``MODEL.WEIGHTS`` names a local file that does not exist."""
    path = cfg.MODEL.WEIGHTS
    if not path or "://" in path:
        return
    if resume and os.path.isfile(os.path.join(cfg.OUTPUT_DIR, "last_checkpoint")):
        return  # resuming from OUTPUT_DIR; MODEL.WEIGHTS is not read
    local = path.split("?", 1)[0]
    if not os.path.isfile(local):
        raise TTCConfigError(
            f"MODEL.WEIGHTS = {path!r}: no such file. Nothing is downloaded here: put the "
            "COCO-pretrained detector there (e.g. Detectron2's model zoo "
            "COCO-Detection/faster_rcnn_R_50_FPN_3x model_final_280758.pkl), point "
            'MODEL.WEIGHTS at it, or set MODEL.WEIGHTS "" to train from scratch'
        )
