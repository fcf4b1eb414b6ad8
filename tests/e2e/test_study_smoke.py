"""`ttc study --scale smoke`: every phase of the study through the real launchers (slow)."""

import json
from pathlib import Path

import pytest

from ttc_core.cli import main as ttc

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_smoke_study_runs_every_phase_and_reports(tmp_path):
    out = tmp_path / "study"
    assert ttc(["study", "--scale", "smoke", "--out", str(out), "--repo", str(REPO)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["bd_rates"]) >= {"cityscapes_depth", "coco_detection"}
    assert set(summary["side_information"]) == {
        "cityscapes_segmentation",
        "cityscapes_scalable_reconstruction",
        "coco_scalable_reconstruction",
    }
    for name, t in summary["trivial"].items():
        assert t["min"] is not None, name
    # every RD point is the reported split's, from a checkpoint chosen on the selection split
    for path in (out / "rd").rglob("*.json"):
        curve = json.loads(path.read_text())
        assert curve["split"] == "report", path
        assert all(p["split"] == "report" and p["selection"] for p in curve["provenance"])
    example = summary["example"]
    assert example["decoded_size"] == example["input_size"]
    assert "BD-rate of Proposed vs Baseline" in (out / "report.md").read_text()
    # a rerun resumes: nothing is trained again
    logs = {p: p.stat().st_mtime_ns for p in out.rglob("sweep.log")}
    assert len(logs) == 2 * 2 + 2 * 2 + 3 * (2 * 2 * 3)  # bases, enhancements + controls
    assert ttc(["study", "--scale", "smoke", "--out", str(out), "--repo", str(REPO)]) == 0
    assert {p: p.stat().st_mtime_ns for p in out.rglob("sweep.log")} == logs
