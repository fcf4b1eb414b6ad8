"""The configs shipped in this package, by name, as Detectron2's ``model_zoo`` does for its own.

The files live in ``ttc_detectron2/configs/`` (package data; in the repository
``configs/detectron2`` is a link to that folder). A name is a path inside it::

    from ttc_detectron2 import model_zoo

    model_zoo.list_configs()          # ['demo/ttc_baseline_R_18_FPN_demo_synthetic-coco.yaml', ...]
    path = model_zoo.get_config_file("ttc_proposed_R_50_FPN_1x_coco.yaml")
    cfg = model_zoo.get_config("ttc_proposed_R_50_FPN_1x_coco.yaml")     # yacs, ttc keys added
    lazy = model_zoo.get_config("ttc_proposed_R_50_FPN_1x_coco_lazy.py")  # LazyConfig

The extension may be left out, and a bare file name is enough when it is unique. Unknown names
raise :class:`~ttc_core.configs.ConfigNotFoundError` listing the shipped ones. The launcher
(``python -m ttc_detectron2.train_net`` / ``ttc-d2-train``) takes a name wherever it takes
``--config-file``; a file that exists on disk is always used as such. From a shell:
``python -m ttc_detectron2.model_zoo --list`` (or ``ttc configs list detectron2``).

There are no trained weights to fetch: ``MODEL.WEIGHTS`` stays what the config says (a local
path, see ``Base-TTC-RCNN-FPN.yaml``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ttc_core.configs import ConfigCatalog, ConfigNotFoundError

__all__ = [
    "CONFIG_DIR",
    "ConfigNotFoundError",
    "get_config",
    "get_config_file",
    "list_configs",
    "resolve_config_file",
]

#: the folder of the shipped configs
CONFIG_DIR = Path(__file__).resolve().parent / "configs"
CATALOG = ConfigCatalog("detectron2", CONFIG_DIR)


def list_configs(bases: bool = False) -> list[str]:
    """Names of the shipped configs (``bases=True``: also ``Base-*.yaml``)."""
    return CATALOG.names(bases=bases)


def get_config_file(config_path: str) -> str:
    """The file of the shipped config ``config_path`` (Detectron2's ``model_zoo`` signature)."""
    return str(CATALOG.path(config_path))


def get_config(config_path: str):
    """The shipped config: a yacs ``CfgNode`` (Detectron2's defaults, :func:`add_ttc_config`,
    the file; not frozen) for ``.yaml``, a LazyConfig (``omegaconf.DictConfig``) for ``.py``.
    """
    path = get_config_file(config_path)
    if path.endswith(".py"):
        from detectron2.config import LazyConfig

        return LazyConfig.load(path)
    from detectron2.config import get_cfg

    from .config import add_ttc_config
    from .errors import helpful_errors

    cfg = get_cfg()
    add_ttc_config(cfg)
    with helpful_errors():
        cfg.merge_from_file(path)
    return cfg


def resolve_config_file(config_file: str) -> str:
    """What the launcher merges for ``--config-file``: an existing file as it is, else the
    shipped config of that name (raises :class:`ConfigNotFoundError` when neither)."""
    if not config_file or Path(config_file).is_file():
        return config_file
    try:
        return get_config_file(config_file)
    except ConfigNotFoundError as exc:
        raise ConfigNotFoundError(
            f"--config-file {config_file!r}: no such file, and {exc}"
        ) from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ttc_detectron2.model_zoo",
        description="The Detectron2 configs shipped with ttc-detectron2.",
    )
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--list", action="store_true", help="print the names of the configs")
    group.add_argument("--path", metavar="NAME", help="print the file of the config NAME")
    parser.add_argument("--all", action="store_true", help="--list: also the Base-*.yaml files")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(list_configs(bases=args.all)))
        return 0
    try:
        print(get_config_file(args.path))
    except ConfigNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
