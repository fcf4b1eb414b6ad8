"""ttc_mmseg.model_zoo: every shipped config by name, one copy, inheritance, the launchers."""

from __future__ import annotations

import argparse
import os

import pytest
from ttc_mmseg_testutils import CONFIG_DIR, DEMO_DIR, PROPOSED, TINY_BOTTLENECK

import ttc_mmseg
from ttc_mmseg import model_zoo
from ttc_mmseg.model_zoo import ConfigNotFoundError

NAMES = model_zoo.list_configs(bases=True)
DEMO_DEPTH = "demo/ttc-proposed_lraspp_m-v3-d8_1xb4-35e_synthetic-cityscapes-disparity-64x128.py"


def test_the_shipped_configs_are_listed_bases_apart():
    names = ttc_mmseg.list_configs()
    assert DEMO_DEPTH in names
    assert PROPOSED.relative_to(CONFIG_DIR).as_posix() in names
    assert not [n for n in names if n.startswith("_base_/")]
    assert "_base_/models/ttc-base_lraspp_m-v3-d8.py" in NAMES


def test_one_copy_the_repository_configs_are_the_packaged_files():
    assert CONFIG_DIR.is_symlink() and CONFIG_DIR.resolve() == model_zoo.CONFIG_DIR
    on_disk = sorted(
        p.relative_to(CONFIG_DIR).as_posix()
        for p in CONFIG_DIR.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    )
    assert on_disk == NAMES
    for name in NAMES:
        assert os.path.samefile(CONFIG_DIR / name, ttc_mmseg.config_path(name))


@pytest.mark.parametrize("name", [n for n in NAMES if not n.startswith("_base_/")])
def test_every_shipped_config_loads_by_name_from_the_package(name):
    cfg = ttc_mmseg.get_config(name)
    # the _base_ chain resolved inside the package (relative paths and mmseg:: bases)
    assert cfg.filename == ttc_mmseg.config_path(name)
    assert cfg.filename.startswith(str(model_zoo.CONFIG_DIR))
    assert "ttc_mmseg" in cfg.custom_imports.imports
    assert cfg.model.type and cfg.train_dataloader and cfg.test_dataloader


def test_short_names_and_unknown_names():
    stem = DEMO_DEPTH.rsplit("/", 1)[-1][:-3]
    assert ttc_mmseg.config_path(stem) == ttc_mmseg.config_path(DEMO_DEPTH)
    assert ttc_mmseg.config_path(DEMO_DEPTH[:-3]) == ttc_mmseg.config_path(DEMO_DEPTH)
    with pytest.raises(ConfigNotFoundError) as info:
        ttc_mmseg.config_path("ttc-proposed_lraspp_m-v3-d8_1xb4-35e_synthetic-cityscapes")
    msg = str(info.value)
    assert "no mmseg config of ttc is named" in msg and "did you mean" in msg
    assert f"  {DEMO_DEPTH}" in msg and "_base_/models" not in msg


def test_a_users_config_inherits_a_shipped_one_through_the_environment(tmp_path, monkeypatch):
    from mmengine.config import Config

    mine = tmp_path / "my_depth.py"
    mine.write_text(
        f"_base_ = ['{{{{$TTC_MMSEG_CONFIGS:}}}}/{DEMO_DEPTH}']\n"
        f"model = dict(backbone=dict(bottleneck={TINY_BOTTLENECK!r}))\n"
        "train_cfg = dict(max_epochs=3)\n"
    )
    monkeypatch.delenv(model_zoo.CONFIG_ENV, raising=False)
    with pytest.raises(KeyError, match="TTC_MMSEG_CONFIGS"):  # MMEngine's own message
        Config.fromfile(str(mine))
    model_zoo.export_config_dir()  # what the launchers do when the variable is not set
    assert os.environ[model_zoo.CONFIG_ENV] == str(model_zoo.CONFIG_DIR)
    cfg = Config.fromfile(str(mine))
    assert cfg.train_cfg.max_epochs == 3 and cfg.train_cfg.val_interval == 5
    assert cfg.model.backbone.bottleneck.latent_channels == TINY_BOTTLENECK["latent_channels"]
    assert cfg.model.codec_loss.beta == 0.01  # from the demo config
    # a value set in the environment is left alone
    monkeypatch.setenv(model_zoo.CONFIG_ENV, str(tmp_path))
    model_zoo.export_config_dir()
    assert os.environ[model_zoo.CONFIG_ENV] == str(tmp_path)


def test_the_launchers_take_a_name_and_keep_files_as_they_are(tmp_path, monkeypatch, capsys):
    from ttc_mmseg.launch import _parse, train

    parser = argparse.ArgumentParser()
    parser.add_argument("config")
    stem = DEMO_DEPTH.rsplit("/", 1)[-1][:-3]
    assert _parse(parser, [stem]).config == ttc_mmseg.config_path(DEMO_DEPTH)
    assert _parse(parser, [str(PROPOSED)]).config == str(PROPOSED)
    monkeypatch.chdir(tmp_path)  # a file of the same name in the working directory wins
    (tmp_path / f"{stem}.py").write_text("x = 1\n")
    assert _parse(parser, [f"{stem}.py"]).config == f"{stem}.py"
    with pytest.raises(SystemExit) as info:
        train(["no-such-config"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "config 'no-such-config': no such file" in err and DEMO_DEPTH in err


def test_list_from_the_command_line(capsys):
    assert model_zoo.main(["--list"]) == 0
    assert capsys.readouterr().out.split() == model_zoo.list_configs()
    assert model_zoo.main(["--dir"]) == 0
    assert capsys.readouterr().out.strip() == str(model_zoo.CONFIG_DIR)
    assert model_zoo.main(["--path", DEMO_DEPTH]) == 0
    assert os.path.samefile(capsys.readouterr().out.strip(), DEMO_DIR / DEMO_DEPTH[5:])
