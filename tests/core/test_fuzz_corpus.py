"""Fuzz corpus: seeded odd files through `ttc compress` / `decompress` (issue 14).

Every case ends in a bit-exact round trip (the decoded latent is the latent of the image as
the input policy reads it, the decoded image has the file's displayed size) or in exit code 2
with an ``error:`` message: never exit code 1, never a traceback.
"""

import io
import random

import numpy as np
import pytest
import torch
from PIL import Image

from ttc_core.cli import main
from ttc_core.codec import ScalableCodec
from ttc_core.images import read_image

from .conftest import tiny_base
from .test_bitstream import make_codec

SEED = 14
MODES = ["RGB", "L", "1", "P", "RGBA", "LA", "I;16", "CMYK", "F", "LAB"]
FORMATS = {"PNG": ".png", "JPEG": ".jpg", "BMP": ".bmp", "TIFF": ".tif", "WEBP": ".webp"}
SIZES = [(1, 1), (1, 17), (19, 1), (2, 3), (16, 16), (15, 33)]


def _pixels(rng: random.Random, mode: str, h: int, w: int) -> Image.Image:
    g = np.random.default_rng(rng.randrange(1 << 30))
    if mode == "I;16":
        return Image.fromarray(g.integers(0, 65536, (h, w), dtype=np.uint16))
    if mode == "F":
        return Image.fromarray(g.random((h, w), dtype=np.float32))
    rgba = g.integers(0, 256, (h, w, 4), dtype=np.uint8)
    rgba[..., 3] = rng.choice([255, 0, 128]) if rng.random() < 0.5 else rgba[..., 3]
    return Image.fromarray(rgba, "RGBA").convert(mode)


def _save(im: Image.Image, fmt: str, **kw) -> bytes | None:
    buf = io.BytesIO()
    try:
        im.save(buf, fmt, **kw)
    except (OSError, ValueError, KeyError):
        return None  # Pillow cannot write this mode in this format: not a case
    return buf.getvalue()


def corpus(rng: random.Random) -> list[tuple[str, bytes, list[str]]]:
    """(file name, content, extra compress args) of every case, from the seed."""
    cases = []
    for mode in MODES:
        for fmt, ext in FORMATS.items():
            h, w = rng.choice(SIZES)
            data = _save(_pixels(rng, mode, h, w), fmt)
            if data is not None:
                cases.append((f"{mode}-{fmt}{ext}".replace(";", "_"), data, []))
    good_png = _save(_pixels(rng, "RGB", 12, 20), "PNG")
    good_jpg = _save(_pixels(rng, "RGB", 12, 20), "JPEG")
    for orientation in [0, *range(1, 9), 9, 300]:  # with out-of-range values
        exif = Image.Exif()
        exif[0x0112] = orientation
        im = _pixels(rng, "RGB", *rng.choice(SIZES[2:]))
        cases.append((f"exif{orientation}.jpg", _save(im, "JPEG", exif=exif), []))
    cases.append(("exif-garbage.jpg", _save(_pixels(rng, "RGB", 5, 6), "JPEG", exif=b"x" * 9), []))
    for name, data in (("png", good_png), ("jpg", good_jpg)):
        for _ in range(4):
            cases.append((f"cut-{len(cases)}.{name}", data[: rng.randrange(1, len(data))], []))
        flipped = bytearray(data)
        for _ in range(3):
            pos = rng.randrange(len(flipped))
            flipped[pos] ^= 1 << rng.randrange(8)
        cases.append((f"flipped.{name}", bytes(flipped), []))
    cases += [
        ("png-named.jpg", good_png, []),
        ("jpg-named.png", good_jpg, []),
        ("text.png", b"this is not an image\n", []),
        ("empty.png", b"", []),
        ("ttc-named.png", b"TTC\x00\x01", []),
        ("alpha-refused.png", _save(_pixels(rng, "RGBA", 4, 4), "PNG"), ["--alpha", "refuse"]),
        ("alpha-black.webp", _save(_pixels(rng, "RGBA", 4, 5), "WEBP"), ["--alpha", "black"]),
        ("bomb.png", good_png, ["--max-pixels", "100"]),
    ]
    return cases


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(SEED)
    path = tmp_path_factory.mktemp("fuzz") / "codec.pth"
    make_codec(tiny_base().eval()).save(path)
    codec = ScalableCodec.from_checkpoint(path)
    codec.update()
    return path, codec


def _check_refusal(rc: int, err: str, what: str) -> None:
    assert rc == 2, f"{what}: exit {rc}\n{err}"
    assert "error: " in err and "Traceback" not in err, f"{what}: {err}"


def test_every_odd_image_round_trips_or_is_refused(tmp_path, checkpoint, capsys):
    path, codec = checkpoint
    cases = corpus(random.Random(SEED))
    assert len(cases) > 50
    outcomes = {"round trip": 0, "refused": 0}
    for name, data, extra in cases:
        src, out = tmp_path / name, tmp_path / f"{name}.ttc"
        src.write_bytes(data)
        rc = main(["compress", str(src), "-c", str(path), "-o", str(out), *extra])
        err = capsys.readouterr().err
        if rc != 0:
            _check_refusal(rc, err, name)
            assert not out.exists(), f"{name}: refused but wrote {out}"
            outcomes["refused"] += 1
            continue
        assert "Traceback" not in err
        image = tmp_path / f"{name}.out.png"
        assert main(["decompress", str(out), "-c", str(path), "-o", str(image)]) == 0, name
        x = read_image(src, **({"alpha": extra[1]} if extra[:1] == ["--alpha"] else {})).tensor
        with torch.no_grad():
            y = codec.base.encode(codec.base_input(x))
        assert torch.equal(codec.decompress(out.read_bytes()).y_base, y), f"{name}: latent"
        assert Image.open(image).size == (x.shape[-1], x.shape[-2]), name
        outcomes["round trip"] += 1
    # the corpus exercises both outcomes substantially
    assert outcomes["round trip"] >= 30 and outcomes["refused"] >= 10, outcomes


def test_every_odd_stream_is_refused_with_a_message(tmp_path, checkpoint, capsys):
    path, codec = checkpoint
    rng = random.Random(SEED + 1)
    x = torch.rand(1, 3, 21, 34, generator=torch.Generator().manual_seed(SEED))
    streams = [codec.compress(x), codec.compress(x, tile=16, notes="n")]
    cases = [b"", b"TTC", b"TTC\x00\x02", b"\x89PNG\r\n\x1a\n" + bytes(30)]
    for good in streams:
        cases += [good[: rng.randrange(len(good))] for _ in range(8)]
        for _ in range(8):
            bad = bytearray(good)
            bad[rng.randrange(len(bad))] ^= 1 << rng.randrange(8)
            cases.append(bytes(bad))
        cases.append(good + b"\x00")
    for k, data in enumerate(cases):
        src = tmp_path / f"s{k}.ttc"
        src.write_bytes(data)
        for argv in (["info", str(src)], ["decompress", str(src), "-c", str(path), "-o"]):
            if argv[0] == "decompress":
                argv = [*argv, str(tmp_path / f"s{k}.png")]
            rc = main(argv)
            _check_refusal(rc, capsys.readouterr().err, f"case {k} ({argv[0]})")
