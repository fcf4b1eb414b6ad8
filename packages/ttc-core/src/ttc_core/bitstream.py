r"""The ``.ttc`` container: one file holds everything needed to decode.

Layout of version 1 (little-endian)::

    magic      4 B   b"TTC\x00"
    version    1 B   1
    flags      1 B   bit 0: base layer, bit 1: enhancement layer, bits 4-5: coding order
    height     4 B   image height (pixels of the original input)
    width      4 B   image width
    model      2 B + n B   architecture name (UTF-8), then 16 B weights digest
    per layer (base first, then enhancement):
      channels, latent height, latent width   2 B each
      latent crc32                            4 B   CRC of the decoded integer latent
      string length                           4 B, then the rANS string
    checksum   4 B   CRC32 of everything above

Version 2 (written only when a stream is tiled, resized or records input notes, so that other
streams stay version 1, byte for byte) adds, after the model digest::

    tile       2 B   tile side in latent units (0: untiled, one tile; :mod:`ttc_core.tiling`)
    source     4 B + 4 B   height, width of the file before a resize (0, 0: not resized);
                     decoders write images at this size by default
    notes      2 B + n B   what the input policy did to the image (UTF-8, may be empty)

and each layer holds ``tile count (4 B)`` then, per tile in raster order, ``length (4 B)``
and the tile's rANS string, instead of one string. The latent CRC is of the whole latent.

Version 3 (written only when a layer records a rate position, i.e. by a variable-rate model,
:mod:`ttc_core.variable_rate`; every other stream keeps its version 1 or 2 bytes) is version 2
plus, after the notes::

    rate flags 1 B   bit 0: the base records a rate position, bit 1: the enhancement does
    rates      4 B each, float32, base first: the rate position each flagged layer was coded at

A decoder needs them to rebuild the gains the encoder used; a stream without them (a per-α
model's) decodes as before.

Reading anything malformed raises :class:`BitstreamError` with a message that says what is
wrong: the checksum is verified before any field is trusted, every length is bounded by the
file size, and latent sizes are checked against the image size before any allocation.
"""

from __future__ import annotations

import math
import struct
import zlib
from dataclasses import dataclass, field

from .tiling import tile_count

__all__ = [
    "BitstreamError",
    "FORMAT_VERSION",
    "LayerStream",
    "StreamHeader",
    "MAGIC",
    "READ_VERSIONS",
    "pack",
    "unpack",
]

MAGIC = b"TTC\x00"
#: the newest version this module writes; it reads every version in READ_VERSIONS
FORMAT_VERSION = 3
READ_VERSIONS = (1, 2, 3)
ORDER_CODES = {"wavefront": 0, "raster": 1}
_ORDER_NAMES = {v: k for k, v in ORDER_CODES.items()}
_MAX_SIDE = 1 << 16  # pixels; larger images are refused rather than allocated
_MAX_NAME = 256
_MAX_NOTES = 4096
DIGEST_BYTES = 16
_RATE_BITS = {"base": 1, "enhancement": 2}


class BitstreamError(ValueError):
    """A ``.ttc`` stream is malformed, corrupt, or was written by another model."""


