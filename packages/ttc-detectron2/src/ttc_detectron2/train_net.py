"""Train / evaluate a ttc detector with Detectron2: the launcher of ``tools/train_net.py``.

    python -m ttc_detectron2.train_net --config-file NAME_OR_FILE \
        [--num-gpus N] [--resume] [--eval-only] [KEY VALUE ...]
    ttc-d2-train ...                       (the same, as a console script)

``--config-file`` takes a file, or the name of a config shipped in this package (see
:mod:`ttc_detectron2.model_zoo`; ``python -m ttc_detectron2.model_zoo --list``), e.g.
``--config-file ttc_proposed_R_50_FPN_1x_coco.yaml``; an existing file always wins.

Everything of Detectron2's ``tools/train_net.py`` applies (``--num-machines``,
``--machine-rank``, ``--dist-url``, config overrides at the end). In addition:

    --register-coco NAME=JSON:IMAGE_ROOT   register a COCO-format dataset under NAME (repeatable;
                                           in every worker), e.g. to train on your own data:
                                           ... --register-coco mine=ann.json:images
                                               DATASETS.TRAIN "('mine',)"

Training carves a selection split from DATASETS.TRAIN (``DATASETS.SELECTION``), evaluates it
every TEST.EVAL_PERIOD iterations (``selection/...`` in metrics.json), keeps the best checkpoint
(model_best.pth) and evaluates it once, at the end, on DATASETS.TEST with real bitstreams:
OUTPUT_DIR/ttc_report.json (see ttc_detectron2.engine).

Without a GPU, training runs on the CPU (``MODEL.DEVICE cpu``) and ``--num-gpus N`` starts N
CPU processes (gloo). ``--eval-only`` evaluates MODEL.WEIGHTS on DATASETS.TEST and writes the
results to OUTPUT_DIR/eval_results.json.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence

import detectron2.utils.comm as comm
from detectron2.config import get_cfg
from detectron2.engine import default_argument_parser, default_setup, launch
from detectron2.utils.logger import setup_logger

import ttc_detectron2
from ttc_detectron2.checkpoint import TTCCheckpointer
from ttc_detectron2.data import register_coco_spec
from ttc_detectron2.engine import TTCTrainer, check_weights
from ttc_detectron2.model_zoo import ConfigNotFoundError, resolve_config_file

__all__ = ["build_parser", "invoke_main", "main", "setup"]


def setup(args):
    """Config: Detectron2 defaults + ttc keys + the file + overrides, checked."""
    for spec in args.register_coco or ():
        register_coco_spec(spec)
    # a shipped config's name becomes its file (default_setup logs and copies that file)
    args.config_file = resolve_config_file(args.config_file)
    cfg = get_cfg()
    ttc_detectron2.add_ttc_config(cfg)
    with ttc_detectron2.helpful_errors():
        if args.config_file:
            cfg.merge_from_file(args.config_file)
        cfg.merge_from_list(args.opts)
    ttc_detectron2.validate_ttc_config(cfg)
    cfg.freeze()
    default_setup(cfg, args)
    # the plugin's own messages (β in force, selection, report) in the log, as Detectron2's
    # projects do for theirs
    setup_logger(output=cfg.OUTPUT_DIR, distributed_rank=comm.get_rank(), name="ttc_detectron2")
    return cfg


def main(args):
    """One process of the run (Detectron2's ``launch`` calls it in every worker)."""
    cfg = setup(args)
    if args.eval_only:
        with ttc_detectron2.helpful_errors():
            model = TTCTrainer.build_model(cfg)
        check_weights(cfg, args.resume)
        TTCCheckpointer(model, save_dir=cfg.OUTPUT_DIR).resume_or_load(
            cfg.MODEL.WEIGHTS, resume=args.resume
        )
        results = TTCTrainer.test(cfg, model)
        if comm.is_main_process():
            with open(os.path.join(cfg.OUTPUT_DIR, "eval_results.json"), "w") as f:
                json.dump(results, f, indent=2)
        return results

    with ttc_detectron2.helpful_errors():
        trainer = TTCTrainer(cfg)
    trainer.resume_or_load(resume=args.resume)
    return trainer.train()


def build_parser():
    parser = default_argument_parser()
    parser.add_argument(
        "--register-coco",
        action="append",
        metavar="NAME=JSON:IMAGE_ROOT",
        help="register a COCO-format dataset (repeatable)",
    )
    return parser


def invoke_main(argv: Sequence[str] | None = None) -> None:
    """The command line (``argv``: the arguments, default ``sys.argv[1:]``)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:  # before any worker starts: an unknown name is a usage error
        args.config_file = resolve_config_file(args.config_file)
    except ConfigNotFoundError as exc:
        parser.error(str(exc))
    logging.getLogger("ttc").info("Command Line Args: %s", args)
    launch(
        main,
        args.num_gpus,
        num_machines=args.num_machines,
        machine_rank=args.machine_rank,
        dist_url=args.dist_url,
        args=(args,),
    )


if __name__ == "__main__":
    # run the functions of the imported module, not of __main__: the workers that
    # ``--num-gpus N`` spawns then unpickle ``ttc_detectron2.train_net.main`` by its name
    from ttc_detectron2.train_net import invoke_main as _invoke_main

    _invoke_main()
