#!/usr/bin/env python
"""Train a ttc model with MMSegmentation: ``python tools/train.py CONFIG [--launcher pytorch]``.

The arguments are MMSeg's ``tools/train.py`` ones; the logic lives in ``ttc_mmseg.launch``
(config check for ``custom_imports``, gloo start-up for CPU-only ``torchrun`` runs). The same
configs also run with MMSeg's own ``tools/train.py``.
"""

from ttc_mmseg.launch import train

if __name__ == "__main__":
    train()
