"""Tests of ttc_core.datasets: the synthetic scene generator and the COCO / Cityscapes writers."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ttc_core.cli import data as data_cli
from ttc_core.datasets import (
    CITYSCAPES_LABELS,
    COCO_CATEGORIES,
    Camera,
    cityscapes_label,
    decode_disparity,
    encode_disparity,
    label_ids_to_train_ids,
    make_scene,
    mask_bbox,
    mask_to_polygons,
    write_cityscapes_dataset,
    write_coco_dataset,
)

CS_SIZE = (96, 192)
COCO_SIZE = (120, 168)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def cityscapes_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cityscapes")
    write_cityscapes_dataset(root, num_train=4, num_val=2, size=CS_SIZE, seed=3)
    return root


@pytest.fixture(scope="module")
def coco_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("coco")
    write_coco_dataset(root, num_train=4, num_val=2, size=COCO_SIZE, seed=5)
    return root


def _cs_frames(root: Path, split: str) -> list[tuple[Path, str]]:
    """(city folder relative path, stem) of every frame of a split."""
    out = []
    for p in sorted((root / "leftImg8bit" / split).glob("*/*_leftImg8bit.png")):
        out.append((Path(split) / p.parent.name, p.name[: -len("_leftImg8bit.png")]))
    return out


def _load_frame(root: Path, rel: Path, stem: str) -> dict[str, object]:
    gt = root / "gtFine" / rel
    with open(root / "camera" / rel / f"{stem}_camera.json") as f:
        camera = json.load(f)
    return {
        "image": np.asarray(Image.open(root / "leftImg8bit" / rel / f"{stem}_leftImg8bit.png")),
        "disp_png": Image.open(root / "disparity" / rel / f"{stem}_disparity.png"),
        "camera": camera,
        "label_ids": np.asarray(Image.open(gt / f"{stem}_gtFine_labelIds.png")),
        "train_ids": np.asarray(Image.open(gt / f"{stem}_gtFine_labelTrainIds.png")),
        "instance_ids": np.asarray(Image.open(gt / f"{stem}_gtFine_instanceIds.png")).astype(
            np.int64
        ),
        "color": Image.open(gt / f"{stem}_gtFine_color.png"),
    }


# ------------------------------------------------------------------------------- the generator


def test_make_scene_is_seeded() -> None:
    a = make_scene((64, 96), seed=(1, 2))
    b = make_scene((64, 96), seed=(1, 2))
    c = make_scene((64, 96), seed=(1, 3))
    for name in ("image", "depth", "disparity", "label_ids", "instance_map"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert a.instances == b.instances and a.camera == b.camera
    assert not np.array_equal(a.image, c.image)


def test_scene_maps_agree() -> None:
    for seed in range(4):
        s = make_scene((96, 160), seed=seed)
        h, w = s.size
        assert s.image.shape == (h, w, 3) and s.image.dtype == np.uint8
        assert s.image.std() > 20  # textured, not flat
        sky = s.label_ids == cityscapes_label("sky").id
        assert sky.any() and (~sky).any()
        # the sky, and only the sky, has no depth and no disparity
        np.testing.assert_array_equal(np.isinf(s.depth), sky)
        np.testing.assert_array_equal(s.disparity == 0, sky)
        fin = ~sky
        np.testing.assert_allclose(
            s.disparity[fin], s.camera.fx * s.camera.baseline / s.depth[fin], rtol=1e-5
        )
        for k, inst in enumerate(s.instances):
            m = s.instance_mask(k)
            assert m.sum() == inst.area > 0
            assert (s.label_ids[m] == inst.label_id).all()
            np.testing.assert_allclose(s.depth[m], inst.depth, rtol=1e-6)
        # pixels of instance classes all belong to some instance
        for name in ("car", "person", "bus", "truck"):
            cls = s.label_ids == cityscapes_label(name).id
            assert (s.instance_map[cls] > 0).all()


def test_ground_plane_and_object_geometry() -> None:
    size = (128, 256)
    cam = Camera.cityscapes(size)
    seen_cars = 0
    for seed in range(6):
        s = make_scene(size, seed=seed, camera=cam)
        rows = np.arange(size[0])[:, None].repeat(size[1], 1)
        flat = np.isin(s.label_ids, [cityscapes_label(n).id for n in ("road", "sidewalk")])
        np.testing.assert_allclose(s.depth[flat], cam.ground_depth(rows[flat]), rtol=1e-5)
        cars = [(k, i) for k, i in enumerate(s.instances) if i.label == "car"]
        for k, inst in cars:
            m = s.instance_mask(k)
            foot = cam.v0 + cam.fy * cam.height / inst.depth
            assert inst.box[3] == pytest.approx(foot)
            # the car stands on the ground: visible pixels end at its foot row ...
            assert rows[m].max() + 0.5 <= foot + 1e-6
            # ... and its physical height is car-like at its depth (nearer = larger)
            height_m = (inst.box[3] - inst.box[1]) * inst.depth / cam.fy
            assert 1.3 < height_m < 1.7
            # road seen above the car's lowest visible row, in its columns, lies behind it
            cols = np.flatnonzero(m.any(axis=0))
            road = s.label_ids == cityscapes_label("road").id
            behind = road & (rows < rows[m].max())
            behind[:, : cols[0]] = False
            behind[:, cols[-1] + 1 :] = False
            if behind.any():
                assert s.disparity[behind].max() < s.disparity[m].min()
            seen_cars += 1
        # nearer objects are lower in the image and have a larger disparity
        ordered = sorted(s.instances, key=lambda i: i.depth)
        feet = [i.box[3] for i in ordered]
        assert feet == sorted(feet, reverse=True)
    assert seen_cars >= 6


def test_make_scene_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="at least 16"):
        make_scene((8, 64))
    with pytest.raises(ValueError, match="height, width"):
        make_scene((64,))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="stereo_border"):
        make_scene((64, 64), stereo_border=0.7)
    with pytest.raises(ValueError, match="seed"):
        make_scene((64, 64), seed=-1)
    with pytest.raises(ValueError, match="fx"):
        Camera(fx=0.0, fy=1.0, u0=0.0, v0=0.0)


def test_import_is_light() -> None:
    import ttc_core

    src = str(Path(ttc_core.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    code = "import sys, ttc_core.datasets; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


# ---------------------------------------------------------------------------------- polygons


def test_mask_to_polygons_rasterises_exactly() -> None:
    mask_utils = pytest.importorskip("pycocotools.mask")
    rng = np.random.default_rng(0)
    masks = [rng.random((h, w)) < p for h, w, p in [(9, 13, 0.5), (20, 20, 0.7), (5, 5, 0.3)]]
    ring = np.zeros((12, 12), bool)
    ring[2:10, 2:10] = True
    ring[4:7, 5:8] = False  # a hole
    ring[8, 3] = False  # a notch
    masks += [ring, np.ones((6, 7), bool)]
    for _ in range(200):
        h, w = rng.integers(1, 16, 2)
        masks.append(rng.random((h, w)) < rng.uniform(0.2, 0.9))
    for m in masks:
        if not m.any():
            continue
        polys = mask_to_polygons(m)
        assert all(len(p) >= 6 and len(p) % 2 == 0 for p in polys)
        rle = mask_utils.merge(mask_utils.frPyObjects(polys, *m.shape))
        np.testing.assert_array_equal(mask_utils.decode(rle).astype(bool), m)
        assert mask_bbox(m) == list(mask_utils.toBbox(rle))
    assert len(mask_to_polygons(ring)) == 1  # the hole is joined by a slit, not a 2nd polygon


# -------------------------------------------------------------------------------- Cityscapes


def test_cityscapes_layout(cityscapes_root: Path) -> None:
    for split, n in (("train", 4), ("val", 2)):
        frames = _cs_frames(cityscapes_root, split)
        assert len(frames) == n
        for rel, stem in frames:
            assert re.fullmatch(r"[a-z]+_\d{6}_\d{6}", stem) and stem.startswith(rel.name + "_")
            expected = [
                cityscapes_root / "disparity" / rel / f"{stem}_disparity.png",
                cityscapes_root / "camera" / rel / f"{stem}_camera.json",
            ] + [
                cityscapes_root / "gtFine" / rel / f"{stem}_gtFine_{kind}.png"
                for kind in ("labelIds", "labelTrainIds", "instanceIds", "color")
            ]
            for path in expected:
                assert path.is_file(), path
            f = _load_frame(cityscapes_root, rel, stem)
            assert f["image"].shape == CS_SIZE + (3,) and f["image"].dtype == np.uint8
            assert f["label_ids"].dtype == np.uint8 and f["label_ids"].shape == CS_SIZE
            assert f["color"].mode == "RGBA"
            assert set(f["camera"]) == {"extrinsic", "intrinsic"}
            extrinsic = {"baseline", "pitch", "roll", "x", "y", "yaw", "z"}
            assert set(f["camera"]["extrinsic"]) == extrinsic
            assert set(f["camera"]["intrinsic"]) == {"fx", "fy", "u0", "v0"}


def test_cityscapes_is_deterministic(cityscapes_root: Path, tmp_path: Path) -> None:
    write_cityscapes_dataset(tmp_path, num_train=4, num_val=2, size=CS_SIZE, seed=3)
    assert _files(tmp_path) == _files(cityscapes_root)
    other = tmp_path / "other"
    write_cityscapes_dataset(other, num_train=1, num_val=2, size=CS_SIZE, seed=3)
    # val frames depend on (seed, split, index) only, not on the number of train frames
    for rel, stem in _cs_frames(other, "val"):
        name = f"leftImg8bit/{rel}/{stem}_leftImg8bit.png"
        assert (other / name).read_bytes() == (cityscapes_root / name).read_bytes()


def test_cityscapes_disparity_encoding(cityscapes_root: Path) -> None:
    skies = 0
    for split in ("train", "val"):
        for rel, stem in _cs_frames(cityscapes_root, split):
            f = _load_frame(cityscapes_root, rel, stem)
            png = f["disp_png"]
            assert png.mode in ("I;16", "I;16B", "I")
            p = np.asarray(png)
            assert p.shape == CS_SIZE and p.max() <= 65535 and p.min() >= 0
            p = p.astype(np.uint16)
            d = decode_disparity(p)
            sky = f["label_ids"] == cityscapes_label("sky").id
            ego = f["label_ids"] == cityscapes_label("ego vehicle").id
            assert ego.any()
            assert (p[sky] == 0).all() and (p[ego] == 0).all()  # invalid
            skies += int(sky.any())
            assert (p[:, 0] == 0).all()  # the left stereo border is invalid
            valid = p > 0
            assert valid.mean() > 0.3
            # plausible range: the real rig at this width, objects a few metres to ~200 m away
            cam = f["camera"]
            fx, b = cam["intrinsic"]["fx"], cam["extrinsic"]["baseline"]
            depth = b * fx / d[valid]
            assert depth.min() > 1.5 and depth.max() < 250
            assert d[valid].max() < 0.1 * CS_SIZE[1]
            # road pixels: depth from disparity puts them on the ground, z metres below the camera
            road = valid & (f["label_ids"] == cityscapes_label("road").id)
            rows = np.nonzero(road)[0] + 0.5
            fy, v0, z = cam["intrinsic"]["fy"], cam["intrinsic"]["v0"], cam["extrinsic"]["z"]
            height = (rows - v0) * (b * fx / d[road]) / fy
            np.testing.assert_allclose(height, z, rtol=0.03)
    assert skies >= 4


def test_disparity_codec_round_trip() -> None:
    d = np.array([[0.0, 0.004, 1.0, 12.34], [100.0, 255.99, 0.5, 0.0]])
    p = encode_disparity(d)
    assert p.dtype == np.uint16 and p[0, 0] == 0 and p[0, 2] == 257
    np.testing.assert_allclose(decode_disparity(p), d, atol=1 / 512)
    with pytest.raises(ValueError):
        encode_disparity(np.array([-1.0]))
    with pytest.raises(ValueError):
        encode_disparity(np.array([300.0]))


def test_cityscapes_labels_agree_with_disparity_and_instances(cityscapes_root: Path) -> None:
    cars_checked = 0
    for rel, stem in _cs_frames(cityscapes_root, "train") + _cs_frames(cityscapes_root, "val"):
        f = _load_frame(cityscapes_root, rel, stem)
        lab, tid, inst = f["label_ids"], f["train_ids"], f["instance_ids"]
        np.testing.assert_array_equal(tid, label_ids_to_train_ids(lab))
        assert set(np.unique(tid)) <= set(range(19)) | {255}
        assert (tid[lab == cityscapes_label("ego vehicle").id] == 255).all()
        # instanceIds: label * 1000 + n on instance classes, the label id elsewhere
        has_inst = inst >= 1000
        np.testing.assert_array_equal(np.where(has_inst, inst // 1000, inst), lab)
        for lid in np.unique(inst[has_inst] // 1000):
            assert cityscapes_label(int(lid)).hasInstances
        # each car is a fronto-parallel surface, nearer than the road seen above it
        d = decode_disparity(f["disp_png"])
        road = lab == cityscapes_label("road").id
        rows = np.arange(lab.shape[0])[:, None].repeat(lab.shape[1], 1)
        for iid in np.unique(inst[inst // 1000 == cityscapes_label("car").id]):
            m = (inst == iid) & (d > 0)
            if m.sum() < 10:
                continue
            assert np.ptp(d[m]) <= 1 / 256 + 1e-6
            cols = np.flatnonzero(m.any(axis=0))
            behind = road & (rows < rows[m].max()) & (d > 0)
            behind[:, : cols[0]] = False
            behind[:, cols[-1] + 1 :] = False
            if behind.any():
                assert d[behind].max() < d[m].min()
            cars_checked += 1
    assert cars_checked >= 3


def test_cityscapes_agrees_with_cityscapesscripts(cityscapes_root: Path) -> None:
    labels_mod = pytest.importorskip("cityscapesscripts.helpers.labels")
    theirs = {lab.name: lab for lab in labels_mod.labels}
    assert len(theirs) == len(CITYSCAPES_LABELS)
    for ours in CITYSCAPES_LABELS:
        t = theirs[ours.name]
        assert (t.id, t.trainId, t.category, t.categoryId, t.hasInstances, t.ignoreInEval) == (
            ours.id,
            ours.trainId,
            ours.category,
            ours.categoryId,
            ours.hasInstances,
            ours.ignoreInEval,
        )
        assert tuple(t.color) == ours.color
    lut = np.full(256, 255, np.uint8)
    for lid, lab in labels_mod.id2label.items():
        if lid >= 0:
            lut[lid] = lab.trainId if 0 <= lab.trainId < 255 else 255
    for rel, stem in _cs_frames(cityscapes_root, "train"):
        f = _load_frame(cityscapes_root, rel, stem)
        for lid in np.unique(f["label_ids"]):
            assert int(lid) in labels_mod.id2label
        np.testing.assert_array_equal(f["train_ids"], lut[f["label_ids"]])
        colour = np.asarray(f["color"])[..., :3]
        for lid in np.unique(f["label_ids"]):
            px = colour[f["label_ids"] == lid]
            assert (px == np.array(labels_mod.id2label[int(lid)].color)).all()
        # classes the generator draws, under their Cityscapes names
        names = {labels_mod.id2label[int(i)].name for i in np.unique(f["label_ids"])}
        assert {"road", "ego vehicle"} <= names


def test_cityscapes_writer_rejects_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="num_train"):
        write_cityscapes_dataset(tmp_path, num_train=-1)
    with pytest.raises(ValueError, match="nothing to write"):
        write_cityscapes_dataset(tmp_path, num_train=0, num_val=0)
    with pytest.raises(ValueError, match="size"):
        write_cityscapes_dataset(tmp_path, size=(4, 4))
    with pytest.raises(ValueError, match="seed"):
        write_cityscapes_dataset(tmp_path, seed=-2)
    write_cityscapes_dataset(tmp_path, num_train=1, num_val=0, size=(32, 64))
    with pytest.raises(FileExistsError):
        write_cityscapes_dataset(tmp_path, num_train=1, num_val=0, size=(32, 64))
    write_cityscapes_dataset(tmp_path, num_train=2, num_val=0, size=(32, 64), overwrite=True)
    assert len(_cs_frames(tmp_path, "train")) == 2


# -------------------------------------------------------------------------------------- COCO


def test_coco_layout_and_json(coco_root: Path) -> None:
    image_ids: set[int] = set()
    for split, n in (("train", 4), ("val", 2)):
        with open(coco_root / "annotations" / f"instances_{split}2017.json") as f:
            data = json.load(f)
        assert set(data) >= {"images", "annotations", "categories"}
        assert len(data["images"]) == n
        for img in data["images"]:
            assert set(img) >= {"id", "file_name", "height", "width"}
            path = coco_root / f"{split}2017" / img["file_name"]
            assert path.suffix == ".jpg"
            with Image.open(path) as im:
                assert im.size == (img["width"], img["height"]) == COCO_SIZE[::-1]
                assert im.mode == "RGB"
            assert img["id"] not in image_ids
            image_ids.add(img["id"])
        cats = {c["id"]: c for c in data["categories"]}
        assert len(cats) == 80 and cats[1]["name"] == "person" and cats[3]["name"] == "car"
        assert cats[10]["name"] == "traffic light" and cats[13]["name"] == "stop sign"
        assert data["annotations"], "no objects annotated"
        for ann in data["annotations"]:
            assert ann["iscrowd"] == 0 and ann["category_id"] in (1, 3, 6, 8, 10, 13)
            assert isinstance(ann["segmentation"], list) and ann["segmentation"]
            x, y, w, h = ann["bbox"]
            assert 0 <= x and 0 <= y and x + w <= COCO_SIZE[1] and y + h <= COCO_SIZE[0]
            assert ann["area"] >= 16 and ann["area"] <= w * h
    assert len(COCO_CATEGORIES) == 80


def test_coco_loads_with_pycocotools(coco_root: Path) -> None:
    coco_mod = pytest.importorskip("pycocotools.coco")
    mask_utils = pytest.importorskip("pycocotools.mask")
    for split in ("train", "val"):
        coco = coco_mod.COCO(str(coco_root / "annotations" / f"instances_{split}2017.json"))
        assert coco.getCatIds(catNms=["person"]) == [1]
        assert coco.getCatIds(catNms=["car"]) == [3]
        ann_ids = coco.getAnnIds()
        assert ann_ids
        for ann in coco.loadAnns(ann_ids):
            m = coco.annToMask(ann)
            assert m.sum() == ann["area"]
            rle = mask_utils.encode(np.asfortranarray(m))
            assert list(mask_utils.toBbox(rle)) == ann["bbox"]


def test_coco_is_deterministic(coco_root: Path, tmp_path: Path) -> None:
    write_coco_dataset(tmp_path, num_train=4, num_val=2, size=COCO_SIZE, seed=5)
    assert _files(tmp_path) == _files(coco_root)
    write_coco_dataset(tmp_path / "b", num_train=4, num_val=2, size=COCO_SIZE, seed=6)
    assert _files(tmp_path / "b") != _files(coco_root)


def test_coco_png_and_category_subset(tmp_path: Path) -> None:
    paths = write_coco_dataset(
        tmp_path, num_train=2, num_val=1, size=(48, 64), image_format="png", all_categories=False
    )
    for split, path in paths.items():
        data = json.loads(path.read_text())
        assert [c["id"] for c in data["categories"]] == [1, 3, 6, 8, 10, 13]
        for img in data["images"]:
            assert (tmp_path / f"{split}2017" / img["file_name"]).suffix == ".png"
    with pytest.raises(ValueError, match="image_format"):
        write_coco_dataset(tmp_path / "x", image_format="gif")
    with pytest.raises(ValueError, match="min_area"):
        write_coco_dataset(tmp_path / "x", min_area=0)


# --------------------------------------------------------------------------------------- CLI


def test_cli_synth(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ttc_core.cli import main as ttc_main

    out = tmp_path / "cs"
    args = ["synth", "cityscapes", "--out", str(out), "--num-train", "1", "--num-val", "1"]
    args += ["--height", "32", "--width", "64", "--seed", "7"]
    assert data_cli.main(args) == 0
    assert len(_cs_frames(out, "train")) == 1 and len(_cs_frames(out, "val")) == 1
    assert "wrote 1 train + 1 val cityscapes" in capsys.readouterr().out
    # same output again: refused without --overwrite, accepted with it
    assert data_cli.main(args) == 2
    assert "already exists" in capsys.readouterr().err
    assert data_cli.main(args + ["--overwrite"]) == 0

    coco = tmp_path / "coco"
    rc = ttc_main(
        [
            "data",
            "synth",
            "coco",
            "--out",
            str(coco),
            "--num-train",
            "1",
            "--num-val",
            "0",
            "--height",
            "40",
            "--width",
            "56",
        ]
    )
    assert rc == 0
    data = json.loads((coco / "annotations" / "instances_train2017.json").read_text())
    assert data["images"][0]["height"] == 40 and data["images"][0]["width"] == 56
    assert not (coco / "val2017").exists()


def test_cli_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "x")
    assert data_cli.main(["synth", "kitti", "--out", out]) == 2
    assert data_cli.main(["synth", "coco"]) == 2  # --out missing
    assert data_cli.main(["synth", "coco", "--out", out, "--num-train", "-3"]) == 2
    assert data_cli.main(["synth", "coco", "--out", out, "--height", "8"]) == 2
    assert "at least 16" in capsys.readouterr().err
    assert data_cli.main(["synth", "coco", "--out", out, "--num-train", "0", "--num-val", "0"]) == 2
    assert data_cli.main(["--help"]) == 0
    assert not Path(out).exists() or not any(Path(out).rglob("*.jpg"))
