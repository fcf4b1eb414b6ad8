"""The MMSegmentation configs shipped in this package, by name.

The files live in ``ttc_mmseg/configs/`` (package data; in the repository ``configs/mmseg`` is
a link to that folder), in MMSeg's layout: ``_base_/`` (models, datasets, schedules),
``ttc_depth/``, ``ttc_enhancement/``, ``demo/``. A name is a path inside it, with or without
``.py``, or the bare file name when it is unique::

    import ttc_mmseg

    ttc_mmseg.list_configs()
    path = ttc_mmseg.config_path(
        "ttc-proposed_lraspp_m-v3-d8_1xb4-35e_synthetic-cityscapes-disparity-64x128")
    cfg = ttc_mmseg.get_config("ttc_depth/ttc-proposed_lraspp_m-v3-d8_1xb10-100e_"
                               "cityscapes-disparity-1024x2048.py")  # mmengine Config

The launchers (``python -m ttc_mmseg.train`` / ``ttc-mmseg-train``, ``python -m ttc_mmseg.test``
/ ``ttc-mmseg-test``, and ``tools/train.py`` / ``tools/test.py`` of the repository) take a name
where they take a config file; a file that exists on disk is always used as such. From a
shell: ``python -m ttc_mmseg.model_zoo --list`` (or ``ttc configs list mmseg``).

**Inheriting a shipped config in your own.** MMEngine resolves ``_base_`` entries relative to
the config file, or through ``package::`` prefixes that only OpenMMLab's own packages may use
(mmengine 0.10); pure-Python configs (``read_base()``) can only inherit pure-Python ones. What
works with every MMEngine tool is an absolute path, which MMEngine's environment-variable
substitution can supply::

    # my_depth.py
    _base_ = ['{{$TTC_MMSEG_CONFIGS:}}/ttc_depth/'
              'ttc-proposed_lraspp_m-v3-d8_1xb10-100e_cityscapes-disparity-1024x2048.py']
    train_cfg = dict(max_epochs=50)

The ttc launchers set ``TTC_MMSEG_CONFIGS`` to this package's folder when it is not set; for
MMSeg's own ``tools/train.py``, ``export TTC_MMSEG_CONFIGS=$(python -m ttc_mmseg.model_zoo
--dir)``. (``_base_`` entries inside the shipped configs are relative and need nothing.)
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ttc_core.configs import ConfigCatalog, ConfigNotFoundError

__all__ = [
    "CONFIG_DIR",
    "CONFIG_ENV",
    "ConfigNotFoundError",
    "config_path",
    "export_config_dir",
    "get_config",
    "list_configs",
    "resolve_config",
]

#: the folder of the shipped configs
CONFIG_DIR = Path(__file__).resolve().parent / "configs"
#: environment variable through which a user's config inherits a shipped one (see above)
CONFIG_ENV = "TTC_MMSEG_CONFIGS"
CATALOG = ConfigCatalog("mmseg", CONFIG_DIR)


def list_configs(bases: bool = False) -> list[str]:
    """Names of the shipped configs (``bases=True``: also the ``_base_/`` pieces)."""
    return CATALOG.names(bases=bases)


def config_path(name: str) -> str:
    """The file of the shipped config ``name``."""
    return str(CATALOG.path(name))


def get_config(name: str):
    """The shipped config ``name`` as an mmengine ``Config`` (bases merged)."""
    from mmengine.config import Config

    export_config_dir()
    return Config.fromfile(config_path(name))


def export_config_dir() -> None:
    """Set :data:`CONFIG_ENV` to the shipped folder unless the environment already sets it."""
    os.environ.setdefault(CONFIG_ENV, str(CONFIG_DIR))


def resolve_config(config: str) -> str:
    """What a launcher loads for its config argument: an existing file as it is, else the
    shipped config of that name (raises :class:`ConfigNotFoundError` when neither)."""
    if Path(config).is_file():
        return config
    try:
        return config_path(config)
    except ConfigNotFoundError as exc:
        raise ConfigNotFoundError(f"config {config!r}: no such file, and {exc}") from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ttc_mmseg.model_zoo",
        description="The MMSegmentation configs shipped with ttc-mmseg.",
    )
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--list", action="store_true", help="print the names of the configs")
    group.add_argument("--path", metavar="NAME", help="print the file of the config NAME")
    group.add_argument("--dir", action="store_true", help=f"print the folder (for ${CONFIG_ENV})")
    parser.add_argument("--all", action="store_true", help="--list: also the _base_/ pieces")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(list_configs(bases=args.all)))
    elif args.dir:
        print(CONFIG_DIR)
    else:
        try:
            print(config_path(args.path))
        except ConfigNotFoundError as exc:
            print(exc, file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
