r"""Scalable codec: real ``.ttc`` bitstreams from a trained base (+ enhancement) model.

::

    x ∈ [0,1] ─ normalise ─ [downsample_b] ─ f_b ─ ŷ_b ──rANS──┐
                         └ [downsample_e] ─ f_e ─ ŷ_e ──rANS | ŷ_b──┴─▶ .ttc file

    .ttc ─▶ ŷ_b ─▶ g_b (pseudo-image for the task network), g_a (direct reconstruction)
        └─▶ ŷ_e (given ŷ_b) ─▶ g_e (reconstruction, or pseudo-image of the assisted task)

The codec is rebuilt from any checkpoint that carries a ``"ttc_codec"`` spec
(:mod:`ttc_core.checkpoint`), without importing Detectron2 or MMSegmentation; building its
parts from the spec, saving them and the weights digest are :mod:`ttc_core.codec_parts`'.

**Sizes.** Every image from 1×1 to :data:`MAX_SIDE` × :data:`MAX_SIDE` codes;
:meth:`ScalableCodec.check_size` refuses anything else before any work. A side shorter than a
learned downsample's factor is replicate-padded up to the factor first (so a 1-pixel-high
frame codes one latent row instead of failing); the stream records the input's size and the
decoder computes the same coded size from it.

**Tiles.** With ``tile=T`` (pixels, a multiple of the stride s, 16 in the paper) each layer's
latent is coded as independent tiles of ``T/s`` latent units (:mod:`ttc_core.tiling`), over
``workers`` processes; ŷ_b is sliced to the same tile as the enhancement tile it conditions.
The task networks and synthesis transforms still see the whole decoded latent. Without ``tile`` the
stream is version 1, byte for byte what earlier versions wrote.

**Rates.** A variable-rate checkpoint (:mod:`ttc_core.variable_rate`) codes at the rate
position it is given (``rate`` for the base, ``enhancement_rate`` for the enhancement, each in
``[0, N−1]``; ``ttc compress --rate``); the stream records each (version 3) and the decoder
rebuilds the same gains from it. A per-α checkpoint takes no rate and writes the streams it
always wrote.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import bitstream
from .bitstream import BitstreamError, LayerStream, StreamHeader
from .bottleneck import BaseBottleneck
from .checkpoint import CheckpointError, find_codec_spec, load_checkpoint, state_dict_of
from .codec_parts import CodecParts, build_parts, model_digest, model_name, save_parts
from .enhancement import EnhancementBottleneck
from .entropy.coding import EntropyCoder
from .layers import Downsample
from .scalable import side_rate_of
from .tiling import map_tiles, tile_grid
from .variable_rate import canonical_rate

__all__ = ["MAX_SIDE", "DecodedStream", "EncodedStream", "ScalableCodec", "latent_crc"]

#: the largest image side a ``.ttc`` stream records (pixels)
MAX_SIDE = bitstream._MAX_SIDE


def latent_crc(y_hat: Tensor) -> int:
    """CRC32 of an integer latent (int32, C-contiguous)."""
    return zlib.crc32(y_hat.detach().cpu().round().to(torch.int32).contiguous().numpy().tobytes())


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass
class DecodedStream:
    header: StreamHeader
    y_base: Tensor  #: ŷ_b (1, M, h, w)
    pseudo_image: Tensor  #: g_b(ŷ_b), the task network's input (model-normalised space)
    reconstruction: Tensor  #: g_a(ŷ_b) in [0, 1], at the base layer's input resolution
    y_enhancement: Tensor | None = None
    enhancement_output: Tensor | None = None  #: g_e(ŷ_e)


@dataclass
class EncodedStream:
    """What :meth:`ScalableCodec.encode_stream` returns: the stream and its rates."""

    data: bytes  #: the ``.ttc`` file
    header: StreamHeader
    estimated_bits: dict[str, float] = field(default_factory=dict)  #: −Σ log2 p, per layer

    @property
    def actual_bits(self) -> dict[str, int]:
        """Bits of each layer's rANS strings (the whole file is ``8 * len(data)``)."""
        return {key: layer.bits for key, layer in self.header.layers.items()}


