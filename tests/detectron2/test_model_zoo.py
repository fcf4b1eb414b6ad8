"""ttc_detectron2.model_zoo: every shipped config by name, one copy, the launcher's look-up."""

from __future__ import annotations

import os
import subprocess
import sys
from argparse import Namespace

import pytest

from ttc_detectron2 import model_zoo
from ttc_detectron2.model_zoo import ConfigNotFoundError

from .conftest import CONFIGS, REPO, TINY_YAML

NAMES = model_zoo.list_configs(bases=True)


def test_the_shipped_configs_are_listed():
    names = model_zoo.list_configs()
    assert "ttc_proposed_R_50_FPN_1x_coco.yaml" in names
    assert "demo/ttc_proposed_R_18_FPN_demo_synthetic-coco.yaml" in names
    assert "ttc_proposed_R_50_FPN_1x_coco_lazy.py" in names
    assert not [n for n in names if n.startswith("Base-")]
    assert set(NAMES) - set(names) == {"Base-TTC-RCNN-FPN.yaml", "Base-TTC-Enhancement-Recon.yaml"}


def test_one_copy_the_repository_configs_are_the_packaged_files():
    assert CONFIGS.is_symlink() and CONFIGS.resolve() == model_zoo.CONFIG_DIR
    on_disk = sorted(
        p.relative_to(CONFIGS).as_posix()
        for p in CONFIGS.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    )
    assert on_disk == NAMES
    for name in NAMES:
        assert os.path.samefile(CONFIGS / name, model_zoo.get_config_file(name))


@pytest.mark.parametrize("name", NAMES)
def test_every_shipped_config_loads_by_name(name):
    path = model_zoo.get_config_file(name)
    assert os.path.isfile(path) and path.startswith(str(model_zoo.CONFIG_DIR))
    cfg = model_zoo.get_config(name)
    if name.endswith(".py"):
        assert {"model", "dataloader", "optimizer", "train"} <= set(cfg.keys())
    else:
        assert cfg.MODEL.TTC.MODE in ("proposed", "baseline")  # the ttc keys were added
        assert not cfg.is_frozen()


def test_names_without_extension_or_folder():
    demo = "demo/ttc_proposed_R_18_FPN_demo_synthetic-coco.yaml"
    for name in (demo[:-5], "ttc_proposed_R_18_FPN_demo_synthetic-coco"):
        assert model_zoo.get_config_file(name) == model_zoo.get_config_file(demo)


def test_an_unknown_name_lists_the_configs():
    with pytest.raises(ConfigNotFoundError) as info:
        model_zoo.get_config_file("ttc_proposed_R_50_FPN_3x_coco.yaml")
    msg = str(info.value)
    assert "did you mean: ttc_proposed_R_50_FPN_1x_coco.yaml" in msg
    assert "  demo/ttc_baseline_R_18_FPN_demo_synthetic-coco.yaml" in msg


def test_the_launcher_takes_a_name_and_keeps_files_as_they_are(tmp_path, monkeypatch):
    from ttc_detectron2.train_net import build_parser, setup

    assert model_zoo.resolve_config_file(str(TINY_YAML)) == str(TINY_YAML)
    assert model_zoo.resolve_config_file("") == ""
    # a file in the working directory wins over a shipped config of the same name
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ttc_proposed_R_50_FPN_1x_coco.yaml").write_text(TINY_YAML.read_text())
    assert model_zoo.resolve_config_file("ttc_proposed_R_50_FPN_1x_coco.yaml") == (
        "ttc_proposed_R_50_FPN_1x_coco.yaml"
    )
    # setup() as the launcher runs it, without Detectron2's process-wide logging and seeding
    seen = {}
    monkeypatch.setattr(
        "ttc_detectron2.train_net.default_setup",
        lambda cfg, args: seen.setdefault("config_file", args.config_file),
    )
    monkeypatch.setattr("ttc_detectron2.train_net.setup_logger", lambda *a, **k: None)
    args: Namespace = build_parser().parse_args(
        ["--config-file", "ttc_baseline_R_18_FPN_demo_synthetic-coco", "OUTPUT_DIR", "out"]
    )
    cfg = setup(args)
    demo = model_zoo.get_config_file("demo/ttc_baseline_R_18_FPN_demo_synthetic-coco.yaml")
    # Detectron2's default_setup logs and copies the file itself, not the name
    assert args.config_file == seen["config_file"] == demo
    assert cfg.MODEL.TTC.MODE == "baseline" and cfg.MODEL.RESNETS.DEPTH == 18


def test_the_launcher_refuses_an_unknown_name_with_the_list():
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-m", "ttc_detectron2.train_net", "--config-file", "nope.yaml"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "no detectron2 config of ttc is named 'nope.yaml'" in proc.stderr
    assert "ttc_proposed_R_50_FPN_1x_coco.yaml" in proc.stderr


def test_list_from_the_command_line(capsys):
    assert model_zoo.main(["--list"]) == 0
    assert capsys.readouterr().out.split() == model_zoo.list_configs()
    assert model_zoo.main(["--path", "nope"]) == 2
