"""`ttc rd sweep`: one run per α through a launcher, resumable, then collected."""

import sys
import textwrap

import pytest

from ttc_core.cli import main
from ttc_core.rd.format import load_rd
from ttc_core.rd.sweep import DONE_MARKER, SweepError, plan_sweep

# A stand-in for tools/train_net.py with Detectron2's command line: it parses OUTPUT_DIR and
# MODEL.TTC.ALPHA from the trailing opts and writes a metrics.json evaluation line.
FAKE_TRAIN_NET = textwrap.dedent(
    """
    import json, os, sys
    args = sys.argv[1:]
    opts = dict(zip(args[args.index("--num-gpus") + 2::2], args[args.index("--num-gpus") + 3::2]))
    out, alpha = opts["OUTPUT_DIR"], float(opts["MODEL.TTC.ALPHA"])
    if alpha == 13:
        sys.exit(3)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "calls.txt"), "a") as f:
        f.write("run\\n")
    with open(os.path.join(out, "metrics.json"), "a") as f:
        f.write(json.dumps({"iteration": 9, "bbox/AP": 30 + alpha, "bpp": 1 / (1 + alpha)}) + "\\n")
    """
)


@pytest.fixture
def tools(tmp_path):
    d = tmp_path / "tools"
    d.mkdir()
    (d / "train_net.py").write_text(FAKE_TRAIN_NET)
    (d / "train.py").write_text("")
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("MODEL: {}\n")
    return d, cfg


def test_sweep_runs_each_alpha_once_then_collects(tools, tmp_path, capsys):
    d, cfg = tools
    out, rd = tmp_path / "sweep", tmp_path / "proposed.json"
    argv = [
        "rd",
        "sweep",
        "--framework",
        "detectron2",
        "--config",
        str(cfg),
        "--alphas",
        "0.5",
        "1",
        "2",
        "--out",
        str(out),
        "--tools-dir",
        str(d),
        "--metric",
        "bbox/AP",
        "--name",
        "Proposed",
        "--estimated-only",
        "--bpp-estimated",
        "bpp",
        "-o",
        str(rd),
    ]
    assert main(argv) == 0
    curve = load_rd(rd)
    assert curve.results["bbox/AP"] == [32.0, 31.0, 30.5]  # sorted by bpp
    assert main(argv) == 0  # resumed: nothing runs again
    for a in ("0.5", "1", "2"):
        assert (out / f"alpha_{a}" / "calls.txt").read_text().count("run") == 1
        assert (out / f"alpha_{a}" / DONE_MARKER).is_file()
    assert "finished earlier" in capsys.readouterr().err


def test_failed_run_is_reported_and_retried_later(tools, tmp_path, capsys):
    d, cfg = tools
    argv = [
        "rd",
        "sweep",
        "--framework",
        "detectron2",
        "--config",
        str(cfg),
        "--alphas",
        "1",
        "13",
        "--out",
        str(tmp_path / "s"),
        "--tools-dir",
        str(d),
    ]
    assert main(argv) == 2
    assert "α=13 failed with exit code 3" in capsys.readouterr().err
    assert not (tmp_path / "s" / "alpha_13" / DONE_MARKER).exists()
    assert (tmp_path / "s" / "alpha_1" / DONE_MARKER).exists()


def test_commands_for_a_scheduler_and_mmseg_multi_gpu(tools, tmp_path, capsys):
    d, cfg = tools
    assert (
        main(
            [
                "rd",
                "sweep",
                "--framework",
                "mmseg",
                "--config",
                str(cfg),
                "--alphas",
                "0.1",
                "--out",
                str(tmp_path / "m"),
                "--tools-dir",
                str(d),
                "--num-gpus",
                "2",
                "--commands",
                "--",
                "--amp",
            ]
        )
        == 0
    )
    line = capsys.readouterr().out.strip()
    assert "torch.distributed.run" in line and "--nproc_per_node=2" in line
    assert "--launcher pytorch --amp --cfg-options model.codec_loss.alpha=0.1" in line


def test_bad_sweeps(tools, tmp_path):
    d, cfg = tools
    with pytest.raises(SweepError, match="unknown framework"):
        plan_sweep("caffe", cfg, [1], tmp_path, tools_dir=d)
    with pytest.raises(SweepError, match="config"):
        plan_sweep("mmseg", tmp_path / "nope.py", [1], tmp_path, tools_dir=d)
    with pytest.raises(SweepError, match=">= 0"):
        plan_sweep("mmseg", cfg, [-1], tmp_path, tools_dir=d)
    with pytest.raises(SweepError, match="launcher"):
        plan_sweep("mmseg", cfg, [1], tmp_path, tools_dir=tmp_path / "none")
    assert sys.executable in plan_sweep("mmseg", cfg, [1], tmp_path, tools_dir=d)[0].command
