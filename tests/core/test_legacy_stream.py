"""Files written by ttc 0.1 still decode, and the same image still codes to the same bytes.

The fixture (``data/legacy_*``) was written by ``data/make_legacy_stream.py`` with the code of
commit 2598ecf (before ``LatentCodec`` and ``ttc_core.scalable``); see that script.
"""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ttc_core.bitstream import unpack
from ttc_core.codec import ScalableCodec, latent_crc

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def codec():
    codec = ScalableCodec.from_checkpoint(DATA / "legacy_codec.pth")
    codec.update()  # the fixture has no coder tables; the streams' digest checks them
    return codec


@pytest.fixture(scope="module")
def image():
    pixels = np.asarray(Image.open(DATA / "legacy_image.png").convert("RGB"))
    return torch.from_numpy(pixels.copy()).permute(2, 0, 1)[None].float() / 255


@pytest.mark.parametrize(
    "name, layers, order",
    [("legacy.ttc", "all", "wavefront"), ("legacy_raster.ttc", "base", "raster")],
)
def test_a_legacy_stream_decodes_and_recodes_to_the_same_bytes(codec, image, name, layers, order):
    data = (DATA / name).read_bytes()
    header = unpack(data)
    decoded = codec.decompress(data)  # checks the model digest and each latent's CRC
    assert latent_crc(decoded.y_base) == header.layers["base"].latent_crc
    if layers == "all":
        assert latent_crc(decoded.y_enhancement) == header.layers["enhancement"].latent_crc
        assert decoded.enhancement_output.shape[-2:] == image.shape[-2:]
    assert codec.compress(image, layers=layers, order=order) == data
