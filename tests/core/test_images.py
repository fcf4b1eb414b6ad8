"""The input policy of `ttc compress` (ttc_core.images): nothing dropped or clipped silently."""

import numpy as np
import pytest
import torch
from PIL import Image

from ttc_core.images import ImageError, read_image, resize_shortest_edge


def _save(tmp_path, name, im, **kw):
    path = tmp_path / name
    im.save(path, **kw)
    return path


def test_rgb_is_read_unchanged(tmp_path):
    arr = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    img = read_image(_save(tmp_path, "a.png", Image.fromarray(arr)))
    assert img.notes == [] and img.size == (5, 7)
    assert torch.equal(img.tensor[0].permute(1, 2, 0), torch.from_numpy(arr).float() / 255)


def test_exif_orientation_is_applied(tmp_path):
    arr = np.zeros((4, 6, 3), dtype=np.uint8)
    arr[0, 0] = 255  # top-left marker
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    img = read_image(_save(tmp_path, "a.png", Image.fromarray(arr), exif=exif))
    assert img.size == (6, 4) and img.file_size == (4, 6)
    assert img.tensor[0, :, 0, -1].min() == 1.0  # the marker is now top-right
    assert img.notes == ["EXIF orientation 6 applied"]


def test_16_bit_greyscale_is_scaled_not_clipped(tmp_path):
    arr = np.array([[0, 1000, 65535]], dtype=np.uint16)
    img = read_image(_save(tmp_path, "a.png", Image.fromarray(arr)))
    assert img.mode.startswith("I")
    expected = torch.tensor([0, 1000, 65535], dtype=torch.float32) / 65535
    for c in range(3):
        torch.testing.assert_close(img.tensor[0, c, 0], expected)
    assert "16-bit" in img.notes[0]


@pytest.mark.parametrize("mode", ["L", "1", "P", "CMYK"])
def test_other_modes_become_rgb_with_a_note(tmp_path, mode):
    im = Image.new("RGB", (3, 2), (200, 100, 50)).convert(mode)
    ext = "jpg" if mode == "CMYK" else "png"
    img = read_image(_save(tmp_path, f"a.{ext}", im))
    assert img.tensor.shape == (1, 3, 2, 3) and img.notes
    if mode in ("L", "1"):
        assert torch.equal(img.tensor[0, 0], img.tensor[0, 1])


def test_alpha_is_composited_on_the_chosen_background_or_refused(tmp_path):
    arr = np.zeros((2, 2, 4), dtype=np.uint8)
    arr[..., 0] = 255  # red, half transparent at (0, 0), transparent at (0, 1)
    arr[..., 3] = [[128, 0], [255, 255]]
    path = _save(tmp_path, "a.png", Image.fromarray(arr, "RGBA"))
    white = read_image(path)
    assert white.tensor[0, :, 0, 1].tolist() == [1.0, 1.0, 1.0]
    assert white.notes == ["RGBA alpha composited on white"]
    black = read_image(path, alpha="black")
    assert black.tensor[0, :, 0, 1].tolist() == [0.0, 0.0, 0.0]
    assert black.tensor[0, 0, 0, 0] == pytest.approx(128 / 255, abs=1 / 255)
    with pytest.raises(ImageError, match="--alpha white or --alpha black"):
        read_image(path, alpha="refuse")


def test_an_opaque_alpha_channel_is_dropped_even_when_refusing(tmp_path):
    im = Image.new("RGBA", (2, 2), (1, 2, 3, 255))
    img = read_image(_save(tmp_path, "a.png", im), alpha="refuse")
    assert "fully opaque" in img.notes[0]


def test_unreadable_files_and_bombs_are_clear_errors(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        read_image(tmp_path / "missing.png")
    (tmp_path / "text.png").write_text("hello")
    with pytest.raises(ImageError, match="not an image format"):
        read_image(tmp_path / "text.png")
    good = _save(tmp_path, "big.png", Image.new("RGB", (64, 64)))
    with pytest.raises(ImageError, match="more than the limit of 3000 .*--max-pixels"):
        read_image(good, max_pixels=3000)  # 4096 pixels: over our limit
    with pytest.raises(ImageError, match="decompression bomb.*--max-pixels"):
        read_image(good, max_pixels=1000)  # over twice the limit: Pillow's own check
    assert read_image(good, max_pixels=4096).size == (64, 64)
    truncated = tmp_path / "cut.png"
    truncated.write_bytes(good.read_bytes()[:60])
    with pytest.raises(ImageError, match="cannot read"):
        read_image(truncated)
    with pytest.raises(ImageError, match="floating-point"):
        read_image(_save(tmp_path, "f.tif", Image.new("F", (2, 2))))


@pytest.mark.parametrize("size", [(1, 1), (1, 5000), (3, 2)])
def test_resize_keeps_every_side_at_least_one_pixel(size):
    y = resize_shortest_edge(torch.rand(1, 3, *size), 800, 1333)
    assert min(y.shape[-2:]) >= 1 and max(y.shape[-2:]) <= 1333
