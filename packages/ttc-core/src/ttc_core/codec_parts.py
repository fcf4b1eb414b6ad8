r"""A codec's parts: built from a ``"ttc_codec"`` spec, saved as a standalone checkpoint, hashed.

::

    spec + state dict ─ build_parts ─▶ CodecParts(base, base_downsample,
                                                  enhancement, enhancement_downsample)
    CodecParts + spec ─ save_parts ──▶ {"ttc_codec": spec, "state_dict": ...}  (.pth)
    spec + state dict ─ model_digest ─▶ 16 B     (stored in every .ttc it writes)
    spec ───────────── model_name ───▶ "ttc-base-M192+enh-image"

:class:`~ttc_core.codec.ScalableCodec` composes these with the input normalisation and does
the coding; this module knows nothing of bitstreams. The spec format is documented in
:mod:`ttc_core.checkpoint`.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from .bitstream import DIGEST_BYTES
from .bottleneck import BaseBottleneck
from .checkpoint import CODEC_FORMAT, CheckpointError, sub_state_dict
from .enhancement import EnhancementBottleneck
from .layers import Downsample

__all__ = ["CodecParts", "build_parts", "model_digest", "model_name", "save_parts"]


@dataclass
class CodecParts:
    """The modules of a scalable codec (``None`` where the spec has no such part)."""

    base: BaseBottleneck
    base_downsample: Downsample | None = None
    enhancement: EnhancementBottleneck | None = None
    enhancement_downsample: Downsample | None = None


def _build(kind: type[nn.Module], part: Mapping[str, Any], state: Mapping[str, Tensor]):
    module = kind(**part["kwargs"])
    try:
        module.load_state_dict(sub_state_dict(state, part["prefix"]))
    except RuntimeError as exc:
        raise CheckpointError(f"weights under {part['prefix']!r} do not fit: {exc}") from exc
    return module.eval()


def build_parts(spec: Mapping[str, Any], state: Mapping[str, Tensor]) -> CodecParts:
    """Rebuild every module a spec names from the weights under its prefixes."""
    if not isinstance(spec, Mapping) or spec.get("format") != CODEC_FORMAT:
        raise CheckpointError(
            f"unsupported codec spec (expected format {CODEC_FORMAT!r}, "
            f"got {spec.get('format') if isinstance(spec, Mapping) else spec!r})"
        )
    parts = CodecParts(_build(BaseBottleneck, spec["base"], state))
    if spec.get("base_downsample"):
        parts.base_downsample = _build(Downsample, spec["base_downsample"], state)
    enh = spec.get("enhancement")
    if enh:
        parts.enhancement = _build(EnhancementBottleneck, enh, state)
        if enh.get("downsample"):
            parts.enhancement_downsample = _build(Downsample, enh["downsample"], state)
    return parts


def save_parts(spec: Mapping[str, Any], parts: CodecParts, path: str | os.PathLike) -> None:
    """Write a standalone codec checkpoint: the spec with its prefixes rewritten to the
    parts' names, and their weights (loadable with ``ScalableCodec.from_checkpoint``)."""
    spec = json.loads(json.dumps(spec))
    state: dict[str, Tensor] = {}

    def add(module: nn.Module | None, prefix: str, entry: dict | None) -> None:
        if module is None:
            return
        entry["prefix"] = prefix
        state.update({f"{prefix}{k}": v for k, v in module.state_dict().items()})

    add(parts.base, "base.", spec["base"])
    add(parts.base_downsample, "base_downsample.", spec.get("base_downsample"))
    if parts.enhancement is not None:
        add(parts.enhancement, "enhancement.", spec["enhancement"])
        add(
            parts.enhancement_downsample,
            "enhancement_downsample.",
            spec["enhancement"].get("downsample"),
        )
    torch.save({"ttc_codec": spec, "state_dict": state}, os.fspath(path))


def model_name(spec: Mapping[str, Any]) -> str:
    """The architecture name a ``.ttc`` header carries."""
    b = spec["base"]["kwargs"]
    name = f"ttc-base-M{b.get('latent_channels', 192)}"
    if b.get("num_rates"):  # variable rate (ttc_core.variable_rate); per-α names unchanged
        name += f"-vr{int(b['num_rates'])}"
    if int(b.get("downsampling", 16)) != 16:  # the paper's /16 names unchanged
        name += f"-s{int(b['downsampling'])}"
    if spec.get("enhancement"):
        e = spec["enhancement"]
        name += f"+enh-{e.get('output', 'image')}"
        if e["kwargs"].get("num_rates"):
            name += f"-vr{int(e['kwargs']['num_rates'])}"
    return name


#: CompressAI's coder tables, which ``update()`` derives from the stored scale table with float
#: arithmetic: another CPU (another vector width of ``erfc``) may round a few entries otherwise
DERIVED_TABLES = ("._quantized_cdf", "._cdf_length", "._offset")


def model_digest(
    spec: Mapping[str, Any], state: Mapping[str, Tensor], *, derived_tables: bool = False
) -> bytes:
    """16-byte SHA-256 of the spec (sorted JSON) and the entries of ``state``, sorted by key.

    ``state`` is the codec's state dict: normalisation buffers, weights, entropy-model
    parameters and scale tables, so a stream can only be decoded by the exact model that wrote
    it. The coder tables derived from them (:data:`DERIVED_TABLES`) are left out, so the same
    checkpoint has the same digest on every machine; whether they agree where it matters is
    what each latent's CRC checks. ``derived_tables=True`` includes them: the digest ttc 0.1
    wrote (:meth:`ScalableCodec.decode_latents` accepts both).
    """
    h = hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode())
    for key, value in sorted(state.items()):
        if not derived_tables and key.endswith(DERIVED_TABLES):
            continue
        h.update(key.encode())
        h.update(value.detach().cpu().contiguous().numpy().tobytes())
    return h.digest()[:DIGEST_BYTES]
