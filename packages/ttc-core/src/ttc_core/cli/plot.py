"""``ttc plot``: RD figures (PNG/PDF/SVG) from RD JSON files; see :mod:`ttc_core.rd.plot`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ttc_core.rd.format import RDFormatError, load_rd

PROG = "ttc plot"

EPILOG = """\
The x label says whether rates are actual bits (real bitstreams) or estimated from the entropy
model's likelihoods; if the curves mix both, each legend entry says it.

example:
  ttc plot runs/proposed.json runs/baseline.json -o depth.png \\
      --paper results/paper/cityscapes_depth_proposed.json \\
      --paper results/paper/cityscapes_depth_baseline.json
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Plot RD curves, one per file.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("files", nargs="*", metavar="file", help="RD JSON files (one curve each)")
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        help="figure to write; the suffix picks the format (.png, .pdf, .svg)",
    )
    parser.add_argument(
        "--paper",
        action="append",
        default=[],
        metavar="FILE",
        help="overlay a paper curve (dashed, open markers); repeatable",
    )
    parser.add_argument("--metric", help="results key on the y axis (default: the first file's)")
    parser.add_argument(
        "--rate",
        default=None,
        metavar="KEY",
        help="results key on the x axis, e.g. bpp_estimated (default: bpp, the real "
        "bitstreams' rate, where the curves have it, else bpp_estimated)",
    )
    parser.add_argument(
        "--uncompressed",
        type=float,
        metavar="VALUE",
        help="draw a horizontal reference line at the uncompressed-input metric "
        "(default: the files' own 'uncompressed' values, if any)",
    )
    parser.add_argument("--uncompressed-label", default="uncompressed", metavar="TEXT")
    parser.add_argument("--title", help="plot title (default: the curves' shared experiment)")
    parser.add_argument("--logx", action="store_true", help="logarithmic rate axis")
    parser.add_argument(
        "--figsize",
        type=float,
        nargs=2,
        default=(6.4, 4.8),
        metavar=("W", "H"),
        help="inches (default: 6.4 4.8)",
    )
    parser.add_argument("--dpi", type=int, default=150, help="(default: %(default)s)")
    parser.add_argument("--xlim", type=float, nargs=2, metavar=("MIN", "MAX"))
    parser.add_argument("--ylim", type=float, nargs=2, metavar=("MIN", "MAX"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    if not args.files and not args.paper:
        print(f"{PROG}: give at least one RD file (or --paper FILE)", file=sys.stderr)
        return 2
    if args.dpi <= 0 or min(args.figsize) <= 0:
        print(f"{PROG}: --dpi and --figsize must be positive", file=sys.stderr)
        return 2
    try:
        from ttc_core.rd.plot import plot_rd

        curves = [load_rd(path) for path in args.files]
        paper = [load_rd(path) for path in args.paper]
        out = plot_rd(
            curves,
            args.output,
            paper=paper,
            metric=args.metric,
            rate_key=args.rate,
            uncompressed=args.uncompressed,
            uncompressed_label=args.uncompressed_label,
            title=args.title,
            logx=args.logx,
            figsize=tuple(args.figsize),
            dpi=args.dpi,
            xlim=tuple(args.xlim) if args.xlim else None,
            ylim=tuple(args.ylim) if args.ylim else None,
        )
    except (RDFormatError, ValueError) as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"{PROG}: cannot write {args.output}: {err.strerror or err}", file=sys.stderr)
        return 1
    except Exception as err:  # noqa: BLE001 - one line, never a traceback
        print(f"{PROG}: failed: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    print(out)
    return 0
