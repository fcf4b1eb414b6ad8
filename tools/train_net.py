#!/usr/bin/env python
"""Train / evaluate a ttc detector with Detectron2 (the repository's launcher).

    python tools/train_net.py --config-file configs/detectron2/ttc_proposed_R_50_FPN_1x_coco.yaml \
        [--num-gpus N] [--resume] [--eval-only] [KEY VALUE ...]

A wrapper of the packaged launcher :mod:`ttc_detectron2.train_net` (``python -m
ttc_detectron2.train_net``, console script ``ttc-d2-train``), where the arguments are
documented: Detectron2's ``tools/train_net.py`` ones plus ``--register-coco``;
``--config-file`` also takes the name of a shipped config.
"""

from ttc_detectron2.train_net import TTCTrainer, build_parser, invoke_main, main, setup

# for scripts that load this file as a module (e.g. tests/detectron2/ddp_worker.py)
__all__ = ["TTCTrainer", "build_parser", "invoke_main", "main", "setup"]

if __name__ == "__main__":
    invoke_main()
