r"""The ``.ttc`` container: one file holds everything needed to decode.

Layout (little-endian)::

    magic      4 B   b"TTC\x00"
    version    1 B   FORMAT_VERSION
    flags      1 B   bit 0: base layer, bit 1: enhancement layer, bits 4-5: coding order
    height     4 B   image height (pixels of the original input)
    width      4 B   image width
    model      2 B + n B   architecture name (UTF-8), then 16 B weights digest
    per layer (base first, then enhancement):
      channels, latent height, latent width   2 B each
      latent crc32                            4 B   CRC of the decoded integer latent
      string length                           4 B, then the rANS string
    checksum   4 B   CRC32 of everything above

Reading anything malformed raises :class:`BitstreamError` with a message that says what is
wrong: the checksum is verified before any field is trusted, every length is bounded by the
file size, and latent sizes are checked against the image size before any allocation.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

__all__ = [
    "BitstreamError",
    "FORMAT_VERSION",
    "LayerStream",
    "StreamHeader",
    "MAGIC",
    "pack",
    "unpack",
]

MAGIC = b"TTC\x00"
FORMAT_VERSION = 1
ORDER_CODES = {"wavefront": 0, "raster": 1}
_ORDER_NAMES = {v: k for k, v in ORDER_CODES.items()}
_MAX_SIDE = 1 << 16  # pixels; larger images are refused rather than allocated
_MAX_NAME = 256
DIGEST_BYTES = 16


class BitstreamError(ValueError):
    """A ``.ttc`` stream is malformed, corrupt, or was written by another model."""


@dataclass
class LayerStream:
    """One coded layer: latent shape, CRC of the integer latent, rANS string."""

    channels: int
    height: int
    width: int
    latent_crc: int
    string: bytes

    @property
    def bits(self) -> int:
        return 8 * len(self.string)


@dataclass
class StreamHeader:
    """Everything in a ``.ttc`` file besides the rANS payloads."""

    height: int
    width: int
    model_name: str
    model_digest: bytes
    order: str = "wavefront"
    version: int = FORMAT_VERSION
    layers: dict[str, LayerStream] = field(default_factory=dict)

    @property
    def num_pixels(self) -> int:
        return self.height * self.width

    def bits(self, layer: str) -> int:
        return self.layers[layer].bits if layer in self.layers else 0


def pack(header: StreamHeader) -> bytes:
    """Serialise a header with its layers (``"base"`` required, ``"enhancement"`` optional)."""
    if "base" not in header.layers:
        raise ValueError("a .ttc stream needs a base layer")
    if set(header.layers) - {"base", "enhancement"}:
        raise ValueError(f"unknown layers {sorted(set(header.layers) - {'base', 'enhancement'})}")
    if len(header.model_digest) != DIGEST_BYTES:
        raise ValueError(f"model digest must be {DIGEST_BYTES} bytes")
    if not (0 < header.height <= _MAX_SIDE and 0 < header.width <= _MAX_SIDE):
        raise ValueError(f"image size {header.height}×{header.width} is out of range")
    name = header.model_name.encode("utf-8")
    if len(name) > _MAX_NAME:
        raise ValueError(f"model name longer than {_MAX_NAME} bytes")
    flags = 1 | (2 if "enhancement" in header.layers else 0) | (ORDER_CODES[header.order] << 4)
    out = bytearray(MAGIC)
    out += struct.pack("<BBII", FORMAT_VERSION, flags, header.height, header.width)
    out += struct.pack("<H", len(name)) + name + header.model_digest
    for key in ("base", "enhancement"):
        if key in header.layers:
            layer = header.layers[key]
            out += struct.pack(
                "<HHHII",
                layer.channels,
                layer.height,
                layer.width,
                layer.latent_crc,
                len(layer.string),
            )
            out += layer.string
    out += struct.pack("<I", zlib.crc32(out))
    return bytes(out)


class _Reader:
    def __init__(self, data: bytes, end: int):
        self.data, self.pos, self.end = data, 0, end

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or self.pos + n > self.end:
            raise BitstreamError(
                f"truncated stream: {what} needs {n} bytes at offset {self.pos}, "
                f"only {self.end - self.pos} left"
            )
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str, what: str) -> tuple:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt), what))


def unpack(data: bytes) -> StreamHeader:
    """Parse and validate a ``.ttc`` stream. Raises :class:`BitstreamError` on any defect."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise BitstreamError(f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) < len(MAGIC) or data[: len(MAGIC)] != MAGIC:
        raise BitstreamError("not a .ttc stream (wrong magic bytes)")
    if len(data) < len(MAGIC) + 1:
        raise BitstreamError("truncated stream: no format version")
    version = data[len(MAGIC)]
    if version != FORMAT_VERSION:
        raise BitstreamError(
            f"unsupported .ttc format version {version} (this ttc reads version {FORMAT_VERSION})"
        )
    if len(data) < len(MAGIC) + 1 + 4:
        raise BitstreamError("truncated stream: shorter than the fixed header")
    (stored,) = struct.unpack("<I", data[-4:])
    if zlib.crc32(data[:-4]) != stored:
        raise BitstreamError(
            "checksum mismatch: the file is corrupt or truncated (CRC32 of the content does "
            "not match the stored checksum)"
        )
    r = _Reader(data, len(data) - 4)
    r.take(len(MAGIC) + 1, "magic/version")
    flags, height, width = r.unpack("<BII", "flags/image size")
    if flags & ~0b110011 or not flags & 1:
        raise BitstreamError(f"invalid layer flags 0x{flags:02x}")
    order_code = (flags >> 4) & 0b11
    if order_code not in _ORDER_NAMES:
        raise BitstreamError(f"unknown coding order code {order_code}")
    if not (0 < height <= _MAX_SIDE and 0 < width <= _MAX_SIDE):
        raise BitstreamError(f"image size {height}×{width} is out of range")
    (name_len,) = r.unpack("<H", "model name length")
    if name_len > _MAX_NAME:
        raise BitstreamError(f"model name length {name_len} exceeds {_MAX_NAME}")
    try:
        name = r.take(name_len, "model name").decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BitstreamError(f"model name is not UTF-8: {exc}") from None
    digest = r.take(DIGEST_BYTES, "model digest")
    header = StreamHeader(height, width, name, digest, _ORDER_NAMES[order_code], version)
    for key, bit in (("base", 1), ("enhancement", 2)):
        if flags & bit:
            c, h, w, crc, n = r.unpack("<HHHII", f"{key} layer header")
            if not (c and h and w):
                raise BitstreamError(f"{key} layer has an empty latent shape {c}×{h}×{w}")
            header.layers[key] = LayerStream(c, h, w, crc, r.take(n, f"{key} rANS string"))
    if r.pos != r.end:
        raise BitstreamError(f"{r.end - r.pos} unexpected bytes after the last layer")
    return header
