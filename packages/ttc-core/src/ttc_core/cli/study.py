"""``ttc study``: the evidence study of the paper's claim (:mod:`ttc_core.study`), resumable.

    ttc study --scale study --out results/synthetic/work      # 3 seeds, <= 2 h on 2 CPU cores
    ttc study --scale demo --out demo_out                      # `make demo`: one seed
    ttc study --scale gpu --out gpu_study                      # one CUDA GPU, ~8 min

Run it from the repository root (it calls ``tools/train_net.py`` and ``tools/train.py`` with
the shipped configs). A rerun skips finished runs; ``--only-report`` rebuilds the report.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    from ttc_core.study import EXPERIMENTS, SCALES

    p = argparse.ArgumentParser(
        prog="ttc study",
        description="Proposed vs Baseline (and Standalone / Continued) on generated data, "
        "several seeds, equal budgets: RD JSON, BD-rates with spread, side-information "
        "savings, trivial predictors, report.md.",
    )
    p.add_argument("--scale", choices=sorted(SCALES), default="study")
    p.add_argument("--out", required=True, help="study folder (created; reruns resume)")
    p.add_argument("--repo", default=".", help="repository root with tools/ and configs/")
    p.add_argument("--seeds", type=int, nargs="+", help="override the scale's seeds")
    p.add_argument("--jobs", type=int, help="runs at a time (default: the scale's)")
    p.add_argument(
        "--experiments",
        nargs="+",
        choices=list(EXPERIMENTS),
        help="only these experiments (an enhancement needs its base experiment too)",
    )
    p.add_argument("--only-report", action="store_true", help="measure and report only")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    from ttc_core.rd.bd import BDError
    from ttc_core.rd.collect import CollectError
    from ttc_core.rd.sweep import SweepError
    from ttc_core.study import EXPERIMENTS, SCALES, StudyError, run_study
    from ttc_core.study.run import shell_command

    scale = SCALES[args.scale]
    changes = {}
    if args.seeds:
        changes["seeds"] = tuple(dict.fromkeys(args.seeds))
    if args.jobs:
        if args.jobs < 1:
            print("ttc study: --jobs must be >= 1", file=sys.stderr)
            return 2
        changes["jobs"] = args.jobs
    if args.experiments:
        missing = sorted(
            {EXPERIMENTS[e].base for e in args.experiments if EXPERIMENTS[e].base}
            - set(args.experiments)
        )
        if missing:
            print(f"ttc study: the enhancement experiments need {missing} too", file=sys.stderr)
            return 2
        changes["experiments"] = tuple(e for e in EXPERIMENTS if e in args.experiments)
    scale = dataclasses.replace(scale, **changes)
    try:
        path = run_study(
            scale,
            args.out,
            repo=args.repo,
            only_report=args.only_report,
            command=shell_command(argv),
        )
    except (StudyError, SweepError, CollectError, BDError) as err:
        print(f"ttc study: {err}", file=sys.stderr)
        return 2
    print(path)
    return 0
