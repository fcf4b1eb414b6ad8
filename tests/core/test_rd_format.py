"""RD JSON format: round trips, validation, plain CompressAI files, the shipped paper curves."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from ttc_core.cli import main
from ttc_core.rd.format import (
    FORMAT,
    MetricInfo,
    RDCurve,
    RDFormatError,
    common_rate_key,
    dumps,
    from_json,
    load_rd,
    save_rd,
)

PAPER = Path(__file__).resolve().parents[2] / "results" / "paper"


def make_curve(**overrides) -> RDCurve:
    fields = dict(
        name="Proposed",
        description="test curve",
        metric="psnr-rgb",
        metrics={"psnr-rgb": MetricInfo("higher", "PSNR", "dB")},
        results={
            "bpp": [0.1, 0.2, 0.4],
            "bpp_estimated": [0.09, 0.19, 0.38],
            "bpp_base": [0.05, 0.05, 0.05],
            "bpp_enhancement": [0.05, 0.15, 0.35],
            "psnr-rgb": [30.0, 32.5, 35.0],
        },
        experiment="toy",
        dataset="toy_val",
        num_images=8,
        provenance=[{"checkpoint": f"c{i}.pth", "checkpoint_sha256": "ab" * 32} for i in range(3)],
        uncompressed={"psnr-rgb": 40.0},
        extra={"source": "unit test"},
    )
    fields.update(overrides)
    return RDCurve(**fields)


def test_round_trip_keeps_every_field(tmp_path):
    curve = make_curve()
    path = save_rd(curve, tmp_path / "sub" / "curve.json")
    loaded = load_rd(path)
    assert loaded == curve
    assert loaded.path == path
    data = json.loads(path.read_text())
    assert data["format"] == FORMAT
    assert data["metrics"]["psnr-rgb"] == {"direction": "higher", "label": "PSNR", "unit": "dB"}
    assert data["dataset"] == "toy_val" and data["num_images"] == 8
    assert data["provenance"][2]["checkpoint"] == "c2.pth"
    assert data["source"] == "unit test"


def test_dump_is_ascii_with_lists_on_one_line():
    curve = make_curve(description="Baji\u0107: [ 1, 2 ] stays as written")
    text = dumps(curve.to_json())
    assert text.isascii()
    assert '"bpp": [0.1, 0.2, 0.4]' in text
    assert json.loads(text)["description"] == "Baji\u0107: [ 1, 2 ] stays as written"


def test_plain_compressai_file_loads(tmp_path):
    path = tmp_path / "bmshj2018-factorized.json"
    path.write_text(
        json.dumps(
            {
                "name": "bmshj2018-factorized",
                "description": "Inference (ans)",
                "results": {
                    "psnr-rgb": [27.0, 29.5, 32.0],
                    "ms-ssim-rgb": [0.93, 0.95, 0.97],
                    "bpp": [0.12, 0.2, 0.32],
                    "encoding_time": [0.1, 0.1, 0.1],
                },
            }
        )
    )
    curve = load_rd(path)
    assert curve.metric == "psnr-rgb"
    assert curve.info().higher_is_better
    assert curve.rate_key == "bpp" and curve.rate_label() == "actual"  # CompressAI codes for real
    assert curve.values() == [27.0, 29.5, 32.0]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: [d["results"].pop(k) for k in ("bpp", "bpp_estimated")], "neither 'bpp'"),
        (lambda d: d["results"]["psnr-rgb"].pop(), "differ in length"),
        (lambda d: d["results"]["psnr-rgb"].__setitem__(0, float("nan")), "non-finite"),
        (lambda d: d["results"]["psnr-rgb"].__setitem__(0, "30"), "non-numeric"),
        (lambda d: d["results"]["bpp"].__setitem__(0, -0.1), "negative rate"),
        (lambda d: d.__setitem__("metric", "mIoU"), "not a metric"),
        (lambda d: d.__setitem__("metric", "bpp_base"), "not a metric"),
        (lambda d: d["metrics"]["psnr-rgb"].__setitem__("direction", "up"), "'higher' or 'lower'"),
        (lambda d: d.__setitem__("bpp_source", "guessed"), "bpp_source"),
        (lambda d: d.__setitem__("split", 3), "'split'"),
        (lambda d: d.__setitem__("num_images", -3), "num_images"),
        (lambda d: d["provenance"].pop(), "one entry per point"),
        (lambda d: d.__setitem__("format", "ttc-rd/9"), "unsupported format"),
        (lambda d: d.__setitem__("results", {"bpp": [], "psnr-rgb": []}), "no points"),
    ],
)
def test_validation_rejects_bad_files(tmp_path, change, message):
    data = make_curve().to_json()
    change(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(RDFormatError, match=message) as info:
        load_rd(path)
    assert str(path) in str(info.value)


def test_unreadable_and_invalid_json(tmp_path):
    with pytest.raises(RDFormatError, match="cannot read"):
        load_rd(tmp_path / "missing.json")
    (tmp_path / "broken.json").write_text('{"name": ')
    with pytest.raises(RDFormatError, match="not valid JSON"):
        load_rd(tmp_path / "broken.json")
    with pytest.raises(RDFormatError, match="JSON object"):
        from_json([1, 2, 3])


def test_rate_labels():
    actual = make_curve()
    assert actual.rate_label("bpp") == "actual"
    assert actual.rate_label("bpp_estimated") == "estimated"
    assert actual.rate_key == "bpp" and actual.has_actual_rate
    estimated = make_curve(
        results={"bpp_estimated": [0.1, 0.2], "psnr-rgb": [30.0, 32.0]}, provenance=None
    )
    assert estimated.rate_key == "bpp_estimated" and estimated.rate_label() == "estimated"
    assert common_rate_key([actual, estimated]) == "bpp_estimated"
    assert common_rate_key([actual, actual]) == "bpp"
    only_actual = make_curve(results={"bpp": [0.1, 0.2], "psnr-rgb": [30.0, 32.0]}, provenance=None)
    with pytest.raises(RDFormatError, match="no rate column is common"):
        common_rate_key([only_actual, estimated])


def test_format_1_files_load_with_estimates_renamed(tmp_path):
    """ttc 0.1 wrote estimates under `bpp` with bpp_source "estimated": never read as real bits."""
    old = {
        "name": "Proposed",
        "format": "ttc-rd/1",
        "metric": "psnr",
        "bpp_source": "estimated",
        "results": {
            "bpp": [0.5, 0.9],
            "bpp_base": [0.2, 0.2],
            "bpp_enhancement": [0.3, 0.7],
            "psnr": [30.0, 33.0],
        },
    }
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    curve = load_rd(path)
    assert set(curve.results) == {
        "bpp_estimated",
        "bpp_base_estimated",
        "bpp_enhancement_estimated",
        "psnr",
    }
    assert curve.results["bpp_estimated"] == [0.5, 0.9]
    assert main(["rd", "upgrade", str(path)]) == 0
    data = json.loads(path.read_text())
    assert data["format"] == FORMAT and "bpp" not in data["results"] and "bpp_source" not in data
    # a format-1 file of real bits keeps its bpp
    old.update(bpp_source="actual")
    path.write_text(json.dumps(old))
    assert load_rd(path).results["bpp"] == [0.5, 0.9]


# --- the paper's curves (METHOD §6), shipped under results/paper/ -------------------------

EXPECTED_PAPER = {
    "coco_detection": {"Proposed", "Baseline"},
    "cityscapes_depth": {"Proposed", "Baseline"},
    "cityscapes_direct_reconstruction": {"Proposed", "Baseline"},
    "coco_scalable_reconstruction": {"Proposed", "Baseline", "Standalone"},
    "cityscapes_scalable_reconstruction": {"Proposed", "Baseline", "Standalone"},
    "cityscapes_segmentation": {"Proposed", "Baseline", "Standalone"},
}


def test_paper_curves_are_all_shipped_and_marked_approximate():
    found: dict[str, set[str]] = {}
    for path in sorted(PAPER.glob("*.json")):
        curve = load_rd(path)
        found.setdefault(curve.experiment, set()).add(curve.name)
        assert path.name == f"{curve.experiment}_{curve.name.lower()}.json"
        assert "read off the published figures" in curve.description
        assert "approximate" in curve.description
        assert curve.extra["source"] == "read off the published figures (approximate)"
        # the paper's rates are likelihood estimates: never under the name of real bits
        assert "bpp" not in curve.results and curve.rate_key == "bpp_estimated"
        assert curve.info() is not None
    assert found == EXPECTED_PAPER


def test_paper_points_are_exactly_as_given_including_non_monotonic_ones():
    depth = load_rd(PAPER / "cityscapes_depth_baseline.json")
    assert depth.results["bpp_estimated"] == [0.046, 0.048, 0.157, 0.230]
    assert depth.results["rmse"] == [6.378, 6.323, 6.058, 6.072]
    assert not depth.info().higher_is_better
    direct = load_rd(PAPER / "cityscapes_direct_reconstruction_baseline.json")
    assert direct.results["psnr-rgb"] == [23.5, 21.2, 18.6, 27.6, 28.0]
    seg = load_rd(PAPER / "cityscapes_segmentation_standalone.json")
    assert seg.results["bpp_estimated"] == [0.2105, 0.246, 0.2565, 0.280]
    assert seg.results["mIoU"] == [0.9023, 0.934, 0.9412, 0.9487]
    det = load_rd(PAPER / "coco_detection_proposed.json")
    assert det.results["mAP"] == [0.330, 0.358, 0.3755, 0.387]
    assert det.extra["reported_bd_rate"]["percent"] == -1.3


def test_compressai_plot_reads_files_with_real_bits_and_not_estimates(tmp_path):
    """CompressAI's plot tool plots `bpp`: ttc files with real bits, never an estimate."""
    plot_main = pytest.importorskip("compressai.utils.plot.__main__")
    path = save_rd(make_curve(), tmp_path / "actual.json")
    parsed = plot_main.parse_json_file(path, "psnr")
    assert list(parsed["xs"]) == make_curve().results["bpp"]
    assert all(math.isfinite(y) for y in parsed["ys"])
    with pytest.raises(ValueError, match="Invalid file"):  # no `bpp` to misread
        plot_main.parse_json_file(PAPER / "cityscapes_depth_baseline.json", "rmse")
