"""`ttc plot`: figures from the shipped paper curves, opened and checked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ttc_core.cli import main as ttc
from ttc_core.rd.format import MetricInfo, RDCurve, save_rd

PAPER = Path(__file__).resolve().parents[2] / "results" / "paper"


def read_png(path: Path) -> np.ndarray:
    import matplotlib.image

    return matplotlib.image.imread(str(path))


def test_plot_paper_curves_png(tmp_path, capsys):
    out = tmp_path / "depth.png"
    files = [str(PAPER / f"cityscapes_depth_{m}.json") for m in ("baseline", "proposed")]
    assert ttc(["plot", *files, "-o", str(out), "--dpi", "100"]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    image = read_png(out)
    assert image.shape[:2] == (480, 640)  # 6.4 x 4.8 inches at 100 dpi
    assert image[..., :3].std() > 0.01  # not blank
    # more than background and one colour: two curves, grid, text
    assert len(np.unique(image[..., :3].reshape(-1, 3), axis=0)) > 50


def test_plot_with_paper_overlay_reference_line_and_mixed_rates(tmp_path, capsys):
    ours = RDCurve(
        name="Proposed",
        metric="psnr-rgb",
        metrics={"psnr-rgb": MetricInfo("higher", "PSNR", "dB")},
        results={"bpp": [0.9, 1.2, 1.6, 2.2], "psnr-rgb": [35.0, 37.0, 39.2, 40.9]},
        uncompressed={"psnr-rgb": 42.0},
    )
    mine = save_rd(ours, tmp_path / "ours.json")
    paper = [
        str(PAPER / f"cityscapes_scalable_reconstruction_{m}.json")
        for m in ("proposed", "baseline", "standalone")
    ]
    png, pdf = tmp_path / "overlay.png", tmp_path / "overlay.pdf"
    args = [
        str(mine),
        "--paper",
        paper[0],
        "--paper",
        paper[1],
        "--paper",
        paper[2],
        "--uncompressed",
        "42",
        "--title",
        "scalable reconstruction",
        "--logx",
    ]
    assert ttc(["plot", *args, "-o", str(png), "--figsize", "8", "5", "--dpi", "80"]) == 0
    image = read_png(png)
    assert image.shape[:2] == (400, 640)
    assert image[..., :3].std() > 0.01
    assert ttc(["plot", *args, "-o", str(pdf)]) == 0
    assert pdf.read_bytes()[:5] == b"%PDF-"
    capsys.readouterr()


def test_plot_library_labels(tmp_path):
    import matplotlib

    from ttc_core.rd.format import load_rd
    from ttc_core.rd.plot import plot_rd

    paper = [load_rd(PAPER / "coco_detection_baseline.json")]
    with matplotlib.rc_context({"svg.fonttype": "none"}):  # keep text as text
        out = plot_rd(paper, tmp_path / "det.svg")
    text = out.read_text()
    assert "estimated from likelihoods" in text  # the x label says which bits
    assert "higher is better" in text
    assert "coco detection" in text  # the shared experiment is the default title


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-o", "x.png"], "at least one RD file"),
        ([str(PAPER / "coco_detection_baseline.json"), "-o", "x.gif"], "unsupported figure"),
        (
            [str(PAPER / "coco_detection_baseline.json"), "--metric", "mIoU", "-o", "x.png"],
            "no 'mIoU'",
        ),
        (["missing.json", "-o", "x.png"], "cannot read"),
    ],
)
def test_plot_errors(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    assert ttc(["plot", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1
