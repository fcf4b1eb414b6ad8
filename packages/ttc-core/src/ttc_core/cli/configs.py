"""``ttc configs``: the configs shipped inside the installed plugins (no framework imported).

::

    ttc configs list [FRAMEWORK] [--all]       names, per plugin (--all: with their bases)
    ttc configs path NAME [--framework F]      the file of a config (to read or inherit from)

A name is the config's path inside its plugin's folder, with or without the extension, or the
bare file name when it is unique, e.g. ``demo/ttc_proposed_R_18_FPN_demo_synthetic-coco.yaml``
or ``ttc-proposed_lraspp_m-v3-d8_1xb4-35e_synthetic-cityscapes-disparity-64x128``. The
launchers take the same names (``python -m ttc_detectron2.train_net --config-file NAME``,
``python -m ttc_mmseg.train NAME``). Plugins are found through the ``ttc.configs`` entry
points (:mod:`ttc_core.configs`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

EXIT_BAD_INPUT = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ttc configs", description="The configs shipped with the installed ttc plugins."
    )
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    ls = sub.add_parser("list", help="list the shipped configs of every installed plugin")
    ls.add_argument("framework", nargs="?", help="only this plugin's (detectron2, mmseg, ...)")
    ls.add_argument("--all", action="store_true", help="also the bases configs inherit from")
    ls.add_argument("--paths", action="store_true", help="print file paths instead of names")
    path = sub.add_parser("path", help="print the file of a shipped config")
    path.add_argument("name", help="config name (see `ttc configs list`)")
    path.add_argument("--framework", help="look only in this plugin's configs")
    return parser


def _catalogs(framework: str | None):
    from ttc_core.configs import installed_catalogs

    catalogs = installed_catalogs()
    if not catalogs:
        print(
            "ttc configs: no installed ttc plugin ships configs (entry-point group "
            "'ttc.configs'); install ttc-detectron2 or ttc-mmseg",
            file=sys.stderr,
        )
        return None
    if framework is not None:
        if framework not in catalogs:
            print(
                f"ttc configs: no installed plugin ships {framework!r} configs; installed: "
                + ", ".join(catalogs),
                file=sys.stderr,
            )
            return None
        catalogs = {framework: catalogs[framework]}
    return catalogs


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    catalogs = _catalogs(args.framework)
    if catalogs is None:
        return EXIT_BAD_INPUT
    if args.action == "list":
        for framework, catalog in catalogs.items():
            names = catalog.names(bases=args.all)
            if args.paths:
                print("\n".join(str(catalog.root / n) for n in names))
                continue
            print(f"{framework} ({catalog.root}):")
            print("\n".join(f"  {n}" for n in names))
        return 0
    from ttc_core.configs import ConfigNotFoundError

    errors, found = [], []
    for catalog in catalogs.values():
        try:
            found.append(catalog.path(args.name))
        except ConfigNotFoundError as exc:
            errors.append(str(exc))
    if len(found) == 1:
        print(found[0])
        return 0
    if found:
        print(
            f"ttc configs: {args.name!r} is a config of several plugins; add --framework: "
            + ", ".join(str(f) for f in found),
            file=sys.stderr,
        )
    else:
        print("ttc configs: " + "\n\n".join(errors), file=sys.stderr)
    return EXIT_BAD_INPUT
