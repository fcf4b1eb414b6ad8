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


# -- Slurm: a fake sbatch / srun on PATH run the array tasks here -----------------------------
FAKE_SBATCH = """#!/usr/bin/env python3
import os, re, subprocess, sys
script = sys.argv[-1]
text = open(script).read()
first, last = map(int, re.search(r"#SBATCH --array=(\\d+)-(\\d+)", text).group(1, 2))
with open(os.environ["FAKE_SLURM_LOG"], "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\\n")
for task in range(first, last + 1):
    env = dict(os.environ, SLURM_ARRAY_TASK_ID=str(task), SLURM_ARRAY_JOB_ID="4242")
    subprocess.run(["bash", script], env=env, check=False)
print("4242")
"""
FAKE_SRUN = """#!/usr/bin/env bash
while [[ "$1" == --* ]]; do shift; done
exec "$@"
"""


@pytest.fixture
def fake_slurm(tmp_path, monkeypatch):
    import os

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("sbatch", FAKE_SBATCH), ("srun", FAKE_SRUN)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SLURM_LOG", str(tmp_path / "sbatch.log"))
    return tmp_path / "sbatch.log"


def _sweep_argv(cfg, d, out, *extra):
    return [
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
        *extra,
    ]


COLLECT = [
    "--metric",
    "bbox/AP",
    "--name",
    "Proposed",
    "--estimated-only",
    "--bpp-estimated",
    "bpp",
]


def test_slurm_array_job_equals_the_local_sweep(tools, tmp_path, fake_slurm, capsys):
    d, cfg = tools
    local = tmp_path / "local.json"
    assert main(_sweep_argv(cfg, d, tmp_path / "l", *COLLECT, "-o", str(local))) == 0
    out = tmp_path / "s"
    slurm = ["--slurm", "--partition", "gpu", "--time", "01:00:00", "--submit"]
    assert main(_sweep_argv(cfg, d, out, *slurm)) == 0
    assert "Slurm job 4242" in capsys.readouterr().out
    script = (out / "sweep.slurm").read_text()
    for line in ("--array=0-2", "--partition=gpu", "--time=01:00:00", "--gres=gpu:1"):
        assert f"#SBATCH {line}" in script
    assert fake_slurm.read_text().startswith("--parsable")
    # every task ran once, through the same launcher command as the local sweep
    for a in ("0.5", "1", "2"):
        assert (out / f"alpha_{a}" / "calls.txt").read_text().count("run") == 1
    # the same collection as the local sweep's
    collected = tmp_path / "slurm.json"
    assert main(_sweep_argv(cfg, d, out, *COLLECT, "-o", str(collected))) == 0
    a, b = load_rd(local), load_rd(collected)
    assert a.results == b.results and a.name == b.name
    # resumable: nothing left, nothing submitted again
    assert main(_sweep_argv(cfg, d, out, "--slurm", "--submit")) == 0
    assert "nothing to submit" in capsys.readouterr().err
    assert fake_slurm.read_text().count("--parsable") == 1


def test_slurm_array_covers_only_unfinished_points_and_a_task_resumes(tools, tmp_path, capsys):
    d, cfg = tools
    out = tmp_path / "s"
    assert main(_sweep_argv(cfg, d, out, "--alphas", "1")) == 0  # α = 1 finished locally
    assert main(_sweep_argv(cfg, d, out, "--slurm", "--gpus-per-job", "0")) == 0
    script = (out / "sweep.slurm").read_text()
    assert "#SBATCH --array=0-1" in script and "--gres" not in script  # α = 0.5 and 2
    plan = out / "sweep_plan.json"
    assert f"rd task {plan.resolve()}" in script
    assert main(["rd", "task", str(plan), "1"]) == 0  # what array task 1 runs: α = 2
    assert (out / "alpha_2" / "calls.txt").read_text().count("run") == 1
    assert not (out / "alpha_0.5" / "calls.txt").exists()
    assert main(["rd", "task", str(plan), "1"]) == 0  # a resubmitted task skips it
    assert "finished earlier" in capsys.readouterr().err
    assert (out / "alpha_2" / "calls.txt").read_text().count("run") == 1
    assert main(["rd", "task", str(plan), "2"]) == 2


def test_slurm_refuses_what_would_not_run(tools, tmp_path, capsys):
    d, cfg = tools
    assert main(_sweep_argv(cfg, d, tmp_path / "s", "--submit")) == 2
    assert "add --slurm" in capsys.readouterr().err
    argv = _sweep_argv(cfg, d, tmp_path / "s", "--slurm", "--num-gpus", "2", "--gpus-per-job", "1")
    assert main(argv) == 2
    assert "--gpus-per-job 1 < --num-gpus 2" in capsys.readouterr().err
    assert main(["rd", "task", str(tmp_path / "nope.json"), "0"]) == 2
    assert "not a sweep plan" in capsys.readouterr().err
