#!/usr/bin/env python
"""Evaluate a ttc checkpoint with MMSegmentation: ``python tools/test.py CONFIG CHECKPOINT``.

The arguments are MMSeg's ``tools/test.py`` ones (without ``--tta`` / ``--out``); the logic
lives in ``ttc_mmseg.launch``. The metrics (disparity RMSE, bpp, PSNR) are printed and written
to ``{work_dir}/{timestamp}/{timestamp}.json`` (``ttc rd`` collects them into RD curves).
"""

from ttc_mmseg.launch import test

if __name__ == "__main__":
    test()
