"""The plugins after ``pip install`` alone: wheels, a fresh environment, an empty folder.

The three wheels are built (``pip wheel``, hatchling) and installed, not editable, into a new
virtual environment that sees the framework stack of this one (torch, Detectron2, MMCV,
MMEngine, MMSegmentation, ...) but neither the repository nor this environment's editable ttc
installs. From an empty folder, with only the installed commands, the test then lists the
shipped configs, generates data, trains a few iterations of the Detectron2 demo config and of
the MMSeg demo depth config **by name** through the packaged launchers (each writes its
reported evaluation), evaluates the MMSeg checkpoint with the test launcher and a config of the
user's that inherits the shipped one, and codes an image with each checkpoint
(``ttc compress`` / ``ttc decompress``).

Slow (2 to 4 minutes on 2 shared CPU cores): ``pytest -m slow tests/e2e/test_wheels.py``. The
wheels build without network access when hatchling is installed here (``pip install
hatchling``); otherwise pip fetches it into an isolated build environment.
"""

from __future__ import annotations

import importlib.util
import json
import os
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

pytest.importorskip("detectron2.modeling", reason="Detectron2 is not installed (make install)")
pytest.importorskip("mmseg", reason="MMSegmentation is not installed (make install)")

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
DISTS = ("ttc-core", "ttc-detectron2", "ttc-mmseg")
D2_DEMO = "ttc_proposed_R_18_FPN_demo_synthetic-coco"  # bare names, as a user types them
MMSEG_DEMO = "ttc-proposed_lraspp_m-v3-d8_1xb4-35e_synthetic-cityscapes-disparity-64x128"


def _run(cmd, cwd, env, timeout=900) -> str:
    proc = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        pytest.fail(
            f"{' '.join(map(str, cmd[:3]))} ... failed (rc {proc.returncode}):\n{out[-6000:]}"
        )
    return out


def _build_wheels(dest: Path) -> list[Path]:
    # offline with the hatchling installed here; else pip fetches it for an isolated build
    isolation = ["--no-build-isolation"] if importlib.util.find_spec("hatchling") else []
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation, "-w", dest]
    _run([*cmd, *(REPO / "packages" / d for d in DISTS)], cwd=REPO, env=dict(os.environ))
    wheels = sorted(dest.glob("*.whl"))
    assert [w.name.split("-")[0] for w in wheels] == ["ttc_core", "ttc_detectron2", "ttc_mmseg"]
    return wheels


