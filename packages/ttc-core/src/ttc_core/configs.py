"""Configs shipped inside the framework plugins, found by name (no framework imported).

Each plugin keeps its configs as package data, in a folder of its package
(``ttc_detectron2/configs/``, ``ttc_mmseg/configs/``), and declares that folder under the
entry-point group ``ttc.configs``::

    [project.entry-points."ttc.configs"]
    detectron2 = "ttc_detectron2.configs"

A :class:`ConfigCatalog` names the files of one such folder. A config's **name** is its path
inside the folder, e.g. ``demo/ttc_proposed_R_18_FPN_demo_synthetic-coco.yaml`` (as Detectron2's
``model_zoo.get_config_file``); :meth:`ConfigCatalog.path` also accepts it without the
extension, or the bare file stem when only one file has it. Bases (files other configs inherit
from, which do not train on their own: ``Base-*.yaml``, anything under ``_base_/``) resolve
like every other file and are left out of :meth:`ConfigCatalog.names` unless asked for.

:func:`installed_catalogs` finds the folders of every installed plugin through the entry
points without importing the plugins (hence without importing Detectron2 or MMSegmentation):
the folder is located from the package's import spec. ``ttc configs`` lists them.
"""

from __future__ import annotations

import difflib
import importlib.util
import os
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

__all__ = [
    "ENTRY_POINT_GROUP",
    "ConfigCatalog",
    "ConfigNotFoundError",
    "installed_catalogs",
    "package_folder",
]

#: entry-point group under which plugins declare their config folders
ENTRY_POINT_GROUP = "ttc.configs"
#: file types a catalog lists
CONFIG_SUFFIXES = (".yaml", ".yml", ".py")


class ConfigNotFoundError(LookupError):
    """No shipped config has that name; the message lists the ones that exist."""


def _is_base(name: str) -> bool:
    parts = name.split("/")
    return "_base_" in parts[:-1] or parts[-1].startswith("Base-")


def _stem(name: str) -> str:
    return os.path.splitext(name.rsplit("/", 1)[-1])[0]


@dataclass(frozen=True)
class ConfigCatalog:
    """The config files of one plugin's folder, by name.

    Attributes:
        framework: what the configs are for (``"detectron2"``, ``"mmseg"``).
        root: the folder.
    """

    framework: str
    root: Path

    def all_names(self) -> list[str]:
        """Every config file under the folder (bases included), sorted."""
        if not self.root.is_dir():
            return []
        names = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            rel = Path(dirpath).relative_to(self.root)
            for f in filenames:
                if f.endswith(CONFIG_SUFFIXES) and f != "__init__.py":
                    names.append((rel / f).as_posix())
        return sorted(names)

    def names(self, bases: bool = False) -> list[str]:
        """The configs that train on their own (and with ``bases=True`` their bases too)."""
        return [n for n in self.all_names() if bases or not _is_base(n)]

    def resolve(self, name: str) -> str:
        """The canonical name of ``name`` (see the module docstring); raises if unknown."""
        key = str(name).replace(os.sep, "/").strip("/")
        names = self.all_names()
        if key in names:
            return key
        # the path without its extension, else the file name with or without it
        found = [n for n in names if os.path.splitext(n)[0] == key]
        if not found:
            found = [n for n in names if key in (n.rsplit("/", 1)[-1], _stem(n))]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise ConfigNotFoundError(
                f"{name!r} names several {self.framework} configs of ttc; give the path: "
                + ", ".join(sorted(found))
            )
        raise ConfigNotFoundError(self._unknown(name, names))

    def path(self, name: str) -> Path:
        """The file of the shipped config ``name``."""
        return self.root / self.resolve(name)

    def _unknown(self, name: str, names: list[str]) -> str:
        key = str(name)
        by_file: dict[str, str] = {}
        for n in names:
            by_file.setdefault(n.rsplit("/", 1)[-1], n)
        close = difflib.get_close_matches(key, names, n=3, cutoff=0.7)
        if not close:  # a file name alone, or a path in the wrong folder
            files = difflib.get_close_matches(os.path.basename(key), list(by_file), cutoff=0.7)
            close = [by_file[f] for f in files]
        msg = [f"no {self.framework} config of ttc is named {key!r}"]
        if close:
            msg.append("did you mean: " + ", ".join(close) + "?")
        msg.append(f"the shipped configs ({self.root}):")
        msg += [f"  {n}" for n in self.names()]
        bases = [n for n in names if _is_base(n)]
        if bases:
            msg.append(f"and {len(bases)} bases they inherit from (`ttc configs list --all`)")
        return "\n".join(msg)


def package_folder(module: str) -> Path | None:
    """The folder of ``module`` (``pkg.sub``: folder ``sub`` of package ``pkg``), not imported.

    Only the top-level package is located (``importlib.util.find_spec`` on a top-level name
    runs no code of it); the rest of the dotted name is a path inside it.
    """
    top, *rest = module.split(".")
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        folder = Path(location, *rest)
        if folder.is_dir():
            return folder
    return None


def installed_catalogs(
    entry_points: Iterable[metadata.EntryPoint] | None = None,
) -> dict[str, ConfigCatalog]:
    """The config catalogs of the installed plugins (group ``ttc.configs``), by framework."""
    if entry_points is None:
        entry_points = metadata.entry_points(group=ENTRY_POINT_GROUP)
    catalogs = {}
    for ep in entry_points:
        folder = package_folder(ep.module)
        if folder is not None and ep.name not in catalogs:
            catalogs[ep.name] = ConfigCatalog(ep.name, folder)
    return dict(sorted(catalogs.items()))
