"""The prepared GPU check's CPU dry run (`benchmarks/gpu_check.sh --device cpu --tiny`), slow."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_gpu_check_dry_run_writes_its_record_and_decodes_bit_exactly(tmp_path):
    out = tmp_path / "check"
    cmd = ["bash", "benchmarks/gpu_check.sh", "--device", "cpu", "--tiny", "--out", str(out)]
    env = {"PYTHON": sys.executable, "PATH": "/usr/bin:/bin"}
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    record = json.loads((out / "gpu_check.json").read_text())
    assert record["tiny"] and record["commit"]
    # the step benchmark in float32 and with AMP (bfloat16 on a CPU), both models measured
    assert set(record["step"]) == {"float32", "bfloat16"}
    for r in record["step"].values():
        assert r["plain"]["step_s"] > 0 and r["ttc"]["step_s"] > 0
    # Proposed and Baseline trained and reported with real bits
    for mode in ("proposed", "baseline"):
        report = record["training"][mode]["report"]
        assert report["split"] == "report"
        assert "ttc/bpp" in report.get("metrics", report)
    # every validation image coded and decoded (decoding checks each latent's CRC)
    summary = record["bitstreams"]["summary"]
    decoded = sorted((out / "decoded").glob("*.png"))
    assert decoded and len(decoded) == len(list((out / "coco" / "val2017").iterdir()))
    assert summary
    readme = (out / "README.md").read_text()
    assert "| proposed |" in readme and "| baseline |" in readme
