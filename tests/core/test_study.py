"""The evidence study's framework-free parts: plan, trivial predictors, side information, report."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ttc_core.checkpoint import make_codec_spec
from ttc_core.cli import main as ttc
from ttc_core.datasets import decode_disparity, write_cityscapes_dataset
from ttc_core.rd.format import MetricInfo, RDCurve
from ttc_core.study import EXPERIMENTS, SCALES, plan, report, trivial
from ttc_core.study.side_information import side_information_bits

from .conftest import TINY

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cityscapes(tmp_path_factory):
    root = tmp_path_factory.mktemp("cs")
    write_cityscapes_dataset(root, num_train=4, num_val=2, size=(32, 64), seed=3)
    return root


def test_mean_disparity_rmse_matches_a_direct_computation(cityscapes):
    def load(split):
        out = []
        for p in sorted((cityscapes / "disparity" / split).rglob("*.png")):
            png = np.asarray(Image.open(p))
            out.append((decode_disparity(png), png > 0))
        return out

    train = load("train")
    mean = np.concatenate([d[v] for d, v in train]).mean()
    err = np.concatenate([(d[v] - mean) for d, v in load("val")])
    assert trivial.mean_disparity_rmse(cityscapes) == pytest.approx(math.sqrt((err**2).mean()))


def test_majority_class_miou_is_the_iou_of_a_constant_map(cityscapes):
    def ids(split):
        files = sorted((cityscapes / "gtFine" / split).rglob("*_labelTrainIds.png"))
        return np.concatenate([np.asarray(Image.open(p)).ravel() for p in files])

    train, val = ids("train"), ids("val")
    majority = np.bincount(train[train < 19]).argmax()
    val = val[val < 19]
    pred = np.full_like(val, majority)
    ious = []
    for c in range(19):  # IoU of every class present or predicted, as mmseg's IoUMetric
        union = np.sum((val == c) | (pred == c))
        if union:
            ious.append(np.sum((val == c) & (pred == c)) / union)
    assert trivial.majority_class_miou(cityscapes) == pytest.approx(np.mean(ious))
    assert 0 < trivial.majority_class_miou(cityscapes) < 1


def test_mean_colour_psnr(tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    Image.fromarray(np.full((8, 8, 3), 100, np.uint8)).save(a)
    Image.fromarray(np.full((8, 8, 3), 110, np.uint8)).save(b)
    # predicting 100/255 for an image of 110/255: PSNR = 20 log10(255 / 10)
    assert trivial.mean_colour_psnr([a], [b]) == pytest.approx(20 * math.log10(25.5), abs=1e-6)
    assert trivial.mean_colour_psnr([a], [b], scale=0.5) == pytest.approx(28.1308, abs=1e-3)
    assert trivial.no_detection_ap() == 0.0


def _scalable_checkpoint(path: Path, base, enh) -> Path:
    spec = make_codec_spec(
        dict(TINY),
        "base.",
        enhancement={"kwargs": {**TINY, "side_channels": 16}, "prefix": "enhancement."},
    )
    state = {f"base.{k}": v for k, v in base.state_dict().items()}
    state.update({f"enhancement.{k}": v for k, v in enh.state_dict().items()})
    torch.save({"ttc_codec": spec, "state_dict": state}, path)
    return path


def test_side_information_measurement(tmp_path, trained_pair):
    base, enh, _ = trained_pair
    images = []
    for i in range(3):
        x = (np.random.default_rng(i).random((48, 48, 3)) * 255).astype(np.uint8)
        images.append(tmp_path / f"{i}.png")
        Image.fromarray(x).save(images[-1])
    ckpt = _scalable_checkpoint(tmp_path / "enh.pth", base, enh)
    out = side_information_bits(ckpt, images)
    assert out["images"] == 3
    assert all(
        out[k] > 0 and math.isfinite(out[k]) for k in ("bits_true", "bits_zeros", "bits_other")
    )
    assert out["saving_zeros"] == pytest.approx(1 - out["bits_true"] / out["bits_zeros"])
    # an entropy model that ignores ŷ_b: nothing to save
    blind = type(enh)(**{**TINY, "side_channels": 16})
    blind.load_state_dict(enh.state_dict())
    for p in blind.entropy_model.side_network.parameters():
        p.data.zero_()
    out = side_information_bits(_scalable_checkpoint(tmp_path / "blind.pth", base, blind), images)
    assert out["saving_zeros"] == pytest.approx(0, abs=1e-6)
    assert out["saving_other"] == pytest.approx(0, abs=1e-6)
    with pytest.raises(ValueError, match="at least two"):
        side_information_bits(ckpt, images[:1])


def _curve(name, rates, metric, runs=None) -> RDCurve:
    prov = [{"run": f"/x/alpha_{r}"} for r in (runs or rates)]
    return RDCurve(
        name=name,
        results={"bpp": list(rates), "bpp_enhancement": list(rates), "psnr": list(metric)},
        metric="psnr",
        metrics={"psnr": MetricInfo("higher", "PSNR", "dB")},
        provenance=prov,
    )


def test_bd_over_seeds_gives_mean_and_spread():
    psnr = [30.0, 32.0, 34.0, 36.0]
    base = [0.1, 0.2, 0.4, 0.8]
    variants = {
        "Baseline": {s: _curve("Baseline", base, psnr) for s in (0, 1, 2)},
        "Proposed": {
            s: _curve("Proposed", [r * f for r in base], psnr)
            for s, f in ((0, 0.9), (1, 0.8), (2, 0.85))
        },
    }
    out = report.bd_over_seeds(variants, (0, 1, 2))
    pchip, cubic = out["summary"]["pchip"], out["summary"]["cubic"]
    assert pchip.values == pytest.approx([-10, -20, -15], abs=1e-6)
    assert pchip.mean == pytest.approx(-15) and pchip.std == pytest.approx(5)
    assert cubic.values == pytest.approx([-10, -20, -15], abs=1e-6)
    assert "± 5.0" in pchip.text() and "(3 of 3)" in pchip.text()
    assert out["overlap"].values == pytest.approx([1.0, 1.0, 1.0])
    # a seed where a curve is missing is counted as undefined
    assert (
        report.bd_over_seeds(variants, (0, 1, 2, 3))["summary"]["pchip"].text().endswith("(3 of 4)")
    )


def test_side_information_savings_match_points_by_alpha():
    psnr = [30.0, 33.0]
    variants = {
        "Proposed standalone": {0: _curve("s", [0.5, 1.0], psnr, runs=[1, 8])},
        "Proposed continued": {0: _curve("c", [0.8, 0.4], psnr[::-1], runs=[8, 1])},
    }
    out = report.side_information_savings(variants, "Proposed", (0,))
    rows = out["per_seed"][0]
    assert {r["alpha"] for r in rows} == {"alpha_1", "alpha_8"}
    assert sorted(r["saving"] for r in rows) == pytest.approx([0.2, 0.2])
    assert out["summary"].mean == pytest.approx(0.2)


def test_trivial_margins():
    assert report.beats_trivial("rmse", 5.0, 6.0, higher=False)
    assert not report.beats_trivial("rmse", 5.8, 6.0, higher=False)
    assert report.beats_trivial("mIoU", 0.3, 0.2, higher=True)
    assert not report.beats_trivial("psnr_scalable", 21.0, 20.0, higher=True)
    assert report.beats_trivial("mAP", 0.05, 0.0, higher=True)


def _checkpoint_names(folder):
    """A stand-in for the study's checkpoint lookup: one made-up file per key."""
    return lambda *key: folder / ("_".join(map(str, key)) + ".pth")