def _fresh_env(root: Path, wheels: list[Path]) -> tuple[Path, dict]:
    """A venv with the wheels installed and this environment's site-packages appended
    (a plain path: its .pth files, among them the editable ttc installs, are not run)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", root], check=True)
    python = root / "bin" / "python"
    purelib = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    stack = [sysconfig.get_paths()["purelib"], *site.getsitepackages()]
    (purelib / "framework_stack.pth").write_text(
        "\n".join(dict.fromkeys(p for p in stack if Path(p).is_dir())) + "\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(
        PATH=f"{root / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        PYTHONNOUSERSITE="1",
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        CUDA_VISIBLE_DEVICES="",
        PYTHONUNBUFFERED="1",
    )
    pip = [sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index"]
    _run([*pip, *wheels], cwd=root, env=env)
    return python, env


def test_the_wheels_train_and_code_from_an_empty_folder(tmp_path):
    wheels = _build_wheels(tmp_path / "wheels")
    python, env = _fresh_env(tmp_path / "venv", wheels)
    bin_ = python.parent
    work = tmp_path / "empty"
    work.mkdir()

    def run(*cmd, timeout=900):
        return _run(cmd, cwd=work, env=env, timeout=timeout)

    # the installed code, not the repository's: the packages and their configs in the venv
    where = (
        run(
            python,
            "-c",
            "import json, ttc_core, ttc_detectron2, ttc_mmseg;"
            "from ttc_detectron2 import model_zoo;"
            "print('WHERE', json.dumps([ttc_core.__file__, ttc_detectron2.__file__,"
            f" ttc_mmseg.__file__, model_zoo.get_config_file({D2_DEMO!r}),"
            f" ttc_mmseg.config_path({MMSEG_DEMO!r})]))",
        )
        .split("WHERE ", 1)[1]
        .splitlines()[0]
    )
    for path in json.loads(where):
        assert Path(path).resolve().is_relative_to((tmp_path / "venv").resolve()), path
        assert not Path(path).resolve().is_relative_to(REPO.resolve()), path
    listed = run(bin_ / "ttc", "configs", "list")
    assert "detectron2 (" in listed and "mmseg (" in listed
    assert f"demo/{D2_DEMO}.yaml" in listed and f"demo/{MMSEG_DEMO}.py" in listed
    assert f"demo/{D2_DEMO}.yaml" in run(python, "-m", "ttc_detectron2.model_zoo", "--list")
    assert f"demo/{MMSEG_DEMO}.py" in run(python, "-m", "ttc_mmseg.model_zoo", "--list")

    # generated data in the real layouts
    coco, cityscapes = work / "data" / "coco", work / "data" / "cityscapes"
    run(bin_ / "ttc", "data", "synth", "coco", "--out", coco, "--num-train", "8", "--num-val", "2",
        "--height", "128", "--width", "176")  # fmt: skip
    run(bin_ / "ttc", "data", "synth", "cityscapes", "--out", cityscapes, "--num-train", "9",
        "--num-val", "2", "--height", "64", "--width", "128")  # fmt: skip

    # Detectron2: the demo config by name, through `python -m ttc_detectron2.train_net`
    d2_out = work / "out" / "d2"
    ann = coco / "annotations"
    log = run(
        python, "-m", "ttc_detectron2.train_net", "--config-file", D2_DEMO,
        "--register-coco", f"demo_coco_train={ann}/instances_train2017.json:{coco}/train2017",
        "--register-coco", f"demo_coco_val={ann}/instances_val2017.json:{coco}/val2017",
        "SOLVER.MAX_ITER", "4", "TEST.EVAL_PERIOD", "2", "SOLVER.CHECKPOINT_PERIOD", "4",
        "OUTPUT_DIR", d2_out,
    )  # fmt: skip
    assert "copypaste: Task: ttc" in log
    d2_report = json.loads((d2_out / "ttc_report.json").read_text())
    assert d2_report["dataset"] == "demo_coco_val" and d2_report["ttc/bpp"] > 0
    d2_ckpt = Path(d2_report["checkpoint"])
    assert d2_ckpt.is_file()

    # MMSegmentation: the demo depth config by name, through the console scripts, on the
    # data root given as the configs document it (CITYSCAPES_ROOT)
    mm_work = work / "out" / "mmseg"
    env["CITYSCAPES_ROOT"] = str(cityscapes)
    run(
        bin_ / "ttc-mmseg-train", MMSEG_DEMO, "--work-dir", mm_work, "--cfg-options",
        "train_cfg.max_epochs=2", "train_cfg.val_interval=1",
        "default_hooks.checkpoint.interval=2",
    )  # fmt: skip
    mm_report = json.loads((mm_work / "ttc_report.json").read_text())
    assert mm_report["split"] == "report" and mm_report["bpp"] > 0 and mm_report["rmse"] > 0
    mm_ckpt = Path(mm_report["checkpoint"])
    assert mm_ckpt.is_file()
    # evaluated with a config of the user's that inherits the shipped one (as the README says)
    mine = work / "my_depth.py"
    mine.write_text(
        f"_base_ = ['{{{{$TTC_MMSEG_CONFIGS:}}}}/demo/{MMSEG_DEMO}.py']\n"
        "default_hooks = dict(logger=dict(interval=1))\n"
    )
    run(bin_ / "ttc-mmseg-test", mine, mm_ckpt, "--work-dir", mm_work / "test")
    results = list((mm_work / "test").glob("*/[0-9]*_[0-9]*.json"))
    assert len(results) == 1 and json.loads(results[0].read_text())["rmse"] > 0

    # an image coded with each checkpoint
    d2_image = next((coco / "val2017").glob("*.jpg"), None) or next((coco / "val2017").iterdir())
    mm_image = next((cityscapes / "leftImg8bit" / "val").rglob("*.png"))
    for name, ckpt, image in (("d2", d2_ckpt, d2_image), ("mmseg", mm_ckpt, mm_image)):
        stream, decoded = work / f"{name}.ttc", work / f"{name}.png"
        run(bin_ / "ttc", "compress", image, "-c", ckpt, "-o", stream)
        assert stream.stat().st_size > 0
        run(bin_ / "ttc", "decompress", stream, "-c", ckpt, "-o", decoded)
        assert decoded.stat().st_size > 0
    info = run(bin_ / "ttc", "info", work / "mmseg.ttc")
    assert "image:       64×128" in info and "model:" in info