class ScalableCodec(nn.Module):
    """Base (+ optional enhancement) layer with real bitstreams.

    Build it with :meth:`from_checkpoint` (any checkpoint carrying a ``"ttc_codec"`` spec) or
    :meth:`from_spec`. Images are ``(1, 3, H, W)`` tensors in [0, 1], RGB.
    """

    def __init__(
        self,
        spec: Mapping[str, Any],
        base: BaseBottleneck,
        base_downsample: Downsample | None = None,
        enhancement: EnhancementBottleneck | None = None,
        enhancement_downsample: Downsample | None = None,
    ):
        super().__init__()
        self.spec = dict(spec)
        self.base = base
        self.base_downsample = base_downsample
        self.enhancement = enhancement
        self.enhancement_downsample = enhancement_downsample
        inp = self.spec["input"]
        # buffers of the codec itself: their keys ("mean", "std") are part of the digest
        self.register_buffer(
            "mean", torch.tensor(inp["mean"], dtype=torch.float32).view(1, -1, 1, 1)
        )
        self.register_buffer("std", torch.tensor(inp["std"], dtype=torch.float32).view(1, -1, 1, 1))
        self.scale = float(inp["scale"])
        self.bgr = inp.get("channel_order", "RGB") == "BGR"
        self._digest: bytes | None = None
        self._legacy_digest: bytes | None = None

    # -- construction (ttc_core.codec_parts) -------------------------------------------------
    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], state: Mapping[str, Tensor]) -> ScalableCodec:
        p = build_parts(spec, state)
        return cls(spec, p.base, p.base_downsample, p.enhancement, p.enhancement_downsample).eval()

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike) -> ScalableCodec:
        ckpt = load_checkpoint(path)
        spec = find_codec_spec(ckpt)
        if spec is None:
            raise CheckpointError(
                f"{os.fspath(path)} carries no 'ttc_codec' spec: it was not written by a ttc "
                "trainer (ttc_detectron2 / ttc_mmseg), or is from before the spec existed"
            )
        return cls.from_spec(spec, state_dict_of(ckpt))

    @property
    def parts(self) -> CodecParts:
        return CodecParts(
            self.base, self.base_downsample, self.enhancement, self.enhancement_downsample
        )

    def save(self, path: str | os.PathLike) -> None:
        """Write a standalone codec checkpoint (loadable with :meth:`from_checkpoint`)."""
        save_parts(self.spec, self.parts, path)

    # -- identity ---------------------------------------------------------------------------
    @property
    def model_name(self) -> str:
        return model_name(self.spec)

    def model_digest(self) -> bytes:
        """16-byte hash of the architecture spec and every weight (not only the codec's), the
        same on every machine (:func:`~ttc_core.codec_parts.model_digest`)."""
        if self._digest is None:
            self._digest = model_digest(self.spec, self.state_dict())
        return self._digest

    def legacy_digest(self) -> bytes:
        """ttc 0.1's digest of this model, which also hashed the coder tables as this machine
        computes them (only checked for a stream that does not carry today's)."""
        if self._legacy_digest is None:
            self._legacy_digest = model_digest(self.spec, self.state_dict(), derived_tables=True)
        return self._legacy_digest

    def digests(self) -> tuple[bytes, bytes]:
        """The digests a stream of this model may carry: today's and ttc 0.1's."""
        return self.model_digest(), self.legacy_digest()

    def update(self, force: bool = True) -> None:
        """Build the coders' CDF tables (CompressAI's ``update()``)."""
        self.base.update(force=force)
        if self.enhancement is not None:
            self.enhancement.update(force=force)
        self._digest = self._legacy_digest = None

    # -- pre-processing ---------------------------------------------------------------------
    def _check_image(self, x: Tensor) -> None:
        if x.dim() != 4 or x.shape[0] != 1 or x.shape[1] != 3:
            raise ValueError(
                f"expected one RGB image as a (1, 3, H, W) tensor, got {tuple(x.shape)}"
            )
        self.check_size(int(x.shape[-2]), int(x.shape[-1]))

    @staticmethod
    def check_size(height: int, width: int) -> None:
        """Refuse a size no stream can hold (before any work), naming the allowed range."""
        if not (1 <= height <= MAX_SIDE and 1 <= width <= MAX_SIDE):
            raise ValueError(
                f"cannot code a {height}×{width} image: sizes from 1×1 to {MAX_SIDE}×{MAX_SIDE} "
                "pixels code (resize it, e.g. with --resize)"
            )

    def normalise(self, x: Tensor) -> Tensor:
        if self.bgr:
            x = x.flip(1)
        return (x * self.scale - self.mean) / self.std

    def _downsample(self, x: Tensor, down: Downsample | None) -> Tensor:
        if down is None:
            return x
        h, w = x.shape[-2:]
        ph, pw = max(0, down.factor - h), max(0, down.factor - w)
        if ph or pw:  # a side shorter than the factor would downsample to nothing
            x = F.pad(x, (0, pw, 0, ph), mode="replicate")
        return down(x)

    def base_input(self, x: Tensor) -> Tensor:
        return self._downsample(self.normalise(x), self.base_downsample)

    def enhancement_input(self, x: Tensor) -> Tensor:
        return self._downsample(self.normalise(x), self.enhancement_downsample)

    @property
    def resize_shortest_edge(self) -> tuple[int, int] | None:
        """The task's test-time resize ``(short, max)`` recorded in the spec, if any."""
        value = self.spec["input"].get("resize_shortest_edge")
        return None if value is None else (int(value[0]), int(value[1]))

    def coded_size(self, height: int, width: int, layer: str = "base") -> tuple[int, int]:
        """Size of the tensor fed to a layer's analysis transform for an H×W image."""
        down = self.base_downsample if layer == "base" else self.enhancement_downsample
        f = down.factor if down is not None else 1
        return max(height, f) // f, max(width, f) // f

    def latent_size(self, height: int, width: int, layer: str = "base") -> tuple[int, int]:
        """Spatial size of a layer's latent for an H×W image."""
        h, w = self.coded_size(height, width, layer)
        stride = self._layer_model(layer).stride
        return _ceil_div(h, stride), _ceil_div(w, stride)

    # -- rates ------------------------------------------------------------------------------
    def alphas(self, layer: str = "base") -> list[float] | None:
        """The rate weights α a variable-rate layer was trained with (rate index i ↔ α_i), as
        its spec records them; None for a per-α layer or a spec without them."""
        entry = self.spec.get(layer) or {}
        values = entry.get("alphas")
        return None if values is None else [float(a) for a in values]

    def _rate(self, key: str, rate: float | None) -> float | None:
        """The float32 rate position a layer codes at (None: per-α), or a clear ValueError."""
        model = self._layer_model(key)
        option = "--rate" if key == "base" else "--enhancement-rate"
        if model.variable_rate and rate is None:
            alphas = self.alphas(key)
            trained = f" (trained with α = {alphas})" if alphas else ""
            raise ValueError(
                f"this checkpoint's {key} layer is variable-rate with {model.num_rates} rate "
                f"points{trained}: choose a rate position in [0, {model.num_rates - 1}] "
                f"(0 = lowest rate, fractions interpolate), e.g. ttc compress {option} "
                f"{model.num_rates - 1}"
            )
        if not model.variable_rate and rate is not None:
            raise ValueError(
                f"this checkpoint's {key} layer was trained for one rate (per-α): it takes no "
                f"rate position ({option} {rate} given; leave it out)"
            )
        if rate is None:
            return None
        return canonical_rate(model.check_rate(rate))

    def _check_stream_rates(self, header: StreamHeader, keys) -> None:
        for key in keys:
            model = self._layer_model(key)
            q = header.rate(key)
            if model.variable_rate and q is None:
                raise BitstreamError(
                    f"the {key} layer of this model is variable-rate, but the stream records no "
                    "rate position for it"
                )
            if not model.variable_rate and q is not None:
                raise BitstreamError(
                    f"the stream records a rate position for its {key} layer, which this model "
                    "codes at one rate only"
                )
            if q is not None and not 0 <= q <= model.num_rates - 1:
                raise BitstreamError(
                    f"{key} rate position {q} is outside [0, {model.num_rates - 1}] of this model"
                )

    # -- coding -----------------------------------------------------------------------------
    def _layer_model(self, key: str):
        return self.base if key == "base" else self.enhancement

    def _code_tiles(self, key, y, side, boxes, order, workers) -> list[bytes]:
        # one coder for every tile: its tables and float64 network are built once
        coder = EntropyCoder(self._layer_model(key).entropy_model)

        def code(box):
            rows, cols = box
            part = None if side is None else side[..., rows, cols].contiguous()
            return coder.compress(y[..., rows, cols].contiguous(), part, order)[0]

        return map_tiles(code, boxes, workers, use_processes=y.device.type == "cpu")

    def _decode_tiles(self, key, layer, side, boxes, order, workers) -> Tensor:
        coder = EntropyCoder(self._layer_model(key).entropy_model)
        jobs = list(zip(layer.strings, boxes, strict=True))

        def decode(job):
            string, (rows, cols) = job
            part = None if side is None else side[..., rows, cols].contiguous()
            shape = (rows.stop - rows.start, cols.stop - cols.start)
            return coder.decompress([string], shape, part, order)

        tiles = map_tiles(decode, jobs, workers, use_processes=self.mean.device.type == "cpu")
        y = torch.zeros(1, layer.channels, layer.height, layer.width)
        for (rows, cols), tile in zip(boxes, tiles, strict=True):
            y[..., rows, cols] = tile
        return y

    @property
    def stride(self) -> int:
        """Pixels per latent unit of the base layer (16 in the paper): tiles are multiples."""
        return self.base.stride

    def latent_tile(self, tile: int | None) -> int:
        """Latent units of a ``tile``-pixel tile (0: untiled), or a ValueError that says why."""
        if not tile:
            return 0
        s = self.stride
        if tile % s or tile < s or tile // s >= 1 << 16:
            raise ValueError(
                f"tile size must be a positive multiple of {s} pixels (one latent unit "
                f"each) below {s << 16}, got {tile}"
            )
        return tile // s

    @torch.no_grad()
    def encode_stream(
        self,
        x: Tensor,
        layers: str = "base",
        order: str = "wavefront",
        *,
        tile: int | None = None,
        workers: int = 1,
        notes: str = "",
        source_size: tuple[int, int] | None = None,
        estimate: bool = True,
        rate: float | None = None,
        enhancement_rate: float | None = None,
    ) -> EncodedStream:
        """Code one image (``(1, 3, H, W)`` in [0, 1]); the stream with its rates.

        Args:
            layers: ``"base"`` or ``"all"`` (base + enhancement).
            order: the coding order, ``"wavefront"`` or ``"raster"``.
            tile: tile side in pixels (a multiple of :attr:`stride`, 16 in the paper), or None
                for one untiled string per layer (a version-1 stream).
            workers: processes coding tiles in parallel (tiled streams only).
            notes: what was done to the input (recorded in a version-2 stream).
            source_size: ``(height, width)`` of the file before it was resized to ``x``'s
                size (recorded in a version-2 stream; decoders write images at it).
            estimate: also compute the likelihood estimate of each layer's bits.
            rate / enhancement_rate: rate positions of variable-rate layers (required there,
                refused for per-α layers); recorded in the stream (version 3).
        """
        if layers not in ("base", "all"):
            raise ValueError(f"layers must be 'base' or 'all', got {layers!r}")
        if layers == "all" and self.enhancement is None:
            raise ValueError("this checkpoint has no enhancement layer; use layers='base'")
        q_base = self._rate("base", rate)
        q_enh = None
        if layers == "all":
            q_enh = self._rate("enhancement", enhancement_rate)
        elif enhancement_rate is not None:
            raise ValueError("an enhancement rate needs the enhancement layer: layers='all'")
        t = self.latent_tile(tile)
        self._check_image(x)  # before any work
        x = x.to(self.mean.device)
        header = StreamHeader(
            int(x.shape[-2]), int(x.shape[-1]), self.model_name, self.model_digest(), order
        )
        header.tile, header.notes = t, notes
        if source_size is not None and tuple(source_size) != (header.height, header.width):
            header.source_size = (int(source_size[0]), int(source_size[1]))
        header.rates = {
            k: q for k, q in (("base", q_base), ("enhancement", q_enh)) if q is not None
        }
        estimated: dict[str, float] = {}
        y_b = self.base.encode(self.base_input(x), rate=q_base)
        if estimate:
            estimated["base"] = float(self.base.estimated_bits(y_b).sum())
        latents = [("base", y_b, None)]
        if layers == "all":
            # the decoder only has the decoded ŷ_b, which equals y_b exactly
            enh = self.enhancement
            y_e = enh.encode(self.enhancement_input(x), rate=q_enh)
            side_rate = side_rate_of(enh, q_base)
            if estimate:
                side = self.base.dequantize(y_b, rate=q_base)
                estimated["enhancement"] = float(
                    enh.estimated_bits(y_e, side, side_rate=side_rate).sum()
                )
            latents.append(("enhancement", y_e, self._coder_side(y_b, q_base)))
        for key, y, side in latents:
            model = self._layer_model(key)
            shape = (*y.shape[1:], latent_crc(y))
            if t == 0:  # one string: exactly what LatentCodec.compress writes
                string = model.entropy_model.compress(y, side, order)[0]
                header.layers[key] = LayerStream(*shape, string)
            else:
                boxes = tile_grid(y.shape[-2], y.shape[-1], t)
                strings = self._code_tiles(key, y, side, boxes, order, workers)
                header.layers[key] = LayerStream(*shape, tiles=strings)
        return EncodedStream(bitstream.pack(header), header, estimated)

    def compress(
        self,
        x: Tensor,
        layers: str = "base",
        order: str = "wavefront",
        *,
        tile: int | None = None,
        workers: int = 1,
        notes: str = "",
        source_size: tuple[int, int] | None = None,
        rate: float | None = None,
        enhancement_rate: float | None = None,
    ) -> bytes:
        """Code one image (``(1, 3, H, W)`` in [0, 1]) into a ``.ttc`` stream
        (:meth:`encode_stream` without the rates)."""
        return self.encode_stream(
            x,
            layers,
            order,
            tile=tile,
            workers=workers,
            notes=notes,
            source_size=source_size,
            estimate=False,
            rate=rate,
            enhancement_rate=enhancement_rate,
        ).data

    def _coder_side(self, y_base: Tensor, base_rate: float | None) -> Tensor:
        """The enhancement coder's side information from the coded ŷ_b, as encoder and decoder
        both compute it: dequantised and scaled in float64 on the CPU (variable rate), ŷ_b
        itself for per-α layers."""
        side = self.base.dequantize(y_base, rate=base_rate, exact=True)
        enh = self.enhancement
        return enh.prepare_side(side, side_rate_of(enh, base_rate), exact=True)

    def _expected_latent(self, header: StreamHeader, layer: str, channels: int) -> tuple[int, ...]:
        return (channels, *self.latent_size(header.height, header.width, layer))

    def check_model(self, header: StreamHeader, *, trust_checkpoint: bool = False) -> None:
        """Refuse a stream another model wrote (name and digest in its header).

        ``trust_checkpoint`` skips the digest (not the name): for a stream written by ttc 0.1
        on another machine, whose digest hashed coder tables computed there. Each latent's CRC
        is still checked, which catches different entropy parameters, though not a different
        decoder behind the same entropy model: only for the checkpoint that wrote the stream.
        """
        if header.model_name != self.model_name:
            raise BitstreamError(
                f"stream was written by model {header.model_name}, but this checkpoint is "
                f"{self.model_name}: decode with the checkpoint that encoded it"
            )
        digest = header.model_digest
        # today's digest first: ttc 0.1's hashes the whole state once more, only for old streams
        if trust_checkpoint or digest == self.model_digest() or digest == self.legacy_digest():
            return
        raise BitstreamError(
            f"stream was written by model {header.model_name} [{header.model_digest.hex()}], but "
            f"this checkpoint is [{self.model_digest().hex()}]: decode with the checkpoint that "
            "encoded it (a stream of ttc 0.1 written on another machine can carry another "
            "digest for the same checkpoint: then decode with --trust-checkpoint)"
        )

    @torch.no_grad()
    def decode_latents(
        self,
        data: bytes,
        layers: str | None = None,
        *,
        workers: int = 1,
        trust_checkpoint: bool = False,
    ) -> tuple[StreamHeader, dict[str, Tensor]]:
        """Entropy-decode a ``.ttc`` stream's latents (no synthesis): header and
        ``{"base": ŷ_b[, "enhancement": ŷ_e]}``, each checked against its CRC.

        ``workers`` processes decode the tiles of a tiled stream in parallel;
        ``trust_checkpoint``: see :meth:`check_model`.
        """
        header = bitstream.unpack(data)
        self.check_model(header, trust_checkpoint=trust_checkpoint)
        want = ("base", "enhancement") if layers in (None, "all") else ("base",)
        self._check_stream_rates(header, [k for k in want if k in header.layers])
        y: dict[str, Tensor] = {}
        for key in want:
            if key not in header.layers:
                continue
            layer = header.layers[key]
            model = self._layer_model(key)
            expected = self._expected_latent(header, key, model.latent_channels)
            if (layer.channels, layer.height, layer.width) != expected:
                raise BitstreamError(
                    f"{key} latent shape {layer.channels}×{layer.height}×{layer.width} does not "
                    f"match a {header.height}×{header.width} image (expected "
                    f"{'×'.join(map(str, expected))})"
                )
            side = None
            if key == "enhancement":
                side = self._coder_side(y["base"], header.rate("base"))
            if layer.tiles is None:
                y_hat = model.entropy_model.decompress(
                    [layer.string], expected[1:], side, header.order
                )
            else:
                boxes = tile_grid(layer.height, layer.width, header.tile)
                y_hat = self._decode_tiles(key, layer, side, boxes, header.order, workers)
            if latent_crc(y_hat) != layer.latent_crc:
                raise BitstreamError(
                    f"decoded {key} latent fails its CRC: the stream is corrupt, or encoder and "
                    "decoder computed different entropy parameters"
                )
            y[key] = y_hat
        return header, y

    @torch.no_grad()
    def decompress(
        self,
        data: bytes,
        layers: str | None = None,
        *,
        workers: int = 1,
        trust_checkpoint: bool = False,
    ) -> DecodedStream:
        """Decode a ``.ttc`` stream; ``layers=None`` decodes every layer it holds.

        ``workers`` processes decode the tiles of a tiled stream in parallel;
        ``trust_checkpoint``: see :meth:`check_model`.
        """
        header, y = self.decode_latents(
            data, layers, workers=workers, trust_checkpoint=trust_checkpoint
        )
        device = self.mean.device
        size_b = self.coded_size(header.height, header.width, "base")
        pseudo, recon = self.base.decode(y["base"].to(device), size_b, rate=header.rate("base"))
        out = DecodedStream(header, y["base"], pseudo, recon.clamp(0, 1))
        if "enhancement" in y:
            size_e = self.coded_size(header.height, header.width, "enhancement")
            output = self.enhancement.synthesize(
                y["enhancement"].to(device), size_e, rate=header.rate("enhancement")
            )
            if self.spec["enhancement"].get("output", "image") == "image":
                output = output.clamp(0, 1)
            out.y_enhancement, out.enhancement_output = y["enhancement"], output
        return out
