"""Train a ttc model with MMSegmentation: ``python -m ttc_mmseg.train CONFIG [options]``.

Installed as the console script ``ttc-mmseg-train``; the repository's ``tools/train.py`` is a
wrapper of it. ``CONFIG`` is a config file or the name of a shipped config
(``python -m ttc_mmseg.model_zoo --list``). The arguments are MMSeg's ``tools/train.py`` ones
(``--work-dir``, ``--cfg-options``, ``--resume``, ``--amp``, ``--launcher``) plus
``--no-report``; what the command adds to MMSeg's (the config check, the selection-split
protocol, gloo start-up for CPU-only ``torchrun`` runs, the reported evaluation of the chosen
checkpoint into ``{work_dir}/ttc_report.json``) is documented in :mod:`ttc_mmseg.launch`.
"""

from __future__ import annotations

from collections.abc import Sequence

from ttc_mmseg.launch import train

__all__ = ["main", "train"]


def main(argv: Sequence[str] | None = None) -> int:
    """The command line (``argv``: the arguments, default ``sys.argv[1:]``); exit status 0."""
    train(argv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
