#!/usr/bin/env python
"""Evaluate a ttc checkpoint with MMSegmentation: ``python tools/test.py CONFIG CHECKPOINT``.

A wrapper of the packaged launcher :mod:`ttc_mmseg.test` (``python -m ttc_mmseg.test``,
console script ``ttc-mmseg-test``). The arguments are MMSeg's ``tools/test.py`` ones (without
``--tta`` / ``--out``); ``CONFIG`` is a file or the name of a shipped config. It evaluates
``test_dataloader`` (the reported split); the metrics (disparity RMSE, ``bpp_estimated``,
``psnr_direct``, ...; ``bpp`` with ``--cfg-options model.test_cfg.actual_bits=True``) are
printed and written to ``{work_dir}/{timestamp}/{timestamp}.json``. ``tools/train.py`` already
writes the reported evaluation of the chosen checkpoint to ``{work_dir}/ttc_report.json``.
"""

from ttc_mmseg.test import main

if __name__ == "__main__":
    raise SystemExit(main())
