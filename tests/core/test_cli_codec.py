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
