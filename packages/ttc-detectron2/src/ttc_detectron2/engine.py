"""The trainer behind tools/train_net.py: Detectron2's ``DefaultTrainer`` plus ttc's pieces.

:class:`TTCTrainer` differs from ``DefaultTrainer`` only where ttc needs it:

- **Optimizer**: Adam or SGD with global-norm clipping, the Baseline's probe clipped apart
  (:func:`~ttc_detectron2.solver.build_optimizer`).
- **Evaluators**: ``COCOEvaluator`` (for COCO-type datasets) beside
  :class:`~ttc_detectron2.evaluation.TTCRateEvaluator`, so one evaluation is one RD point;
  :class:`~ttc_detectron2.evaluation.TTCEnhancementEvaluator` for the enhancement layer.
- **Model selection apart from the reported split** (METHOD §8). The model trains on
  ``NAME:fit`` and is evaluated every ``TEST.EVAL_PERIOD`` iterations (and after the last) on
  ``NAME:selection``, both carved from ``DATASETS.TRAIN`` (:mod:`ttc_detectron2.data`); those
  metrics are logged as ``selection/...``. :class:`SelectionCheckpointer` (Detectron2's
  ``BestCheckpointer``) keeps the best of them in ``model_best.pth``. After training,
  :class:`ReportHook` evaluates that checkpoint (the final one when no selection split is used)
  **once** on ``DATASETS.TEST``, with real bitstreams, and writes ``OUTPUT_DIR/ttc_report.json``
  (:func:`ttc_core.selection.write_report`). ``DATASETS.TEST`` is never evaluated during
  training.
- **Standalone / Continued** enhancement runs are refused unless they start from a trained
  enhancement model (:func:`check_enhancement_start`, in :meth:`TTCTrainer.resume_or_load`).
- **Checkpoints** carry the ``"ttc_codec"`` spec and the objective in force
  (:class:`~ttc_detectron2.checkpoint.TTCCheckpointer`).
- **CPU multi-process training.** ``launch`` uses gloo when there is no GPU, but
  ``create_ddp_model`` defaults to ``device_ids=[local_rank]``, which DDP rejects for CPU
  modules, and ``DefaultTrainer.__init__`` gives no way to pass other arguments. The DDP wrapper
  is therefore built by the overridable :meth:`TTCTrainer.build_ddp_model`: on CUDA it is
  exactly Detectron2's default; on the CPU it passes ``device_ids=None`` (see
  :func:`_wrapping_ddp_with`, the one place that reaches into ``DefaultTrainer.__init__``).

Everything else is ``DefaultTrainer``'s own construction (``super().__init__``) and its
documented hooks: ``build_optimizer``, ``build_evaluator``, ``build_hooks`` (which also puts a
:class:`~ttc_detectron2.checkpoint.TTCCheckpointer` in place of the default checkpointer),
``resume_or_load``, ``test``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import torch
from detectron2.data import MetadataCatalog
from detectron2.engine import AMPTrainer, DefaultTrainer, hooks
from detectron2.engine import defaults as d2_defaults
from detectron2.engine.defaults import create_ddp_model
from detectron2.evaluation import COCOEvaluator, DatasetEvaluators
from detectron2.evaluation.testing import flatten_results_dict
from detectron2.utils import comm
from detectron2.utils.logger import setup_logger

from ttc_core.checkpoint import CheckpointError, find_codec_spec, load_checkpoint, state_dict_of
from ttc_core.selection import SELECTION_PREFIX, write_report

from .checkpoint import TTCCheckpointer
from .data import is_derived, register_selection_splits
from .enhancement import ENHANCEMENT_PREFIX
from .errors import TTCConfigError
from .evaluation import TTCEnhancementEvaluator, TTCRateEvaluator
from .solver import build_optimizer

__all__ = [
    "ReportHook",
    "SelectionCheckpointer",
    "TTCAMPTrainer",
    "TTCTrainer",
    "build_evaluator",
    "check_enhancement_start",
    "check_selection_metric",
    "check_weights",
]

logger = logging.getLogger(__name__)

#: the best checkpoint on the selection split, and its record (metric, value, iteration)
BEST_CHECKPOINT = "model_best"
BEST_RECORD = "model_best.json"


def build_evaluator(cfg, dataset_name: str, output_folder: str | None = None) -> DatasetEvaluators:
    """``COCOEvaluator`` (box AP; COCO-type datasets) + ``TTCRateEvaluator`` (bpp, PSNR).

    For the enhancement layer (``TTCReconstructionEnhancement``): ``TTCEnhancementEvaluator``
    (PSNR, base + enhancement bpp) alone; it detects nothing. A fit / selection dataset has no
    ``json_file``: ``COCOEvaluator`` converts its own dicts to COCO format, afresh every time
    (a cached conversion could be another split's).
    """
    if output_folder is None:
        output_folder = os.path.join(cfg.OUTPUT_DIR, "inference", dataset_name)
    if cfg.MODEL.META_ARCHITECTURE == "TTCReconstructionEnhancement":
        return DatasetEvaluators(
            [TTCEnhancementEvaluator(distributed=True, output_dir=output_folder)]
        )
    evaluators = []
    if MetadataCatalog.get(dataset_name).get("evaluator_type") == "coco":
        evaluators.append(
            COCOEvaluator(
                dataset_name,
                tasks=("bbox",),
                output_dir=output_folder,
                allow_cached_coco=not is_derived(dataset_name),
            )
        )
    evaluators.append(TTCRateEvaluator(distributed=True, output_dir=output_folder))
    return DatasetEvaluators(evaluators)


class SelectionCheckpointer(hooks.BestCheckpointer):
    """Detectron2's ``BestCheckpointer`` on a ``selection/`` metric (``model_best.pth``).

    Three additions: the best value and its iteration are also written to ``model_best.json``,
    so that ``--resume`` continues the comparison instead of restarting it; saving the best
    leaves ``last_checkpoint`` (what ``--resume`` loads) on the last periodic checkpoint; and a
    metric the selection evaluation does not report stops training with a clear error at the
    first evaluation (instead of a warning and no best checkpoint).
    """

    def __init__(self, eval_period: int, checkpointer, metric: str, mode: str, dataset: str):
        super().__init__(eval_period, checkpointer, metric, mode, file_prefix=BEST_CHECKPOINT)
        self.metric, self.mode, self.dataset = metric, mode, dataset
        save_dir = os.path.abspath(checkpointer.save_dir)
        self.record_path = os.path.join(save_dir, BEST_RECORD)
        self.checkpoint_path = os.path.join(save_dir, BEST_CHECKPOINT + ".pth")

    def before_train(self):
        start = self.trainer.start_iter
        if start > 0 and os.path.isfile(self.record_path):
            with open(self.record_path) as f:
                record = json.load(f)
            # only a best from up to the resumed iteration is on this run's trajectory (the
            # evaluation after the last iteration is logged at MAX_ITER, the iteration resumed)
            if record.get("metric") == self.metric and record.get("iteration", start) <= start:
                self.best_metric, self.best_iter = record["value"], record["iteration"]
                logger.info("resumed: best %s so far %s", self.metric, record)

    def _best_checking(self):
        latest = self.trainer.storage.latest()
        if self.metric not in latest:
            reported = sorted(k for k in latest if k.startswith(SELECTION_PREFIX))
            raise TTCConfigError(
                f"DATASETS.SELECTION.METRIC: the selection evaluation reports no "
                f"{self.metric!r}; it reported {reported}"
            )
        before = (self.best_metric, self.best_iter)
        checkpointer = self._checkpointer
        last = checkpointer.get_checkpoint_file() if checkpointer.has_checkpoint() else None
        super()._best_checking()
        if (self.best_metric, self.best_iter) != before:
            with open(self.record_path, "w") as f:
                json.dump(self.selection(), f, indent=2)
            if last:
                # --resume continues from the last periodic checkpoint, not from the best one
                # (saved after the last iteration, that would skip an iteration)
                checkpointer.tag_last_checkpoint(os.path.basename(last))

    def selection(self) -> dict[str, Any]:
        """How the best checkpoint was chosen (the report's ``selection`` record)."""
        return {
            "metric": self.metric,
            "value": self.best_metric,
            "rule": "best",
            "mode": self.mode,
            "dataset": self.dataset,
            "iteration": self.best_iter,
        }


class ReportHook(hooks.HookBase):
    """After training: the chosen checkpoint, evaluated once on ``DATASETS.TEST`` with real
    bits, written to ``OUTPUT_DIR/ttc_report.json``.

    The chosen checkpoint is the best on the selection split (``best``, a
    :class:`SelectionCheckpointer`, on the main process) or, without a selection split, the
    final one (``"selection": null``; ``"rule": "last"`` when the selection metric was never
    finite). Runs on every process (the evaluation is distributed); only the main one writes.
    """

    def __init__(self, cfg, best: SelectionCheckpointer | None):
        if len(cfg.DATASETS.TEST) > 1:
            raise TTCConfigError(
                f"DATASETS.TEST lists {len(cfg.DATASETS.TEST)} datasets: the reported split is "
                "one dataset (evaluate others with --eval-only)"
            )
        self.cfg = cfg
        self.best = best

    def _choice(self) -> dict[str, Any]:
        best = self.best
        if best is not None and best.best_iter is not None and os.path.isfile(best.checkpoint_path):
            selection = best.selection()
            return {
                "checkpoint": best.checkpoint_path,
                "iteration": selection.pop("iteration"),
                "selection": selection,
            }
        selection = None
        if best is not None:
            # a selection split, but no finite value of its metric (e.g. AP NaN): say so
            selection = {**best.selection(), "rule": "last", "value": None}
            selection.pop("iteration")
            logger.warning(
                "no finite %s in any selection evaluation: the final model is reported", best.metric
            )
        return {
            "checkpoint": os.path.abspath(os.path.join(self.cfg.OUTPUT_DIR, "model_final.pth")),
            "iteration": self.trainer.max_iter - 1,
            "selection": selection,
        }

    def after_train(self):
        # as EvalHook: nothing after a failed training
        if self.trainer.iter + 1 < self.trainer.max_iter:
            return
        if not self.cfg.DATASETS.TEST:
            logger.warning("DATASETS.TEST is empty: no reported evaluation, no ttc_report.json")
            return
        comm.synchronize()  # the main process has written the checkpoints
        choice = comm.all_gather(self._choice() if comm.is_main_process() else None)[0]
        logger.info(
            "reported evaluation on %s of %s (iteration %s)",
            self.cfg.DATASETS.TEST[0],
            choice["checkpoint"],
            choice["iteration"],
        )
        results = self.trainer.test_checkpoint(self.cfg, choice["checkpoint"])
        self.trainer._last_eval_results = results  # what TEST.EXPECTED_RESULTS verifies
        if comm.is_main_process():
            metrics = flatten_results_dict(results)
            path = write_report(
                self.cfg.OUTPUT_DIR,
                metrics,
                dataset=self.cfg.DATASETS.TEST[0],
                checkpoint=choice["checkpoint"],
                iteration=choice["iteration"],
                selection=choice["selection"],
                num_images=metrics.get("ttc/num_images"),
            )
            logger.info("reported split: %s", path)
        comm.synchronize()


@contextlib.contextmanager
def _wrapping_ddp_with(wrap: Callable[[Any], Any]) -> Iterator[None]:
    """While ``DefaultTrainer.__init__`` runs, its DDP wrapper is ``wrap(model)``.

    ``DefaultTrainer.__init__`` wraps the model with the module function
    ``detectron2.engine.defaults.create_ddp_model(model, broadcast_buffers=False)``, whose
    ``device_ids=[local_rank]`` default DDP refuses for CPU modules; Detectron2 offers no hook,
    classmethod or config key for it. So, for the duration of that call only, the name is bound
    to ``wrap`` and restored afterwards. ``test_engine`` fails if Detectron2 stops calling it by
    that name (the run would then fail in DDP, not silently change).
    """
    original = d2_defaults.create_ddp_model
    d2_defaults.create_ddp_model = lambda model, **_defaults_args: wrap(model)
    try:
        yield
    finally:
        d2_defaults.create_ddp_model = original


class TTCAMPTrainer(AMPTrainer):
    """Detectron2's ``AMPTrainer`` on the model's device type (``cuda`` or ``cpu``) and dtype.

    ``AMPTrainer.run_step`` asserts CUDA and autocasts with ``torch.cuda.amp``; this step
    autocasts with ``torch.autocast(device_type, precision)`` instead, so ``SOLVER.AMP`` also
    trains in bfloat16 on CPUs. Gradients are scaled for float16 only (bfloat16 has float32's
    range). The ttc codec's rate is float32 under any autocast (``ttc_core.entropy``).
    """

    def __init__(self, model, data_loader, optimizer, *, precision, device_type: str):
        scaler = torch.amp.GradScaler(device_type, enabled=precision == torch.float16)
        super().__init__(model, data_loader, optimizer, grad_scaler=scaler, precision=precision)
        self.device_type = device_type

    def run_step(self):
        assert self.model.training, "TTCAMPTrainer: the model was put in eval mode"
        start = time.perf_counter()
        data = next(self._data_loader_iter)
        data_time = time.perf_counter() - start
        with torch.autocast(self.device_type, dtype=self.precision):
            loss_dict = self.model(data)
            losses = sum(loss_dict.values())
        self.optimizer.zero_grad()
        self.grad_scaler.scale(losses).backward()
        self.after_backward()
        self._write_metrics(loss_dict, data_time)
        self.grad_scaler.step(self.optimizer)  # unscales first: the clip sees true gradients
        self.grad_scaler.update()


class TTCTrainer(DefaultTrainer):
    """``DefaultTrainer`` for ttc models (see the module docstring).

    Before ``DefaultTrainer.__init__`` builds anything, the selection split is carved out of
    ``DATASETS.TRAIN`` (:func:`~ttc_detectron2.data.register_selection_splits`): the trainer
    trains on its ``fit`` part (``self.cfg.DATASETS.TRAIN``), and ``self.selection_datasets``
    are evaluated by :meth:`build_hooks`'s selection hooks.
    """

    def __init__(self, cfg):
        if not logging.getLogger("ttc_detectron2").isEnabledFor(logging.INFO):
            setup_logger(name="ttc_detectron2")  # the plugin's messages, as Detectron2's own
        check_selection_metric(cfg)
        fit, self.selection_datasets = register_selection_splits(cfg)
        cfg = cfg.clone()
        cfg.defrost()
        cfg.DATASETS.TRAIN = fit
        cfg.freeze()
        if comm.get_world_size() > 1:
            # DefaultTrainer has no hook for the DDP wrapper: see _wrapping_ddp_with
            with _wrapping_ddp_with(lambda model: self.build_ddp_model(cfg, model)):
                super().__init__(cfg)
        else:
            super().__init__(cfg)  # one process: create_ddp_model returns the model as it is
        if cfg.SOLVER.AMP.ENABLED:
            # DefaultTrainer.__init__ builds Detectron2's AMPTrainer (CUDA float16 only) and has
            # no hook to choose another; swap in the device-aware one before any hook runs
            self._trainer = TTCAMPTrainer(
                self._trainer.model,
                self._trainer.data_loader,
                self._trainer.optimizer,
                precision=getattr(torch, cfg.SOLVER.AMP.PRECISION),
                device_type=torch.device(cfg.MODEL.DEVICE).type,
            )

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

    def build_hooks(self):
        """Detectron2's hooks, with its EvalHook on ``DATASETS.TEST`` replaced by the selection
        evaluation, the best checkpoint on it, and the final reported evaluation.

        The checkpointer is a :class:`TTCCheckpointer` from here on (the codec spec and the
        objective in every checkpoint): ``DefaultTrainer.__init__`` sets a plain
        ``DetectionCheckpointer`` just before it calls this method and has no hook to choose
        its class, so it is replaced here, for the same model and directory, before any hook
        (``PeriodicCheckpointer``, the best checkpoint) takes it.
        """
        self.checkpointer = TTCCheckpointer(
            self.model, self.cfg.OUTPUT_DIR, trainer=weakref.proxy(self)
        )
        ret = super().build_hooks()
        i = next(i for i, h in enumerate(ret) if isinstance(h, hooks.EvalHook))
        best = None
        selection_hooks = []
        if self.selection_datasets:
            s = self.cfg.DATASETS.SELECTION
            period = self.cfg.TEST.EVAL_PERIOD
            selection_hooks.append(hooks.EvalHook(period, self.test_selection))
            if comm.is_main_process():
                best = SelectionCheckpointer(
                    period,
                    self.checkpointer,
                    SELECTION_PREFIX + s.METRIC,
                    s.MODE,
                    self.selection_datasets[0],
                )
                selection_hooks.append(best)
        ret[i : i + 1] = [*selection_hooks, ReportHook(self.cfg, best)]
        return ret

    def test_selection(self) -> dict[str, Any]:
        """Evaluate the model being trained on the selection split: ``{"selection": results}``
        (logged by the EvalHook as ``selection/bbox/AP``, ``selection/ttc/...``)."""
        cfg = self.cfg.clone()
        cfg.defrost()
        cfg.DATASETS.TEST = tuple(self.selection_datasets)
        cfg.freeze()
        results = self.test(cfg, self.model)
        return {SELECTION_PREFIX.rstrip("/"): results} if results else {}

    @classmethod
    def test_checkpoint(cls, cfg, checkpoint: str) -> dict[str, Any]:
        """Evaluate ``checkpoint`` on ``cfg.DATASETS.TEST`` with real bitstreams: a fresh model
        (``MODEL.TTC.TEST_ACTUAL_BITS True``), the checkpoint loaded, :meth:`test`."""
        cfg = cfg.clone()
        cfg.defrost()
        cfg.MODEL.WEIGHTS = checkpoint
        cfg.MODEL.TTC.TEST_ACTUAL_BITS = True
        cfg.freeze()
        model = cls.build_model(cfg)
        TTCCheckpointer(model, save_dir=cfg.OUTPUT_DIR).load(checkpoint, checkpointables=[])
        return cls.test(cfg, model)

    def resume_or_load(self, resume: bool = True):
        check_weights(self.cfg, resume)
        check_enhancement_start(self.cfg, resume)
        return super().resume_or_load(resume=resume)


def _resuming(cfg, resume: bool) -> bool:
    return resume and os.path.isfile(os.path.join(cfg.OUTPUT_DIR, "last_checkpoint"))


def check_weights(cfg, resume: bool = False) -> None:
    """Fail early and clearly when ``MODEL.WEIGHTS`` names a local file that does not exist."""
    path = cfg.MODEL.WEIGHTS
    if not path or "://" in path:
        return
    if _resuming(cfg, resume):
        return  # resuming from OUTPUT_DIR; MODEL.WEIGHTS is not read
    local = path.split("?", 1)[0]
    if not os.path.isfile(local):
        raise TTCConfigError(
            f"MODEL.WEIGHTS = {path!r}: no such file. Nothing is downloaded here: put the "
            "COCO-pretrained detector there (e.g. Detectron2's model zoo "
            "COCO-Detection/faster_rcnn_R_50_FPN_3x model_final_280758.pkl), point "
            'MODEL.WEIGHTS at it, or set MODEL.WEIGHTS "" to train from scratch'
        )


def check_selection_metric(cfg) -> None:
    """Refuse a selection metric the run cannot move: Standalone and Continued train only the
    entropy model (f_e and g_e frozen), so their PSNR is fixed and "best" would be the first
    evaluation; they select on the rate."""
    if cfg.MODEL.META_ARCHITECTURE != "TTCReconstructionEnhancement":
        return
    e, s = cfg.MODEL.TTC.ENHANCEMENT, cfg.DATASETS.SELECTION
    if s.ENABLED and (e.STANDALONE or e.CONTINUED) and "psnr" in s.METRIC:
        stage = "STANDALONE" if e.STANDALONE else "CONTINUED"
        raise TTCConfigError(
            f"DATASETS.SELECTION.METRIC = {s.METRIC!r} with MODEL.TTC.ENHANCEMENT.{stage} True: "
            "only the entropy model trains (f_e and g_e are frozen), the PSNR cannot change; "
            "select on the rate: DATASETS.SELECTION.METRIC 'ttc/bpp_enhancement_estimated', "
            "DATASETS.SELECTION.MODE 'min'"
        )


def check_enhancement_start(cfg, resume: bool = False) -> None:
    """Refuse a Standalone or Continued enhancement run that does not start from a trained
    conditional enhancement model.

    Both stages retrain only the entropy model of such a model (f_e and g_e frozen): from
    anything else they would measure an untrained codec. Accepted starts: ``--resume`` from a
    checkpoint in ``OUTPUT_DIR``, or ``MODEL.WEIGHTS`` naming a checkpoint that holds
    ``enhancement.*`` weights of a conditional model.
    """
    if cfg.MODEL.META_ARCHITECTURE != "TTCReconstructionEnhancement":
        return
    e = cfg.MODEL.TTC.ENHANCEMENT
    if not (e.STANDALONE or e.CONTINUED):
        return
    if _resuming(cfg, resume):
        return
    stage = "STANDALONE" if e.STANDALONE else "CONTINUED"
    need = (
        f"MODEL.TTC.ENHANCEMENT.{stage} True retrains only the entropy model of a trained "
        "conditional enhancement model: set MODEL.WEIGHTS to its checkpoint (the model_final.pth "
        "of a run of the conditional enhancement config), or --resume a run in OUTPUT_DIR"
    )
    path = cfg.MODEL.WEIGHTS
    if not path:
        raise TTCConfigError(f"{need}. MODEL.WEIGHTS is empty")
    try:
        ckpt = load_checkpoint(path)
        state = state_dict_of(ckpt)
    except CheckpointError as exc:
        raise TTCConfigError(f"{need}. MODEL.WEIGHTS = {path!r}: {exc}") from exc
    if not any(str(k).startswith(ENHANCEMENT_PREFIX) for k in state):
        raise TTCConfigError(
            f"{need}. MODEL.WEIGHTS = {path!r} holds no enhancement weights "
            f"('{ENHANCEMENT_PREFIX}*'): a detection base alone is not a start"
        )
    kwargs = ((find_codec_spec(ckpt) or {}).get("enhancement") or {}).get("kwargs") or {}
    trained_as = [k for k in ("standalone", "continued") if kwargs.get(k)]
    if trained_as:
        raise TTCConfigError(
            f"{need}. MODEL.WEIGHTS = {path!r} is a {trained_as[0]} model, not the conditional "
            "one: Standalone and Continued both start from the same conditional checkpoint"
        )
