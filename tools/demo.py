"""`make demo`: the evidence study's ``demo`` scale (``ttc study --scale demo``), on CPU.

One seed, every experiment of the study (depth and detection bases, Proposed and Baseline;
segmentation and scalable reconstruction on each base, with the Standalone and Continued
controls), through the frameworks' own launchers and the shipped demo configs, on generated
data. The report (``demo_out/report.md``) is the study's: BD-rates, side-information savings,
every task metric beside a trivial predictor's, and an example ``.ttc`` file. All logic lives
in :mod:`ttc_core.study`; this file only chooses the scale and the folder.

    python tools/demo.py [--out demo_out] [--keep]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="demo_out", help="output folder (default: demo_out)")
    p.add_argument("--keep", action="store_true", help="resume in an existing output folder")
    args = p.parse_args(argv)
    out = (REPO / args.out).resolve()
    if out.exists() and not args.keep:
        shutil.rmtree(out)
    from ttc_core.cli.study import main as study

    return study(["--scale", "demo", "--out", str(out), "--repo", str(REPO)])


if __name__ == "__main__":
    sys.exit(main())
