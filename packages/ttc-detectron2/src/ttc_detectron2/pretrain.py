"""Pretrain a plain Detectron2 detector: the start of ttc detectors where no COCO model exists.

    python -m ttc_detectron2.pretrain \
        --config-file configs/detectron2/demo/faster_rcnn_R_18_FPN_pretrain_synthetic-coco.yaml \
        --register-coco NAME=JSON:IMAGE_ROOT [...] [--eval-only] [KEY VALUE ...]

The paper's detection base starts from a COCO-pretrained Faster R-CNN. Generated data have no
such model, and a small detector trained from scratch within a ttc run's budget learns nothing.
This launcher trains one once (the evidence study's ``pretrain`` phase,
:mod:`ttc_core.study.pretrain`, runs and caches it); ttc detectors then start from it through
``MODEL.WEIGHTS``, whose backbone keys the ttc backbone maps into ``backbone.inner.*``::

    generated scenes ─▶ GeneralizedRCNN (DefaultTrainer) ─▶ model_final.pth ─▶ MODEL.WEIGHTS
                                                                              of a ttc detector

Nothing here is ttc's model: Detectron2's stock ``GeneralizedRCNN``, built and trained by its
``DefaultTrainer`` under ``launch``, evaluated once at the end by its ``COCOEvaluator`` on
``DATASETS.TEST`` (``OUTPUT_DIR/eval_results.json``). From ttc come only the config keys of
:func:`~ttc_detectron2.add_ttc_config` (``SOLVER.OPTIMIZER: ADAM``; a small detector from scratch
learns in far fewer steps with Adam), its optimizer builder and ``--register-coco``.

Why not ``tools/train_net.py``? Its trainer carves a selection split and reports rates and
reconstructions, which a plain detector does not have.
"""

from __future__ import annotations

import json
import os
import sys

import detectron2.utils.comm as comm
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.config import get_cfg
from detectron2.engine import DefaultTrainer, default_setup, launch
from detectron2.evaluation import COCOEvaluator

from .config import add_ttc_config
from .data import register_coco_spec
from .errors import helpful_errors
from .solver import build_optimizer
from .train_net import build_parser  # the same command line: Detectron2's + --register-coco

__all__ = ["PretrainTrainer", "main", "setup"]


class PretrainTrainer(DefaultTrainer):
    """Detectron2's trainer with the box evaluator and ttc's optimizer (SGD or Adam)."""

    @classmethod
    def build_evaluator(cls, cfg, dataset_name, output_folder=None):
        if output_folder is None:
            output_folder = os.path.join(cfg.OUTPUT_DIR, "inference", dataset_name)
        return COCOEvaluator(dataset_name, tasks=("bbox",), output_dir=output_folder)

    @classmethod
    def build_optimizer(cls, cfg, model):
        return build_optimizer(cfg, model)


def setup(args):
    """Config: Detectron2 defaults + ttc's solver keys + the file + overrides."""
    for spec in args.register_coco or ():
        register_coco_spec(spec)
    cfg = get_cfg()
    add_ttc_config(cfg)
    with helpful_errors():
        cfg.merge_from_file(args.config_file)
        cfg.merge_from_list(args.opts)
    if cfg.MODEL.META_ARCHITECTURE.startswith("TTC"):
        raise SystemExit(
            f"{args.config_file}: MODEL.META_ARCHITECTURE {cfg.MODEL.META_ARCHITECTURE} is a ttc "
            "detector; train it with tools/train_net.py (this launcher pretrains plain ones)"
        )
    cfg.freeze()
    default_setup(cfg, args)
    return cfg


def _train(args):
    cfg = setup(args)
    if args.eval_only:
        model = PretrainTrainer.build_model(cfg)
        DetectionCheckpointer(model, save_dir=cfg.OUTPUT_DIR).resume_or_load(
            cfg.MODEL.WEIGHTS, resume=args.resume
        )
        results = PretrainTrainer.test(cfg, model)
    else:
        trainer = PretrainTrainer(cfg)
        trainer.resume_or_load(resume=args.resume)
        trainer.train()
        # the EvalHook's evaluation after the last iteration (DefaultTrainer.train returns it
        # only when TEST.EXPECTED_RESULTS is set)
        results = getattr(trainer, "_last_eval_results", None)
    if comm.is_main_process() and results:
        with open(os.path.join(cfg.OUTPUT_DIR, "eval_results.json"), "w") as f:
            json.dump(results, f, indent=2)
    return results


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    launch(
        _train,
        args.num_gpus,
        num_machines=args.num_machines,
        machine_rank=args.machine_rank,
        dist_url=args.dist_url,
        args=(args,),
    )


if __name__ == "__main__":
    # as ttc_detectron2.train_net: the workers ``--num-gpus N`` spawns unpickle
    # ``ttc_detectron2.pretrain._train`` by its module's name, not ``__main__``'s
    from ttc_detectron2.pretrain import main as _main

    _main(sys.argv[1:])
