#!/usr/bin/env python
"""Evaluate a ttc checkpoint with MMSegmentation: ``python tools/test.py CONFIG CHECKPOINT``.

The arguments are MMSeg's ``tools/test.py`` ones (without ``--tta`` / ``--out``); the logic
lives in ``ttc_mmseg.launch``. It evaluates ``test_dataloader`` (the reported split); the
metrics (disparity RMSE, ``bpp_estimated``, ``psnr_direct``, ...; ``bpp`` with
``--cfg-options model.test_cfg.actual_bits=True``) are printed and written to
``{work_dir}/{timestamp}/{timestamp}.json``. ``tools/train.py`` already writes the reported
evaluation of the chosen checkpoint to ``{work_dir}/ttc_report.json``.
"""

from ttc_mmseg.launch import test

if __name__ == "__main__":
    test()
