r"""Scalable codec: real ``.ttc`` bitstreams from a trained base (+ enhancement) model.

::

    x ∈ [0,1] ─ normalise ─ [downsample_b] ─ f_b ─ ŷ_b ──rANS──┐
                         └ [downsample_e] ─ f_e ─ ŷ_e ──rANS | ŷ_b──┴─▶ .ttc file

    .ttc ─▶ ŷ_b ─▶ g_b (pseudo-image for the task network), g_a (direct reconstruction)
        └─▶ ŷ_e (given ŷ_b) ─▶ g_e (reconstruction, or pseudo-image of the assisted task)

The codec is rebuilt from any checkpoint that carries a ``"ttc_codec"`` spec
(:mod:`ttc_core.checkpoint`), without importing Detectron2 or MMSegmentation.
"""

from __future__ import annotations

import hashlib
import json
import os
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from . import bitstream
from .bitstream import BitstreamError, LayerStream, StreamHeader
from .bottleneck import STRIDE, BaseBottleneck
from .checkpoint import (
    CODEC_FORMAT,
    CheckpointError,
    find_codec_spec,
    load_checkpoint,
    state_dict_of,
    sub_state_dict,
)
from .enhancement import EnhancementBottleneck
from .layers import Downsample

__all__ = ["DecodedStream", "ScalableCodec", "latent_crc"]


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
        self.register_buffer(
            "mean", torch.tensor(inp["mean"], dtype=torch.float32).view(1, -1, 1, 1)
        )
        self.register_buffer("std", torch.tensor(inp["std"], dtype=torch.float32).view(1, -1, 1, 1))
        self.scale = float(inp["scale"])
        self.bgr = inp.get("channel_order", "RGB") == "BGR"
        self._digest: bytes | None = None

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], state: Mapping[str, Tensor]) -> ScalableCodec:
        if not isinstance(spec, Mapping) or spec.get("format") != CODEC_FORMAT:
            raise CheckpointError(
                f"unsupported codec spec (expected format {CODEC_FORMAT!r}, "
                f"got {spec.get('format') if isinstance(spec, Mapping) else spec!r})"
            )

        def build(kind, part):
            module = kind(**part["kwargs"])
            try:
                module.load_state_dict(sub_state_dict(state, part["prefix"]))
            except RuntimeError as exc:
                raise CheckpointError(
                    f"weights under {part['prefix']!r} do not fit: {exc}"
                ) from exc
            return module.eval()

        base = build(BaseBottleneck, spec["base"])
        base_down = (
            build(Downsample, spec["base_downsample"]) if spec.get("base_downsample") else None
        )
        enh = enh_down = None
        if spec.get("enhancement"):
            enh = build(EnhancementBottleneck, spec["enhancement"])
            if spec["enhancement"].get("downsample"):
                enh_down = build(Downsample, spec["enhancement"]["downsample"])
        return cls(spec, base, base_down, enh, enh_down).eval()

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

    def save(self, path: str | os.PathLike) -> None:
        """Write a standalone codec checkpoint (loadable with :meth:`from_checkpoint`)."""
        prefixes = {"base": self.base, "base_downsample": self.base_downsample}
        state: dict[str, Tensor] = {}
        spec = json.loads(json.dumps(self.spec))
        for key, module in prefixes.items():
            if module is not None:
                spec[key]["prefix"] = f"{key}."
                state.update({f"{key}.{k}": v for k, v in module.state_dict().items()})
        if self.enhancement is not None:
            spec["enhancement"]["prefix"] = "enhancement."
            state.update({f"enhancement.{k}": v for k, v in self.enhancement.state_dict().items()})
            if self.enhancement_downsample is not None:
                spec["enhancement"]["downsample"]["prefix"] = "enhancement_downsample."
                state.update(
                    {
                        f"enhancement_downsample.{k}": v
                        for k, v in self.enhancement_downsample.state_dict().items()
                    }
                )
        torch.save({"ttc_codec": spec, "state_dict": state}, os.fspath(path))

    # -- identity ---------------------------------------------------------------------------
    @property
    def model_name(self) -> str:
        b = self.spec["base"]["kwargs"]
        name = f"ttc-base-M{b.get('latent_channels', 192)}"
        if self.enhancement is not None:
            name += f"+enh-{self.spec['enhancement'].get('output', 'image')}"
        return name

    def model_digest(self) -> bytes:
        """16-byte hash of the architecture spec and every weight (not only the codec's)."""
        if self._digest is None:
            h = hashlib.sha256(json.dumps(self.spec, sort_keys=True, default=str).encode())
            for key, value in sorted(self.state_dict().items()):
                h.update(key.encode())
                h.update(value.detach().cpu().contiguous().numpy().tobytes())
            self._digest = h.digest()[: bitstream.DIGEST_BYTES]
        return self._digest

    def update(self, force: bool = True) -> None:
        """Build the coders' CDF tables (CompressAI's ``update()``)."""
        self.base.update(force=force)
        if self.enhancement is not None:
            self.enhancement.update(force=force)
        self._digest = None

    # -- pre-processing ---------------------------------------------------------------------
    def _check_image(self, x: Tensor) -> None:
        if x.dim() != 4 or x.shape[0] != 1 or x.shape[1] != 3:
            raise ValueError(
                f"expected one RGB image as a (1, 3, H, W) tensor, got {tuple(x.shape)}"
            )

    def normalise(self, x: Tensor) -> Tensor:
        if self.bgr:
            x = x.flip(1)
        return (x * self.scale - self.mean) / self.std

    def base_input(self, x: Tensor) -> Tensor:
        x = self.normalise(x)
        return self.base_downsample(x) if self.base_downsample is not None else x

    def enhancement_input(self, x: Tensor) -> Tensor:
        x = self.normalise(x)
        return self.enhancement_downsample(x) if self.enhancement_downsample is not None else x

    @property
    def resize_shortest_edge(self) -> tuple[int, int] | None:
        """The task's test-time resize ``(short, max)`` recorded in the spec, if any."""
        value = self.spec["input"].get("resize_shortest_edge")
        return None if value is None else (int(value[0]), int(value[1]))

    def coded_size(self, height: int, width: int, layer: str = "base") -> tuple[int, int]:
        """Size of the tensor fed to a layer's analysis transform for an H×W image."""
        down = self.base_downsample if layer == "base" else self.enhancement_downsample
        f = down.factor if down is not None else 1
        return height // f, width // f

    # -- coding -----------------------------------------------------------------------------
    @torch.no_grad()
    def compress(self, x: Tensor, layers: str = "base", order: str = "wavefront") -> bytes:
        """Code one image (``(1, 3, H, W)`` in [0, 1]) into a ``.ttc`` stream."""
        self._check_image(x)
        if layers not in ("base", "all"):
            raise ValueError(f"layers must be 'base' or 'all', got {layers!r}")
        if layers == "all" and self.enhancement is None:
            raise ValueError("this checkpoint has no enhancement layer; use layers='base'")
        x = x.to(self.mean.device)
        header = StreamHeader(
            int(x.shape[-2]), int(x.shape[-1]), self.model_name, self.model_digest(), order
        )
        strings, y_b = self.base.compress(self.base_input(x), order=order)
        header.layers["base"] = LayerStream(*y_b.shape[1:], latent_crc(y_b), strings[0])
        if layers == "all":
            # the decoder only has the decoded ŷ_b, which equals y_b exactly
            strings, y_e = self.enhancement.compress(self.enhancement_input(x), y_b, order=order)
            header.layers["enhancement"] = LayerStream(*y_e.shape[1:], latent_crc(y_e), strings[0])
        return bitstream.pack(header)

    def _expected_latent(self, header: StreamHeader, layer: str, channels: int) -> tuple[int, ...]:
        h, w = self.coded_size(header.height, header.width, layer)
        return channels, _ceil_div(h, STRIDE), _ceil_div(w, STRIDE)

    @torch.no_grad()
    def decompress(self, data: bytes, layers: str | None = None) -> DecodedStream:
        """Decode a ``.ttc`` stream; ``layers=None`` decodes every layer it holds."""
        header = bitstream.unpack(data)
        if header.model_name != self.model_name or header.model_digest != self.model_digest():
            raise BitstreamError(
                f"stream was written by model {header.model_name} "
                f"[{header.model_digest.hex()}], but this checkpoint is {self.model_name} "
                f"[{self.model_digest().hex()}]: decode with the checkpoint that encoded it"
            )
        want = ("base", "enhancement") if layers in (None, "all") else ("base",)
        y = {}
        for key in want:
            if key not in header.layers:
                continue
            layer = header.layers[key]
            model = self.base if key == "base" else self.enhancement
            expected = self._expected_latent(header, key, model.latent_channels)
            if (layer.channels, layer.height, layer.width) != expected:
                raise BitstreamError(
                    f"{key} latent shape {layer.channels}×{layer.height}×{layer.width} does not "
                    f"match a {header.height}×{header.width} image (expected "
                    f"{'×'.join(map(str, expected))})"
                )
            side = y.get("base") if key == "enhancement" else None
            y_hat = model.decompress([layer.string], expected[1:], side, order=header.order)
            if latent_crc(y_hat) != layer.latent_crc:
                raise BitstreamError(
                    f"decoded {key} latent fails its CRC: the stream is corrupt, or encoder and "
                    "decoder computed different entropy parameters"
                )
            y[key] = y_hat
        device = self.mean.device
        size_b = self.coded_size(header.height, header.width, "base")
        pseudo, recon = self.base.decode(y["base"].to(device), size_b)
        out = DecodedStream(header, y["base"], pseudo, recon.clamp(0, 1))
        if "enhancement" in y:
            size_e = self.coded_size(header.height, header.width, "enhancement")
            output = self.enhancement.synthesize(y["enhancement"].to(device), size_e)
            if self.spec["enhancement"].get("output", "image") == "image":
                output = output.clamp(0, 1)
            out.y_enhancement, out.enhancement_output = y["enhancement"], output
        return out
