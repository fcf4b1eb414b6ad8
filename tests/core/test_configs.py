"""Shipped configs by name (ttc_core.configs, ``ttc configs``) and the plugins' packaging.

Framework-free: the catalogs are folders, found through ``ttc.configs`` entry points without
importing the plugins; the packaging checks read the pyproject files and sources only.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from ttc_core.cli import main
from ttc_core.configs import ConfigCatalog, ConfigNotFoundError, installed_catalogs

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

REPO = Path(__file__).resolve().parents[2]
PLUGINS = {"detectron2": "ttc-detectron2", "mmseg": "ttc-mmseg"}


@pytest.fixture
def catalog(tmp_path) -> ConfigCatalog:
    root = tmp_path / "fakeplugin" / "configs"
    for name in (
        "Base-Thing.yaml",
        "thing_1x.yaml",
        "thing_lazy.py",
        "demo/thing_demo.yaml",
        "_base_/models/m.py",
        "a/dup.py",
        "b/dup.py",
        "c/twin.py",
        "c/twin.yaml",
    ):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("# config\n")
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"")
    (root / "README.md").write_text("not a config")
    return ConfigCatalog("fake", root)


def test_names_are_paths_inside_the_folder_bases_apart(catalog):
    assert catalog.names() == [
        "a/dup.py",
        "b/dup.py",
        "c/twin.py",
        "c/twin.yaml",
        "demo/thing_demo.yaml",
        "thing_1x.yaml",
        "thing_lazy.py",
    ]
    assert set(catalog.names(bases=True)) - set(catalog.names()) == {
        "Base-Thing.yaml",
        "_base_/models/m.py",
    }


@pytest.mark.parametrize(
    "name, canonical",
    [
        ("demo/thing_demo.yaml", "demo/thing_demo.yaml"),
        ("demo/thing_demo", "demo/thing_demo.yaml"),  # without the extension
        ("thing_demo", "demo/thing_demo.yaml"),  # a unique file stem
        ("thing_demo.yaml", "demo/thing_demo.yaml"),  # a unique file name
        ("Base-Thing.yaml", "Base-Thing.yaml"),  # bases resolve too
        ("_base_/models/m", "_base_/models/m.py"),
    ],
)
def test_a_name_resolves_to_its_file(catalog, name, canonical):
    assert catalog.resolve(name) == canonical
    assert catalog.path(name) == catalog.root / canonical
    assert catalog.path(name).is_file()


def test_an_unknown_name_lists_the_shipped_configs(catalog):
    with pytest.raises(ConfigNotFoundError) as info:
        catalog.path("demo/thing_dem.yaml")
    msg = str(info.value)
    assert "no fake config of ttc is named 'demo/thing_dem.yaml'" in msg
    assert "did you mean: demo/thing_demo.yaml" in msg
    for name in catalog.names():
        assert f"  {name}" in msg
    assert "Base-Thing.yaml" not in msg and "2 bases" in msg


def test_an_ambiguous_stem_asks_for_the_path(catalog):
    with pytest.raises(ConfigNotFoundError, match="several fake configs.*a/dup.py, b/dup.py"):
        catalog.path("dup")
    with pytest.raises(ConfigNotFoundError, match="several fake configs.*c/twin.py, c/twin.yaml"):
        catalog.path("c/twin")
    assert catalog.resolve("twin.yaml") == "c/twin.yaml"


def _fake_plugin(tmp_path, monkeypatch, catalog) -> EntryPoint:
    """``fakeplugin`` importable from tmp_path (its configs folder: ``catalog.root``)."""
    marker = tmp_path / "imported"
    (catalog.root.parent / "__init__.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return EntryPoint("fake", "fakeplugin.configs", "ttc.configs")


def test_installed_catalogs_locate_folders_without_importing_the_plugin(
    tmp_path, monkeypatch, catalog
):
    ep = _fake_plugin(tmp_path, monkeypatch, catalog)
    missing = EntryPoint("gone", "no_such_ttc_plugin.configs", "ttc.configs")
    found = installed_catalogs([ep, missing])
    assert list(found) == ["fake"]
    assert found["fake"].root == catalog.root
    assert "fakeplugin" not in sys.modules and not (tmp_path / "imported").exists()


def test_ttc_configs_lists_and_finds(tmp_path, monkeypatch, catalog, capsys):
    ep = _fake_plugin(tmp_path, monkeypatch, catalog)
    monkeypatch.setattr(
        "ttc_core.configs.metadata.entry_points",
        lambda group: [ep] if group == "ttc.configs" else [],
    )
    assert main(["configs", "list"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"fake ({catalog.root}):"
    assert "  demo/thing_demo.yaml" in out and "Base-Thing.yaml" not in out
    assert main(["configs", "list", "fake", "--all", "--paths"]) == 0
    assert str(catalog.root / "Base-Thing.yaml") in capsys.readouterr().out.splitlines()
    assert main(["configs", "path", "thing_demo"]) == 0
    assert capsys.readouterr().out.strip() == str(catalog.root / "demo" / "thing_demo.yaml")
    assert main(["configs", "path", "nope"]) == 2
    assert "no fake config of ttc is named 'nope'" in capsys.readouterr().err
    assert main(["configs", "list", "other"]) == 2
    assert "installed: fake" in capsys.readouterr().err


def test_a_reader_that_leaves_early_is_not_an_error():
    """``ttc configs list | head -1``: the closed pipe ends the command quietly, exit code 0."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "ttc_core.cli", "configs", "list"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()  # the reader is gone before the first line is written
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, err
    assert "BrokenPipeError" not in err and "Traceback" not in err


# -- the plugins' packaging -------------------------------------------------------------------


def _pyproject(dist: str) -> dict:
    return tomllib.loads((REPO / "packages" / dist / "pyproject.toml").read_text())


@pytest.mark.parametrize("framework", sorted(PLUGINS))
def test_each_plugin_declares_its_config_folder(framework):
    dist = PLUGINS[framework]
    eps = _pyproject(dist)["project"]["entry-points"]["ttc.configs"]
    assert list(eps) == [framework]
    folder = REPO / "packages" / dist / "src" / Path(*eps[framework].split("."))
    assert folder.is_dir() and not folder.is_symlink()
    # one copy: the repository's configs/<framework> is a relative link to that folder
    link = REPO / "configs" / framework
    assert link.is_symlink() and not Path(link.readlink()).is_absolute()
    assert link.resolve() == folder.resolve()
    assert ConfigCatalog(framework, folder).names(), "no configs in the package"


@pytest.mark.parametrize(
    "dist, script, target",
    [
        (dist, script, target)
        for dist in PLUGINS.values()
        for script, target in _pyproject(dist)["project"]["scripts"].items()
    ],
)
def test_console_scripts_name_functions_that_exist(dist, script, target):
    module, func = target.split(":")
    source = REPO / "packages" / dist / "src" / Path(*module.split("."))
    tree = ast.parse(source.with_suffix(".py").read_text())
    assert func in {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}, target
    # and the repository's tools/ call the same launchers
    tool = {"ttc-d2-train": "train_net.py", "ttc-mmseg-train": "train.py"}.get(script, "test.py")
    assert f"from {module} import" in (REPO / "tools" / tool).read_text()
