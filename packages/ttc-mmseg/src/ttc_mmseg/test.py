"""Evaluate a ttc checkpoint with MMSegmentation: ``python -m ttc_mmseg.test CONFIG CHECKPOINT``.

Installed as the console script ``ttc-mmseg-test``; the repository's ``tools/test.py`` is a
wrapper of it. ``CONFIG`` is a config file or the name of a shipped config
(``python -m ttc_mmseg.model_zoo --list``). The arguments are MMSeg's ``tools/test.py`` ones
(without ``--tta`` / ``--out``). It evaluates ``test_dataloader`` (the reported split); the
metrics (disparity RMSE, ``bpp_estimated``, ``psnr_direct``, ...; ``bpp`` with
``--cfg-options model.test_cfg.actual_bits=True``) are printed and written to
``{work_dir}/{timestamp}/{timestamp}.json``. Training already writes the reported evaluation
of the chosen checkpoint to ``{work_dir}/ttc_report.json`` (:mod:`ttc_mmseg.train`).
"""

from __future__ import annotations

from collections.abc import Sequence

from ttc_mmseg.launch import test

__all__ = ["main", "test"]


def main(argv: Sequence[str] | None = None) -> int:
    """The command line (``argv``: the arguments, default ``sys.argv[1:]``); exit status 0."""
    test(argv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