@dataclass
class LayerStream:
    """One coded layer: latent shape, CRC of the integer latent, rANS string(s).

    An untiled layer has one ``string``; a tiled one (version 2) has ``tiles``, one string per
    tile of the grid :func:`ttc_core.tiling.tile_grid` gives, and an empty ``string``.
    """

    channels: int
    height: int
    width: int
    latent_crc: int
    string: bytes = b""
    tiles: list[bytes] | None = None

    @property
    def strings(self) -> list[bytes]:
        """The rANS strings in coding order (one for an untiled layer)."""
        return [self.string] if self.tiles is None else list(self.tiles)

    @property
    def bits(self) -> int:
        return 8 * sum(len(s) for s in self.strings)


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
    tile: int = 0  #: tile side in latent units; 0 = untiled
    notes: str = ""  #: what the input policy did to the image (version 2)
    #: (height, width) of the file before it was resized for coding; None: not resized
    source_size: tuple[int, int] | None = None
    #: rate position per layer of a variable-rate model (version 3), e.g. ``{"base": 2.0}``
    rates: dict[str, float] = field(default_factory=dict)

    @property
    def needs_version(self) -> int:
        """The oldest format version that holds this header (1 unless tiled, noted, resized;
        3 when a layer records a rate position)."""
        if self.rates:
            return 3
        return 2 if self.tile or self.notes or self.source_size else 1

    def rate(self, layer: str) -> float | None:
        """The rate position ``layer`` was coded at (None: a per-α layer, or absent)."""
        return self.rates.get(layer)

    @property
    def output_size(self) -> tuple[int, int]:
        """The size a decoder writes images at by default: the file's, before any resize."""
        return self.source_size or (self.height, self.width)

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
    notes = header.notes.encode("utf-8")
    if len(notes) > _MAX_NOTES:
        raise ValueError(f"input notes longer than {_MAX_NOTES} bytes")
    if not 0 <= header.tile < 1 << 16:
        raise ValueError(f"tile size {header.tile} is out of range (0 to 65535 latent units)")
    version = header.needs_version
    src_h, src_w = header.source_size or (0, 0)
    if header.source_size and not (0 < src_h <= _MAX_SIDE and 0 < src_w <= _MAX_SIDE):
        raise ValueError(f"source size {src_h}×{src_w} is out of range")
    flags = 1 | (2 if "enhancement" in header.layers else 0) | (ORDER_CODES[header.order] << 4)
    out = bytearray(MAGIC)
    out += struct.pack("<BBII", version, flags, header.height, header.width)
    out += struct.pack("<H", len(name)) + name + header.model_digest
    if set(header.rates) - set(header.layers):
        raise ValueError(f"rates given for layers not in the stream: {sorted(header.rates)}")
    for key, value in header.rates.items():
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
            raise ValueError(f"{key} rate position must be a finite number >= 0, got {value!r}")
    if version >= 2:
        out += struct.pack("<HIIH", header.tile, src_h, src_w, len(notes)) + notes
    if version >= 3:
        rated = [k for k in ("base", "enhancement") if k in header.rates]
        out += struct.pack("<B", sum(_RATE_BITS[k] for k in rated))
        for key in rated:
            out += struct.pack("<f", float(header.rates[key]))
    for key in ("base", "enhancement"):
        if key not in header.layers:
            continue
        layer = header.layers[key]
        out += struct.pack("<HHHI", layer.channels, layer.height, layer.width, layer.latent_crc)
        if version == 1:
            if layer.tiles is not None:
                raise ValueError("a version-1 stream holds one string per layer, not tiles")
            out += struct.pack("<I", len(layer.string)) + layer.string
            continue
        grid = tile_count(layer.height, layer.width, header.tile)
        strings = layer.strings
        if len(strings) != grid:
            raise ValueError(f"{key} layer has {len(strings)} tile strings, its grid {grid}")
        out += struct.pack("<I", len(strings))
        for string in strings:
            out += struct.pack("<I", len(string)) + string
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
    if version not in READ_VERSIONS:
        raise BitstreamError(
            f"unsupported .ttc format version {version} (this ttc reads versions "
            f"{', '.join(map(str, READ_VERSIONS))}): it was written by a newer ttc, or is not a "
            ".ttc file"
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
    if version >= 2:
        header.tile, src_h, src_w, notes_len = r.unpack("<HIIH", "tile / source size / notes")
        if (src_h, src_w) != (0, 0):
            if not (0 < src_h <= _MAX_SIDE and 0 < src_w <= _MAX_SIDE):
                raise BitstreamError(f"source image size {src_h}×{src_w} is out of range")
            header.source_size = (src_h, src_w)
        if notes_len > _MAX_NOTES:
            raise BitstreamError(f"input notes length {notes_len} exceeds {_MAX_NOTES}")
        try:
            header.notes = r.take(notes_len, "input notes").decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BitstreamError(f"input notes are not UTF-8: {exc}") from None
    if version >= 3:
        (rate_flags,) = r.unpack("<B", "rate flags")
        if rate_flags & ~0b11 or not rate_flags:
            raise BitstreamError(f"invalid rate flags 0x{rate_flags:02x}")
        for key, bit in _RATE_BITS.items():
            if not rate_flags & bit:
                continue
            if not flags & bit:
                raise BitstreamError(f"a rate position is recorded for an absent {key} layer")
            (value,) = r.unpack("<f", f"{key} rate position")
            if not (math.isfinite(value) and value >= 0):
                raise BitstreamError(f"{key} rate position {value!r} is not a number >= 0")
            header.rates[key] = value
    for key, bit in (("base", 1), ("enhancement", 2)):
        if not flags & bit:
            continue
        c, h, w, crc = r.unpack("<HHHI", f"{key} layer header")
        if not (c and h and w):
            raise BitstreamError(f"{key} layer has an empty latent shape {c}×{h}×{w}")
        if version == 1:
            (n,) = r.unpack("<I", f"{key} string length")
            header.layers[key] = LayerStream(c, h, w, crc, r.take(n, f"{key} rANS string"))
            continue
        (count,) = r.unpack("<I", f"{key} tile count")
        grid = tile_count(h, w, header.tile)
        if count != grid:
            raise BitstreamError(
                f"{key} layer holds {count} tiles, but a {h}×{w} latent in tiles of "
                f"{header.tile} has {grid}"
            )
        tiles = []
        for k in range(count):
            (n,) = r.unpack("<I", f"{key} tile {k} length")
            tiles.append(r.take(n, f"{key} tile {k} rANS string"))
        header.layers[key] = LayerStream(c, h, w, crc, tiles=tiles)
    if r.pos != r.end:
        raise BitstreamError(f"{r.end - r.pos} unexpected bytes after the last layer")
    return header
