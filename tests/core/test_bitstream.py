"""The .ttc container and the scalable codec: exact, versioned, and strict about bad input."""

import random

import pytest
import torch

from ttc_core import bitstream
from ttc_core.bitstream import BitstreamError
from ttc_core.checkpoint import make_codec_spec
from ttc_core.codec import ScalableCodec

from .conftest import TINY, smooth_images, tiny_base


def make_codec(base, enh=None, output="image"):
    state = {f"base.{k}": v for k, v in base.state_dict().items()}
    enhancement = None
    if enh is not None:
        state.update({f"enh.{k}": v for k, v in enh.state_dict().items()})
        enhancement = {"kwargs": {**TINY, "side_channels": 16}, "prefix": "enh.", "output": output}
    spec = make_codec_spec(TINY, "base.", enhancement=enhancement)
    codec = ScalableCodec.from_spec(spec, state)
    codec.update()
    return codec


@pytest.fixture(scope="module")
def codec(trained_pair):
    base, enh, _ = trained_pair
    return make_codec(base, enh)


@pytest.fixture(scope="module")
def stream(codec):
    return codec.compress(smooth_images(1, 45, 61, seed=7), layers="all")


def test_scalable_stream_round_trips_and_matches_the_in_memory_model(codec, trained_pair):
    base, enh, _ = trained_pair
    x = smooth_images(1, 45, 61, seed=7)
    data = codec.compress(x, layers="all")
    out = codec.decompress(data)
    with torch.no_grad():
        ref = base(x)
        ref_e = enh(x, ref.y_hat)
    assert torch.equal(out.y_base, ref.y_hat)
    assert torch.equal(out.y_enhancement, ref_e.y_hat)
    assert torch.allclose(out.reconstruction, ref.reconstruction.clamp(0, 1), atol=1e-5)
    assert torch.allclose(out.enhancement_output, ref_e.output.clamp(0, 1), atol=1e-5)
    header = bitstream.unpack(data)
    assert (header.height, header.width) == (45, 61)
    assert set(header.layers) == {"base", "enhancement"}
    base_only = codec.decompress(data, layers="base")
    assert base_only.enhancement_output is None and torch.equal(base_only.y_base, out.y_base)


def test_base_only_stream_is_a_prefix_in_content(codec):
    x = smooth_images(1, 45, 61, seed=7)
    h_base = bitstream.unpack(codec.compress(x, layers="base"))
    h_all = bitstream.unpack(codec.compress(x, layers="all"))
    assert h_base.layers["base"].string == h_all.layers["base"].string
    assert "enhancement" not in h_base.layers


def test_every_mutation_truncation_and_extension_is_rejected(codec, stream):
    rng = random.Random(1234)
    cases = []
    for _ in range(200):
        data = bytearray(stream)
        for _ in range(rng.randint(1, 4)):
            pos = rng.randrange(len(data))
            data[pos] = (data[pos] + rng.randint(1, 255)) % 256
        cases.append(bytes(data))
    cases += [stream[: rng.randrange(len(stream))] for _ in range(100)]
    cases += [
        stream + bytes(rng.randrange(256) for _ in range(rng.randint(1, 64))) for _ in range(50)
    ]
    cases += [b"", b"TTC", b"PNG\x00" + stream[4:], stream[:4] + bytes([99]) + stream[5:]]
    for data in cases:
        with pytest.raises(BitstreamError):
            codec.decompress(data)


def test_clear_messages_for_common_defects(codec, stream):
    with pytest.raises(BitstreamError, match="wrong magic"):
        codec.decompress(b"GIF89a" + stream)
    with pytest.raises(BitstreamError, match="version 7"):
        codec.decompress(stream[:4] + bytes([7]) + stream[5:])
    with pytest.raises(BitstreamError, match="checksum"):
        codec.decompress(stream[:-10] + bytes(6) + stream[-4:])


def test_a_forged_checksum_still_cannot_smuggle_bad_lengths(codec, stream):
    import struct
    import zlib

    header = bitstream.unpack(stream)
    header.layers["base"].height += 1  # lies about the latent size; checksum recomputed
    forged = bitstream.pack(header)
    with pytest.raises(BitstreamError, match="does not match"):
        codec.decompress(forged)
    body = bytearray(stream[:-4])
    body[6:10] = struct.pack("<I", 1 << 30)  # absurd image height
    with pytest.raises(BitstreamError, match="out of range"):
        codec.decompress(bytes(body) + struct.pack("<I", zlib.crc32(bytes(body))))


def test_other_weights_are_refused(codec, stream, trained_pair):
    _, enh, _ = trained_pair
    other = tiny_base()
    other.eval()
    with pytest.raises(BitstreamError, match="written by model"):
        make_codec(other, enh).decompress(stream)


def test_corrupt_latent_crc_is_detected(codec, stream):
    header = bitstream.unpack(stream)
    header.layers["base"].latent_crc ^= 1
    with pytest.raises(BitstreamError, match="CRC"):
        codec.decompress(bitstream.pack(header))
