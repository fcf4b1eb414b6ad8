"""``ttc bd``: BD-rate and BD-metric of test RD curves against an anchor.

See :mod:`ttc_core.rd.bd` for the method (de Andrade & Bajić, ICME 2024 workshops, METHOD §5).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from ttc_core.rd.bd import (
    METHODS,
    MIN_POINTS,
    NON_MONOTONIC_POLICIES,
    BDError,
    compare_many,
    format_table,
)
from ttc_core.rd.format import RDFormatError, load_rd

PROG = "ttc bd"

EPILOG = f"""\
fits (from the `bjontegaard` package):
  cubic   classic least-squares cubic of log-rate over the metric (the paper's choice);
          needs >= {MIN_POINTS["cubic"]} points per curve
  pchip   piecewise cubic Hermite interpolation (MPEG/JVET practice);
          needs >= {MIN_POINTS["pchip"]} points per curve
  akima   Akima interpolation; needs >= {MIN_POINTS["akima"]} points per curve

signs: BD-rate < 0 means the test needs fewer bits for the same quality, also for
lower-is-better metrics (the metric is negated before fitting). BD-<metric> is the mean
metric difference test - anchor at equal rate, in the metric's units.

pchip and akima need the metric to improve strictly with the rate. For a curve that does not,
--non-monotonic says what to do: 'pareto' drops dominated points (no better than a point with
fewer bits) and says which, 'cubic' uses the cubic fit for that pair, 'error' refuses.

Curves that do not overlap in the metric get no BD-rate: the reason is printed instead.

exit status: 0 every BD-rate computed; 2 bad input, or some BD-rate not computable; 1 failure.

example:
  ttc bd --method cubic results/paper/cityscapes_depth_baseline.json \\
         results/paper/cityscapes_depth_proposed.json
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="BD-rate and BD-metric of one or more test RD curves against an anchor.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("anchor", help="RD JSON file of the anchor (e.g. the Baseline)")
    parser.add_argument("tests", nargs="+", metavar="test", help="RD JSON file(s) to compare")
    parser.add_argument(
        "--method",
        choices=METHODS,
        default="pchip",
        help="interpolation / fit (default: %(default)s)",
    )
    parser.add_argument("--metric", help="results key of the metric (default: the anchor's)")
    parser.add_argument(
        "--rate",
        default=None,
        metavar="KEY",
        help="results key of the rate, e.g. bpp_estimated (default: bpp, the real "
        "bitstreams' rate, where the curves have it, else bpp_estimated)",
    )
    direction = parser.add_mutually_exclusive_group()
    direction.add_argument(
        "--higher-is-better",
        dest="higher",
        action="store_const",
        const=True,
        help="override the metric's direction stated in the files",
    )
    direction.add_argument("--lower-is-better", dest="higher", action="store_const", const=False)
    parser.add_argument(
        "--non-monotonic",
        choices=NON_MONOTONIC_POLICIES,
        default="pareto",
        help="what pchip/akima do with non-monotonic curves (default: %(default)s)",
    )
    parser.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="output format (default: %(default)s)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    try:
        anchor = load_rd(args.anchor)
        tests = [load_rd(path) for path in args.tests]
        results = compare_many(
            anchor,
            tests,
            method=args.method,
            metric=args.metric,
            rate_key=args.rate,
            higher_is_better=args.higher,
            non_monotonic=args.non_monotonic,
        )
    except (RDFormatError, BDError) as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return 2
    except Exception as err:  # noqa: BLE001 - one line, never a traceback
        print(f"{PROG}: failed: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    if args.format == "json":
        payload = {
            "anchor": args.anchor,
            "tests": list(args.tests),
            "results": [r.to_json() for r in results],
        }
        print(json.dumps(payload, indent=2))
    else:
        print(format_table(results, anchor))
    failed = [r for r in results if not r.ok]
    for r in failed:
        print(
            f"{PROG}: no BD-rate for {r.test!r} vs {r.anchor!r}: {r.bd_rate_error}", file=sys.stderr
        )
    return 2 if failed else 0
