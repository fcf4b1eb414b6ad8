"""`ttc compress / decompress / info` in-process, as a user runs them."""

import numpy as np
import pytest
import torch
from PIL import Image

from ttc_core.cli import main

from .conftest import smooth_images
from .test_bitstream import make_codec


@pytest.fixture(scope="module")
def files(tmp_path_factory, trained_pair):
    base, enh, _ = trained_pair
    root = tmp_path_factory.mktemp("cli")
    ckpt = root / "codec.pth"
    make_codec(base, enh).save(ckpt)
    x = smooth_images(1, 50, 70, seed=11)[0]
    img = root / "in.png"
    Image.fromarray((x.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(img)
    return root, ckpt, img


def test_compress_info_decompress(files, capsys):
    root, ckpt, img = files
    out = root / "x.ttc"
    assert main(["compress", str(img), "-c", str(ckpt), "-o", str(out), "--layers", "all"]) == 0
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "50×70" in text and "base:" in text and "enhancement:" in text and "bpp" in text
    assert main(["decompress", str(out), "-c", str(ckpt), "-o", str(root / "y.png")]) == 0
    assert Image.open(root / "y.png").size == (70, 50)
    assert main(["decompress", str(out), "-c", str(ckpt), "-o", str(root / "y.pt")]) == 0
    tensors = torch.load(root / "y.pt")
    assert tensors["enhancement"].shape == (1, 3, 50, 70)
    assert tensors["y_base"].shape == (1, 16, 4, 5)


def test_exit_codes(files, tmp_path, capsys):
    root, ckpt, img = files
    bad = tmp_path / "bad.ttc"
    bad.write_bytes(b"not a stream")
    assert main(["info", str(bad)]) == 2
    assert main(["decompress", str(bad), "-c", str(ckpt), "-o", str(tmp_path / "o.png")]) == 2
    assert main(["compress", str(tmp_path / "missing.png"), "-c", str(ckpt), "-o", str(bad)]) == 2
    not_ckpt = tmp_path / "plain.pth"
    torch.save({"model": {"w": torch.zeros(1)}}, not_ckpt)
    assert main(["compress", str(img), "-c", str(not_ckpt), "-o", str(bad)]) == 2
    assert "ttc_codec" in capsys.readouterr().err
    assert main(["nonsense"]) == 2


def test_resize_before_coding(files, capsys):
    root, ckpt, img = files
    out = root / "r.ttc"
    assert main(["compress", str(img), "-c", str(ckpt), "-o", str(out), "--resize", "25,30"]) == 0
    assert main(["info", str(out)]) == 0
    assert "21×30" in capsys.readouterr().out  # 50×70 → short 25 → 25×35 → capped at 30 wide
    assert main(["compress", str(img), "-c", str(ckpt), "-o", str(out), "--resize", "0"]) == 2


def test_decoded_image_has_the_inputs_size_by_default(tmp_path, trained_pair):
    """A base with a learned 2× downsample (the Cityscapes depth base) codes half the frame."""
    from ttc_core.checkpoint import make_codec_spec
    from ttc_core.codec import ScalableCodec
    from ttc_core.layers import Downsample

    from .conftest import TINY

    base, _, _ = trained_pair
    down = Downsample(channels=3, factor=2)
    state = {f"base.{k}": v for k, v in base.state_dict().items()}
    state.update({f"down.{k}": v for k, v in down.state_dict().items()})
    spec = make_codec_spec(TINY, "base.", base_downsample=({"channels": 3, "factor": 2}, "down."))
    ckpt = tmp_path / "down.pth"
    ScalableCodec.from_spec(spec, state).save(ckpt)
    x = smooth_images(1, 48, 80, seed=5)[0]
    img = tmp_path / "in.png"
    Image.fromarray((x.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(img)
    stream = tmp_path / "x.ttc"
    assert main(["compress", str(img), "-c", str(ckpt), "-o", str(stream)]) == 0
    assert main(["decompress", str(stream), "-c", str(ckpt), "-o", str(tmp_path / "a.png")]) == 0
    assert Image.open(tmp_path / "a.png").size == (80, 48)
    argv = [
        "decompress",
        str(stream),
        "-c",
        str(ckpt),
        "-o",
        str(tmp_path / "b.png"),
        "--coded-size",
    ]
    assert main(argv) == 0
    assert Image.open(tmp_path / "b.png").size == (40, 24)


# -- checkpoints laid out as the adapters write them (framework-free) ------------------------
def _adapter_checkpoint(tmp_path, layout: str):
    """A codec checkpoint with the spec layout of a Detectron2 or an MMSeg ttc model.

    Detectron2: BGR input, 255 scale, pixel mean, the test-time ResizeShortestEdge(800, 1333),
    a reconstruction enhancement. MMSeg: learned 2× downsample in front of both layers.
    """
    from ttc_core.checkpoint import make_codec_spec
    from ttc_core.codec import ScalableCodec
    from ttc_core.layers import Downsample

    from .conftest import TINY, tiny_base, tiny_enhancement

    torch.manual_seed(1)
    base, enh = tiny_base().eval(), tiny_enhancement().eval()
    state = {f"b.{k}": v for k, v in base.state_dict().items()}
    state.update({f"e.{k}": v for k, v in enh.state_dict().items()})
    enhancement = {"kwargs": {**TINY, "side_channels": 16}, "prefix": "e.", "output": "image"}
    if layout == "detectron2":
        spec = make_codec_spec(
            TINY,
            "b.",
            mean=(103.53, 116.28, 123.675),
            std=(57.375, 57.12, 58.395),
            scale=255.0,
            channel_order="BGR",
            resize_shortest_edge=(800, 1333),
            enhancement=enhancement,
        )
    else:
        down = {"channels": 3, "factor": 2}
        for prefix in ("bd.", "ed."):
            state.update({f"{prefix}{k}": v for k, v in Downsample(**down).state_dict().items()})
        spec = make_codec_spec(
            TINY,
            "b.",
            mean=(123.675, 116.28, 103.53),
            std=(58.395, 57.12, 57.375),
            scale=255.0,
            base_downsample=(down, "bd."),
            enhancement={**enhancement, "downsample": (down, "ed.")},
        )
    path = tmp_path / f"{layout}.pth"
    ScalableCodec.from_spec(spec, state).save(path)
    return path


def _png(path, h, w, seed=0, mode="RGB"):
    x = smooth_images(1, max(h, 2), max(w, 2), seed=seed)[0, :, :h, :w]
    arr = (x.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    Image.fromarray(arr).convert(mode).save(path)
    return path


@pytest.mark.parametrize("layout", ["detectron2", "mmseg"])
@pytest.mark.parametrize("size", [(1, 1), (1, 37), (23, 1)])
def test_tiny_images_round_trip_with_adapter_checkpoints(tmp_path, layout, size):
    from ttc_core.codec import ScalableCodec
    from ttc_core.images import read_image, resize_shortest_edge

    ckpt = _adapter_checkpoint(tmp_path, layout)
    img = _png(tmp_path / "in.png", *size, seed=sum(size))
    stream, tensors = tmp_path / "x.ttc", tmp_path / "y.pt"
    assert main(["compress", str(img), "-c", str(ckpt), "-o", str(stream), "--layers", "all"]) == 0
    assert main(["decompress", str(stream), "-c", str(ckpt), "-o", str(tmp_path / "y.png")]) == 0
    assert Image.open(tmp_path / "y.png").size == (size[1], size[0])  # the file's size
    assert main(["decompress", str(stream), "-c", str(ckpt), "-o", str(tensors)]) == 0
    codec = ScalableCodec.from_checkpoint(ckpt)
    codec.update()
    x = read_image(img).tensor
    if codec.resize_shortest_edge:
        x = resize_shortest_edge(x, *codec.resize_shortest_edge)
    with torch.no_grad():
        y_b = codec.base.encode(codec.base_input(x))
        y_e = codec.enhancement.encode(codec.enhancement_input(x))
    decoded = torch.load(tensors)
    assert torch.equal(decoded["y_base"], y_b) and torch.equal(decoded["y_enhancement"], y_e)


def test_sizes_out_of_range_are_refused_before_coding(tmp_path, files, capsys):
    _, ckpt, _ = files
    wide = _png(tmp_path / "wide.png", 1, 65537)
    out = tmp_path / "w.ttc"
    assert main(["compress", str(wide), "-c", str(ckpt), "-o", str(out)]) == 2
    assert "1×1 to 65536×65536" in capsys.readouterr().err and not out.exists()


def test_resized_streams_decode_at_the_files_size(tmp_path, files, capsys):
    root, ckpt, img = files  # 50×70
    out = tmp_path / "r.ttc"
    assert main(["compress", str(img), "-c", str(ckpt), "-o", str(out), "--resize", "25"]) == 0
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "format v2" in text and "source:      50×70" in text and "resized from 50×70" in text
    assert main(["decompress", str(out), "-c", str(ckpt), "-o", str(tmp_path / "a.png")]) == 0
    assert Image.open(tmp_path / "a.png").size == (70, 50)
    argv = ["decompress", str(out), "-c", str(ckpt), "-o", str(tmp_path / "b.png"), "--coded-size"]
    assert main(argv) == 0
    assert Image.open(tmp_path / "b.png").size == (35, 25)


def test_info_shows_what_the_input_policy_did(tmp_path, files, capsys):
    _, ckpt, _ = files
    rgba = np.zeros((20, 24, 4), dtype=np.uint8)
    rgba[..., 3] = 100
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    out = tmp_path / "a.ttc"
    assert main(["compress", str(tmp_path / "a.png"), "-c", str(ckpt), "-o", str(out)]) == 0
    assert main(["info", str(out)]) == 0
    assert "input:       RGBA alpha composited on white" in capsys.readouterr().out
    assert main(["info", str(tmp_path / "a.png"), "--alpha", "black"]) == 0
    assert "RGBA alpha composited on black" in capsys.readouterr().out
    argv = ["compress", str(tmp_path / "a.png"), "-c", str(ckpt), "-o", str(out), "--alpha"]
    assert main([*argv, "refuse"]) == 2
    assert "--alpha white or --alpha black" in capsys.readouterr().err


def test_tiled_compress_from_the_command_line(tmp_path, files, capsys):
    _, ckpt, img = files
    out = tmp_path / "t.ttc"
    argv = ["compress", str(img), "-c", str(ckpt), "-o", str(out), "--layers", "all"]
    assert main([*argv, "--tile", "32", "--workers", "2"]) == 0
    assert main(["info", str(out)]) == 0
    assert "tiles:       32×32 pixels" in capsys.readouterr().out
    assert main(["decompress", str(out), "-c", str(ckpt), "-o", str(tmp_path / "t.png")]) == 0
    assert main([*argv, "--tile", "20"]) == 2
    assert "multiple of 16" in capsys.readouterr().err


def test_a_folder_codes_with_progress_and_summary_and_a_rerun_skips_it(tmp_path, files, capsys):
    import json

    _, ckpt, _ = files
    src, dst, back = tmp_path / "data", tmp_path / "coded", tmp_path / "decoded"
    (src / "sub").mkdir(parents=True)
    _png(src / "a.png", 30, 40, seed=1)
    _png(src / "sub" / "b.jpg", 17, 33, seed=2)
    _png(src / "c.png", 1, 9, seed=3, mode="L")
    (src / "notes.txt").write_text("not an image: ignored (no image extension)")
    summary = tmp_path / "s.json"
    argv = ["compress", str(src), "-c", str(ckpt), "-o", str(dst), "--json", str(summary)]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "ttc compress: 100%" in err and "3/3" in err  # the progress bar
    assert "3 files: 3 compressed" in err and "bpp: mean" in err and "actual" in err
    s = json.loads(summary.read_text())
    assert (s["files"], s["coded"], s["skipped"]) == (3, 3, 0)
    assert s["bpp"]["min"] <= s["bpp"]["mean"] <= s["bpp"]["max"]
    assert s["bits_actual"] > 0 and s["bits_estimated"] > 0
    assert sorted(p.relative_to(dst).as_posix() for p in dst.rglob("*.ttc")) == [
        "a.ttc",
        "c.ttc",
        "sub/b.ttc",
    ]
    # a rerun skips what is done; a corrupt output and a new file are (re)coded
    (dst / "a.ttc").write_bytes(b"TTC\x00garbage")
    _png(src / "d.png", 8, 8, seed=4)
    assert main(argv) == 0
    s = json.loads(summary.read_text())
    assert (s["files"], s["coded"], s["skipped"]) == (4, 2, 2)
    # a bad file is refused (exit 2), the others still count
    (src / "e.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    assert main(argv) == 2
    s = json.loads(summary.read_text())
    assert (s["coded"], s["skipped"], len(s["refused"])) == (0, 4, 1)
    assert "e.png" in s["refused"][0]["file"]
    # decompress the folder; images at the files' sizes; a rerun skips them
    argv = ["decompress", str(dst), "-c", str(ckpt), "-o", str(back), "--json", "-"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["files"], out["coded"]) == (4, 4)
    assert Image.open(back / "sub" / "b.png").size == (33, 17)
    assert Image.open(back / "c.png").size == (9, 1)
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["skipped"] == 4