def test_plan_commands_use_the_launchers_seeds_and_selected_checkpoints(tmp_path):
    scale = SCALES["demo"]
    bases = plan.base_points(scale, tmp_path, tmp_path / "data", REPO)
    depth = [p for p in bases if "disparity" in " ".join(p.command)]
    det = [p for p in bases if p.command[1].endswith("train_net.py")]
    n_alpha = len(scale.alphas["cityscapes_depth"])
    assert len(depth) == 2 * n_alpha * len(scale.seeds)
    assert det and all("--register-coco" in p.command for p in det)
    assert all("randomness.seed=0" in p.command for p in depth)
    assert all(p.command[p.command.index("SEED") + 1] == "0" for p in det)
    assert {p.run_dir.parent.parent.name for p in depth} == {"proposed", "baseline"}
    for cfg in {c for e in EXPERIMENTS.values() for c in e.configs.values()}:
        assert (REPO / cfg).is_file(), cfg

    ckpt = _checkpoint_names(tmp_path)
    enh = plan.enhancement_points(scale, tmp_path, tmp_path / "data", REPO, ckpt)
    seg = [p for p in enh if "segmentation" in str(p.run_dir)]
    assert any(
        f"model.base.checkpoint={ckpt('cityscapes_depth', 'Proposed', 0)}" in p.command for p in seg
    )
    coco = [p for p in enh if "coco" in str(p.run_dir)]
    assert all("MODEL.TTC.ENHANCEMENT.BASE_WEIGHTS" in p.command for p in coco)
    controls = plan.control_points(scale, tmp_path, tmp_path / "data", REPO, ckpt, ckpt)
    assert len(controls) == 2 * len(enh)
    assert all(
        any(a.startswith("load_from=") for a in p.command) or "MODEL.WEIGHTS" in p.command
        for p in controls
    )


