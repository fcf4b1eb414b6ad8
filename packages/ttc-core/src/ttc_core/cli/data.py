"""``ttc data``: generate synthetic datasets in the real COCO / Cityscapes layouts.

::

    ttc data synth coco --out data/coco [--num-train 8 --num-val 4 --height 160 --width 224]
    ttc data synth cityscapes --out data/cityscapes [--seed 0 --overwrite]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

_KINDS = ("coco", "cityscapes")


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ttc data", description="Generate synthetic data in the real dataset layouts."
    )
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    synth = sub.add_parser(
        "synth",
        help="write seeded synthetic street scenes",
        description="Write seeded synthetic street scenes in the COCO 2017 or Cityscapes layout "
        "(same arguments, byte-identical files).",
    )
    synth.add_argument("kind", choices=_KINDS, help="dataset layout to write")
    synth.add_argument(
        "--out", required=True, metavar="DIR", help="dataset root folder (created if missing)"
    )
    synth.add_argument(
        "--num-train", type=_non_negative, default=8, metavar="N", help="train images (8)"
    )
    synth.add_argument(
        "--num-val", type=_non_negative, default=4, metavar="N", help="val images (4)"
    )
    synth.add_argument(
        "--height",
        type=_non_negative,
        default=None,
        metavar="H",
        help="image height (coco 160, cityscapes 128)",
    )
    synth.add_argument(
        "--width",
        type=_non_negative,
        default=None,
        metavar="W",
        help="image width (coco 224, cityscapes 256)",
    )
    synth.add_argument("--seed", type=_non_negative, default=0, metavar="S", help="base seed (0)")
    synth.add_argument(
        "--overwrite", action="store_true", help="replace earlier output of the same splits"
    )
    return parser


def _synth(args: argparse.Namespace) -> int:
    from ttc_core import datasets

    if args.kind == "coco":
        default, write = datasets.coco.DEFAULT_SIZE, datasets.write_coco_dataset
    else:
        default, write = datasets.cityscapes.DEFAULT_SIZE, datasets.write_cityscapes_dataset
    size = (
        default[0] if args.height is None else args.height,
        default[1] if args.width is None else args.width,
    )
    start = time.perf_counter()
    write(
        args.out,
        num_train=args.num_train,
        num_val=args.num_val,
        size=size,
        seed=args.seed,
        overwrite=args.overwrite,
    )
    print(
        f"wrote {args.num_train} train + {args.num_val} val {args.kind} images of "
        f"{size[0]}x{size[1]} to {args.out} in {time.perf_counter() - start:.1f}s"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``ttc data``; returns 0 on success, 2 on bad input, 1 on failure."""
    parser = build_parser()
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:  # argparse reports usage errors (2) and --help (0) by exiting
        return int(exc.code or 0)
    try:
        return _synth(args)
    except (ValueError, FileExistsError) as exc:
        print(f"ttc data: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"ttc data: error: {exc}", file=sys.stderr)
        return 1
