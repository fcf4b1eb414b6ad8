#!/usr/bin/env python
"""Train a ttc model with MMSegmentation: ``python tools/train.py CONFIG [--launcher pytorch]``.

A wrapper of the packaged launcher :mod:`ttc_mmseg.train` (``python -m ttc_mmseg.train``,
console script ``ttc-mmseg-train``). The arguments are MMSeg's ``tools/train.py`` ones (plus
``--no-report``); ``CONFIG`` is a file or the name of a shipped config. The logic lives in
``ttc_mmseg.launch``: config checks (``custom_imports``, the selection-split protocol), gloo
start-up for CPU-only ``torchrun`` runs, and after training the one evaluation of the checkpoint
chosen on the selection split on the reported split, with real bits, into
``{work_dir}/ttc_report.json``. The same configs also train with MMSeg's own ``tools/train.py``
(without the report).
"""

from ttc_mmseg.train import main

if __name__ == "__main__":
    raise SystemExit(main())
