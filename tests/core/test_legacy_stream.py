"""Files written by ttc 0.1 still decode, and the same image still codes to the same stream.

The fixture (``data/legacy_*``) was written by ``data/make_legacy_stream.py`` with the code of
commit 2598ecf (before ``LatentCodec`` and ``ttc_core.scalable``); see that script.
"""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ttc_core.bitstream import BitstreamError, unpack
from ttc_core.codec import ScalableCodec, latent_crc
from ttc_core.codec_parts import DERIVED_TABLES, model_digest

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
    # ttc 0.1's digest hashed the coder tables as the writing machine computed them: where this
    # machine rounds them otherwise, the stream is refused with the way out, and decodes with it
    trusted = header.model_digest not in codec.digests()
    if trusted:
        with pytest.raises(BitstreamError, match="--trust-checkpoint"):
            codec.decompress(data)
    decoded = codec.decompress(data, trust_checkpoint=trusted)  # each latent's CRC is checked
    assert latent_crc(decoded.y_base) == header.layers["base"].latent_crc
    if layers == "all":
        assert latent_crc(decoded.y_enhancement) == header.layers["enhancement"].latent_crc
        assert decoded.enhancement_output.shape[-2:] == image.shape[-2:]
    # the same image codes to the same stream, but for the digest (today's, portable) and
    # the file checksum over it
    recoded = codec.compress(image, layers=layers, order=order)
    again = unpack(recoded)
    assert again.model_digest == codec.model_digest()
    assert replace(again, model_digest=header.model_digest) == header  # payloads, CRCs, ...
    assert len(recoded) == len(data)


def test_the_digest_is_the_same_on_every_machine(codec):
    """The coder tables (derived from the stored scale table with float arithmetic that may
    round otherwise elsewhere) are not hashed; every stored tensor is."""
    state = codec.state_dict()
    tables = [k for k in state if k.endswith(DERIVED_TABLES)]
    assert tables
    perturbed = dict(state)
    perturbed[tables[0]] = state[tables[0]].clone()
    perturbed[tables[0]].view(-1)[-1] += 1
    assert model_digest(codec.spec, perturbed) == codec.model_digest()
    assert model_digest(codec.spec, perturbed, derived_tables=True) != codec.digests()[1]
    weight = next(k for k in state if k.endswith("weight"))
    perturbed = dict(state, **{weight: state[weight] + 1e-6})
    assert model_digest(codec.spec, perturbed) != codec.model_digest()


def test_cli_decodes_a_legacy_stream_of_another_machine_only_when_trusted(codec, tmp_path, capsys):
    from ttc_core.cli import main as ttc

    stream, out = DATA / "legacy.ttc", tmp_path / "decoded.png"
    argv = ["decompress", str(stream), "-c", str(DATA / "legacy_codec.pth"), "-o", str(out)]
    if unpack(stream.read_bytes()).model_digest not in codec.digests():
        assert ttc(argv) == 2 and "--trust-checkpoint" in capsys.readouterr().err
        assert not out.exists()
    assert ttc([*argv, "--trust-checkpoint"]) == 0
    assert Image.open(out).size == Image.open(DATA / "legacy_image.png").size