def test_detection_bases_start_from_the_pretrained_detector_alike(tmp_path):
    scale = SCALES["demo"]
    assert scale.pretraining is not None and scale.pretraining.seed != 0
    assert (REPO / scale.pretraining.config).is_file()
    weights = tmp_path / "pretrained.pth"
    bases = plan.base_points(scale, tmp_path, tmp_path / "data", REPO, {"coco_detection": weights})
    det = [p for p in bases if p.command[1].endswith("train_net.py")]
    depth = [p for p in bases if p not in det]
    assert {p.run_dir.parent.parent.name for p in det} == {"proposed", "baseline"}
    # the scale's overrides come first, so the start is not overridden by a later MODEL.WEIGHTS
    for p in det:
        i = len(p.command) - 1 - p.command[::-1].index("MODEL.WEIGHTS")
        assert p.command[i + 1] == str(weights)
    assert not any(
        "MODEL.WEIGHTS" in p.command or "load_from" in " ".join(p.command) for p in depth
    )
    # without pretraining, the configs' own MODEL.WEIGHTS ("" in the demo) stands
    assert not any(
        "MODEL.WEIGHTS" in p.command
        for p in plan.base_points(scale, tmp_path, tmp_path / "data", REPO)
    )


def test_cli_refuses_an_enhancement_without_its_base(tmp_path, capsys):
    rc = ttc(["study", "--out", str(tmp_path), "--experiments", "cityscapes_segmentation"])
    assert rc == 2 and "cityscapes_depth" in capsys.readouterr().err


def test_render_report_states_the_numbers():
    summary = {
        "scale": "demo",
        "command": "ttc study --scale demo",
        "commit": "abc",
        "seeds": [0],
        "wall_time_s": 60.0,
        "machine": "2 CPU cores",
        "bd_rates": {
            "cityscapes_depth": {
                "pchip": {"text": "-12.0 (1 of 1 seeds)"},
                "cubic": {"text": "n/a (0 of 1)"},
                "overlap": {"text": "+80.0 (1 of 1 seeds)"},
                "per_seed": {"0": {"pchip": {"error": None}, "cubic": {"error": "needs 4"}}},
            }
        },
        "side_information": {},
        "trivial": {
            "cityscapes_depth": {
                "metric": "rmse",
                "predictor": "mean",
                "trivial": 6.0,
                "min": 3.0,
                "max": 4.0,
                "all_beat": True,
            }
        },
        "points": {
            "cityscapes_depth": {
                "Proposed": {"0": [{"bpp": 0.1, "bpp_estimated": 0.09, "metric": 3.5}]}
            }
        },
    }
    text = report.render_report(json.loads(json.dumps(summary)))
    assert "-12.0 (1 of 1 seeds)" in text and "needs 4" in text
    assert "| cityscapes_depth | rmse | mean | 6 | Proposed, Baseline | 3 … 4 | yes |" in text


def test_the_controls_schedule_is_the_same_for_standalone_and_continued(tmp_path):
    """The scale's control options reach both control stages, identically, and no other run."""
    scale = SCALES["demo"]

    ckpt = _checkpoint_names(tmp_path)
    enh = plan.enhancement_points(scale, tmp_path, tmp_path / "data", REPO, ckpt)
    controls = plan.control_points(scale, tmp_path, tmp_path / "data", REPO, ckpt, ckpt)
    for name, options in scale.control_options.items():
        flag = " ".join(options)
        runs = [p for p in controls if f"/{name}/" in str(p.run_dir)]
        by_stage = {}
        for p in runs:
            assert flag in " ".join(p.command)
            key = (p.run_dir.parent.parent.name, p.run_dir.name)  # (base, alpha_*)
            by_stage.setdefault(p.run_dir.parent.name, {})[key] = p.command
        assert set(by_stage) == {"standalone", "continued"}
        # the stages differ only in their config file and output folder
        for key, command in by_stage["standalone"].items():
            other = by_stage["continued"][key]
            diff = {a for a in command if a not in other} | {a for a in other if a not in command}
            assert all("standalone" in a or "continued" in a for a in diff), diff
        conditional = [p for p in enh if f"/{name}/" in str(p.run_dir)]
        assert conditional and not any(flag in " ".join(p.command) for p in conditional)
