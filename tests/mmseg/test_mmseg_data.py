"""Cityscapes disparity loading: hand-computed decoding, flips, errors, the dataset."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

import ttc_mmseg  # noqa: F401  (registration)
from ttc_mmseg.datasets import LoadCityscapesDisparity, decode_disparity

BASELINE_M, FX = 0.2, 2000.0
# raw 16-bit values: invalid, zero disparity, 1 px, 2 px, 0.5 px, 128 px
RAW = np.array([[0, 1, 257, 513], [129, 32769, 0, 257]], dtype=np.uint16)
#  (p - 1) / 32768, invalid (p = 0) -> 0; p = 1 decodes to 0 (see the module docstring)
DISPARITY = np.array(
    [[0.0, 0.0, 256 / 32768, 512 / 32768], [128 / 32768, 1.0, 0.0, 256 / 32768]], np.float32
)
#  baseline * fx / ((p - 1) / 256): 400 m at 1 px; p <= 1 invalid
DEPTH = np.array([[0.0, 0.0, 400.0, 200.0], [800.0, 400.0 / 128, 0.0, 400.0]], np.float32)


def write_frame(root, raw=RAW, image_mode="RGB"):
    root.mkdir(parents=True, exist_ok=True)
    h, w = raw.shape
    img = np.arange(h * w * 3, dtype=np.uint8).reshape(h, w, 3)
    Image.fromarray(img, image_mode).save(root / "f_leftImg8bit.png")
    Image.fromarray(raw).save(root / "f_disparity.png")
    (root / "f_camera.json").write_text(
        json.dumps({"extrinsic": {"baseline": BASELINE_M}, "intrinsic": {"fx": FX}})
    )
    return dict(
        img_path=str(root / "f_leftImg8bit.png"),
        depth_map_path=str(root / "f_disparity.png"),
        camera_path=str(root / "f_camera.json"),
        seg_fields=[],
    )


def run_pipeline(info, steps):
    from mmseg.registry import TRANSFORMS

    results = dict(info, seg_fields=[])
    for step in steps:
        results = TRANSFORMS.build(step)(results)
    return results


def test_png_roundtrip_is_16_bit(tmp_path):
    info = write_frame(tmp_path)
    assert np.array_equal(np.array(Image.open(info["depth_map_path"])), RAW)


@pytest.mark.parametrize("target,expected", [("disparity", DISPARITY), ("depth", DEPTH)])
def test_decoding_matches_hand_computed_values(tmp_path, target, expected):
    info = write_frame(tmp_path)
    out = run_pipeline(
        info, [dict(type="LoadImageFromFile"), dict(type="LoadCityscapesDisparity", target=target)]
    )
    gt = out["gt_depth_map"]
    assert gt.dtype == np.float32 and gt.shape == RAW.shape
    np.testing.assert_allclose(gt, expected, rtol=1e-6)
    assert "gt_depth_map" in out["seg_fields"]
    # invalid pixels are exactly zero
    assert np.all(gt[RAW == 0] == 0)


def test_disparity_px_target_and_paper_units():
    px = decode_disparity(RAW, "disparity_px")
    paper = decode_disparity(RAW, "disparity")
    np.testing.assert_allclose(px[RAW > 1], (RAW[RAW > 1].astype(np.float64) - 1) / 256)
    # the paper's target is disparity / 128, so 128 x target = disparity in pixels
    np.testing.assert_allclose(128 * paper, px, rtol=1e-6)


@pytest.mark.parametrize("target,expected", [("disparity", DISPARITY), ("depth", DEPTH)])
def test_horizontal_flip_moves_the_decoded_map_with_the_image(tmp_path, target, expected):
    info = write_frame(tmp_path)
    steps = [dict(type="LoadImageFromFile"), dict(type="LoadCityscapesDisparity", target=target)]
    plain = run_pipeline(info, steps)
    flipped = run_pipeline(
        info, steps + [dict(type="RandomFlip", prob=1.0, direction="horizontal")]
    )
    assert flipped["flip"] is True
    np.testing.assert_allclose(flipped["gt_depth_map"], expected[:, ::-1], rtol=1e-6)
    np.testing.assert_array_equal(flipped["img"], plain["img"][:, ::-1])
    # packed as the depth ground truth
    packed = run_pipeline(
        info, steps + [dict(type="RandomFlip", prob=1.0), dict(type="PackSegInputs")]
    )
    gt = packed["data_samples"].gt_depth_map.data
    assert tuple(gt.shape) == (1, *RAW.shape)
    np.testing.assert_allclose(gt[0].numpy(), expected[:, ::-1], rtol=1e-6)


def test_max_depth_marks_far_pixels_invalid(tmp_path):
    info = write_frame(tmp_path)
    out = run_pipeline(
        info, [dict(type="LoadCityscapesDisparity", target="depth", max_depth=500.0)]
    )
    np.testing.assert_allclose(out["gt_depth_map"], np.where(DEPTH > 500, 0, DEPTH), rtol=1e-6)


def test_8_bit_disparity_is_refused_with_a_clear_message(tmp_path):
    info = write_frame(tmp_path)
    Image.fromarray((RAW % 256).astype(np.uint8)).save(info["depth_map_path"])
    with pytest.raises(ValueError, match="16-bit PNG.*uint8.*disparity_trainvaltest.zip"):
        LoadCityscapesDisparity()(dict(info))


def test_rgb_disparity_is_refused(tmp_path):
    info = write_frame(tmp_path)
    Image.fromarray(np.zeros((2, 4, 3), np.uint8)).save(info["depth_map_path"])
    with pytest.raises(ValueError, match="single-channel 16-bit"):
        LoadCityscapesDisparity()(dict(info))


def test_depth_target_without_camera_says_what_to_add(tmp_path):
    info = write_frame(tmp_path)
    info.pop("camera_path")
    with pytest.raises(KeyError, match="camera_path"):
        LoadCityscapesDisparity(target="depth")(info)


def test_size_mismatch_with_image_is_refused(tmp_path):
    info = write_frame(tmp_path)
    Image.fromarray(np.zeros((3, 4), np.uint16)).save(info["depth_map_path"])
    with pytest.raises(ValueError, match="before any geometric transform"):
        run_pipeline(info, [dict(type="LoadImageFromFile"), dict(type="LoadCityscapesDisparity")])


def test_color_jitter_keeps_geometry_and_changes_colours(tmp_path):
    import random

    from ttc_mmseg.datasets import TTCColorJitter

    random.seed(0)
    img = np.random.default_rng(0).integers(0, 256, (8, 16, 3), dtype=np.uint8)
    out = TTCColorJitter(0.5, 0.5, 0.5)(dict(img=img.copy()))["img"]
    assert out.shape == img.shape and out.dtype == np.uint8
    assert not np.array_equal(out, img)
    same = TTCColorJitter(0, 0, 0)(dict(img=img.copy()))["img"]
    np.testing.assert_array_equal(same, img)


# -- the dataset -------------------------------------------------------------------------------
def build_dataset(root, **prefix):
    from mmseg.registry import DATASETS

    data_prefix = dict(img_path="leftImg8bit/train", depth_map_path="disparity/train", **prefix)
    return DATASETS.build(
        dict(
            type="CityscapesDisparityDataset",
            data_root=str(root),
            data_prefix=data_prefix,
            pipeline=[],
        )
    )


def test_dataset_lists_the_cityscapes_layout(cityscapes_root):
    ds = build_dataset(cityscapes_root, camera_path="camera/train", seg_map_path="gtFine/train")
    assert len(ds) == 5
    info = ds[0]
    stem = info["img_path"].rsplit("/", 1)[1][: -len("_leftImg8bit.png")]
    city = stem.split("_")[0]
    assert info["depth_map_path"].endswith(f"disparity/train/{city}/{stem}_disparity.png")
    assert info["camera_path"].endswith(f"{stem}_camera.json")
    assert info["seg_map_path"].endswith(f"{stem}_gtFine_labelTrainIds.png")
    assert ds.metainfo["classes"][0] == "road"


def test_dataset_serves_depth_and_segmentation(cityscapes_root):
    from mmseg.registry import DATASETS

    ds = DATASETS.build(
        dict(
            type="CityscapesDisparityDataset",
            data_root=str(cityscapes_root),
            data_prefix=dict(
                img_path="leftImg8bit/val",
                depth_map_path="disparity/val",
                camera_path="camera/val",
                seg_map_path="gtFine/val",
            ),
            pipeline=[
                dict(type="LoadImageFromFile"),
                dict(type="LoadCityscapesDisparity", target="depth"),
                dict(type="LoadAnnotations"),
                dict(type="PackSegInputs"),
            ],
        )
    )
    sample = ds[0]["data_samples"]
    depth, labels = sample.gt_depth_map.data, sample.gt_sem_seg.data
    assert depth.shape == labels.shape == (1, 64, 128)
    assert (depth > 0).any() and (depth == 0).any()  # ego hood / left border are invalid
    assert set(labels.unique().tolist()) <= set(range(19)) | {255}


def test_data_root_without_disparity_says_what_to_download(tmp_path, cityscapes_root):
    import shutil

    root = tmp_path / "cs"
    shutil.copytree(cityscapes_root / "leftImg8bit", root / "leftImg8bit")
    with pytest.raises(FileNotFoundError, match="disparity_trainvaltest.zip"):
        build_dataset(root)
    # a disparity folder that misses frames
    shutil.copytree(cityscapes_root / "disparity", root / "disparity")
    next((root / "disparity" / "train").rglob("*_disparity.png")).unlink()
    with pytest.raises(FileNotFoundError, match="1 of 5 frames have no disparity"):
        build_dataset(root)


def test_data_root_without_images(tmp_path):
    with pytest.raises(FileNotFoundError, match="leftImg8bit"):
        build_dataset(tmp_path)
