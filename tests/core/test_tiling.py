"""Tiled streams (format version 2): exact for any size and tile, parallel, strict."""

import zlib

import pytest
import torch

from ttc_core import bitstream
from ttc_core.bitstream import BitstreamError
from ttc_core.codec import latent_crc
from ttc_core.tiling import map_tiles, tile_count, tile_grid

from .conftest import smooth_images, tiny_base, tiny_enhancement
from .test_bitstream import make_codec


@pytest.fixture(scope="module")
def codec():
    torch.manual_seed(3)
    return make_codec(tiny_base().eval(), tiny_enhancement().eval())


@pytest.mark.parametrize("h, w, t", [(1, 1, 1), (5, 7, 2), (4, 4, 4), (3, 10, 3), (6, 2, 0)])
def test_the_grid_covers_the_latent_once_in_raster_order(h, w, t):
    boxes = tile_grid(h, w, t)
    assert len(boxes) == tile_count(h, w, t)
    cover = torch.zeros(h, w, dtype=torch.int64)
    for rows, cols in boxes:
        cover[rows, cols] += 1
    assert torch.equal(cover, torch.ones(h, w, dtype=torch.int64))
    starts = [(r.start, c.start) for r, c in boxes]
    assert starts == sorted(starts)


@pytest.mark.parametrize(
    "size, tile, workers",
    [((17, 23), 16, 1), ((50, 97), 32, 2), ((33, 1), 16, 1), ((1, 70), 48, 2), ((40, 40), 64, 1)],
)
def test_tiled_round_trip_is_bit_exact(codec, size, tile, workers):
    x = smooth_images(1, *size, seed=sum(size))
    untiled = codec.decompress(codec.compress(x, layers="all"))
    data = codec.compress(x, layers="all", tile=tile, workers=workers)
    header = bitstream.unpack(data)
    assert header.version == 2 and header.tile == tile // 16
    for layer in header.layers.values():
        assert len(layer.strings) == tile_count(layer.height, layer.width, tile // 16)
    out = codec.decompress(data, workers=workers)
    # the same latents as the untiled stream, hence the same images (g sees the whole ŷ)
    assert torch.equal(out.y_base, untiled.y_base)
    assert torch.equal(out.y_enhancement, untiled.y_enhancement)
    assert torch.equal(out.reconstruction, untiled.reconstruction)
    assert torch.equal(out.enhancement_output, untiled.enhancement_output)
    assert latent_crc(out.y_base) == header.layers["base"].latent_crc
    # parallel coding writes the same bytes as serial coding
    assert codec.compress(x, layers="all", tile=tile, workers=1) == data


def test_untiled_streams_stay_version_1_and_notes_need_version_2(codec):
    x = smooth_images(1, 20, 30, seed=1)
    v1 = codec.compress(x)
    assert v1[4] == 1 and bitstream.unpack(v1).version == 1
    noted = codec.compress(x, notes="greyscale (L) replicated to RGB")
    header = bitstream.unpack(noted)
    assert header.version == 2 and header.notes == "greyscale (L) replicated to RGB"
    assert header.tile == 0
    assert header.layers["base"].strings == [bitstream.unpack(v1).layers["base"].string]
    assert torch.equal(codec.decompress(noted).y_base, codec.decompress(v1).y_base)


@pytest.mark.parametrize("tile", [8, 24, -16, 16 << 16])
def test_tile_sizes_must_be_multiples_of_the_stride(codec, tile):
    with pytest.raises(ValueError, match="multiple of 16"):
        codec.compress(smooth_images(1, 20, 20), tile=tile)


def test_a_forged_tile_count_is_refused(codec):
    header = bitstream.unpack(codec.compress(smooth_images(1, 40, 40), tile=16))
    assert header.tile == 1 and len(header.layers["base"].strings) == 9  # 3×3 latent
    header.tile = 2  # now the grid has 4 tiles but the layer 9 strings
    with pytest.raises(ValueError, match="tile strings"):
        bitstream.pack(header)
    data = bytearray(codec.compress(smooth_images(1, 40, 40), tile=16))
    name_len = int.from_bytes(data[14:16], "little")
    tile_at = 16 + name_len + bitstream.DIGEST_BYTES
    data[tile_at : tile_at + 2] = (2).to_bytes(2, "little")
    data[-4:] = zlib.crc32(bytes(data[:-4])).to_bytes(4, "little")
    with pytest.raises(BitstreamError, match="holds 9 tiles"):
        bitstream.unpack(bytes(data))


def test_map_tiles_keeps_order_and_checks_workers():
    assert map_tiles(lambda v: v * v, list(range(7)), workers=2) == [v * v for v in range(7)]
    assert map_tiles(lambda v: -v, [1, 2], workers=2, use_processes=False) == [-1, -2]
    with pytest.raises(ValueError, match="workers"):
        map_tiles(abs, [1], workers=0)
