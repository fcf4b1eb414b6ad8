"""Reading ttc models out of training checkpoints, safely.

Training frameworks save different layouts (Detectron2: ``{"model": state_dict, ...}``;
MMEngine: ``{"state_dict": ..., "meta": ...}``). Each adapter stores a small, framework-free
**codec spec** in the checkpoint under the key ``"ttc_codec"``: which sub-modules of its model
form the codec (by state-dict prefix), their constructor arguments and the input
normalisation. ttc-core rebuilds the codec from it without importing any framework.

Spec (``format: "ttc-codec/1"``)::

    {"format": "ttc-codec/1",
     "input": {"mean": [..3], "std": [..3], "scale": 255.0,  # model input = (x·scale − mean)/std
               "channel_order": "RGB" | "BGR",                  # for x in [0, 1]
               "resize_shortest_edge": None | [short, max]},    # the task's test-time resize
     "base": {"kwargs": {...BaseBottleneck args}, "prefix": "backbone.bottleneck.",
              "alphas": [...]},                # variable rate only: α of each rate index
     "base_downsample": None | {"kwargs": {...Downsample args}, "prefix": "..."},
     "enhancement": None | {"kwargs": {...EnhancementBottleneck args}, "prefix": "...",
                            "downsample": None | {"kwargs": ..., "prefix": ...},
                            "output": "image" | "pseudo_image",
                            "alphas": [...]}}      # variable rate only

Where the spec lives in a checkpoint (:func:`find_codec_spec`, first match): the top-level key
``"ttc_codec"``; MMEngine's ``meta["ttc_codec"]``; or a module's ``_extra_state`` entry in the
state dict holding the spec as UTF-8 JSON bytes (:func:`spec_to_tensor`), which any
checkpointer saves with the weights, e.g. Detectron2's stock lazy trainer.

Checkpoints are loaded with ``torch.load(weights_only=True)``. Framework checkpoints can hold
numpy scalars/arrays in their metadata, which the safe unpickler refuses;
:func:`register_safe_globals` allows exactly those numpy data types (never arbitrary code) for
the process, and :func:`load_checkpoint` calls it. It registers permanently on purpose: the
``torch.serialization.safe_globals`` context manager removes on exit what it listed, which
would undo the same registration made by an adapter for the frameworks' own loaders.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import torch

__all__ = [
    "CODEC_FORMAT",
    "CheckpointError",
    "find_codec_spec",
    "load_checkpoint",
    "make_codec_spec",
    "register_safe_globals",
    "safe_numpy_globals",
    "spec_from_tensor",
    "spec_to_tensor",
    "state_dict_of",
    "sub_state_dict",
    "to_plain",
]

CODEC_FORMAT = "ttc-codec/1"


class CheckpointError(ValueError):
    """A checkpoint is missing, unreadable, or holds no ttc codec."""


def safe_numpy_globals() -> list:
    """numpy objects that framework checkpoints pickle in their metadata (data only)."""
    import numpy as np

    names = []
    try:
        from numpy.core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy >= 2
        from numpy._core.multiarray import _reconstruct, scalar  # type: ignore
    names += [_reconstruct, scalar, np.ndarray, np.dtype]
    names += [type(np.dtype(t)) for t in ("f4", "f8", "i4", "i8", "u1", "b1", "i2", "u2", "f2")]
    return names


def register_safe_globals() -> None:
    """Allow the numpy data types of :func:`safe_numpy_globals` in ``weights_only`` loads."""
    torch.serialization.add_safe_globals(safe_numpy_globals())


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """``torch.load`` with ``weights_only=True`` plus numpy metadata types; CPU tensors."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint not found: {path}")
    register_safe_globals()
    try:
        with open(path, "rb") as f:
            obj = torch.load(f, map_location="cpu", weights_only=True)
    except Exception as exc:  # unpickling errors come in many types
        raise CheckpointError(f"cannot read checkpoint {path}: {exc}") from exc
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{path} holds a {type(obj).__name__}, not a checkpoint dict")
    return dict(obj)


def state_dict_of(checkpoint: Mapping[str, Any]) -> Mapping[str, torch.Tensor]:
    """The model state dict inside a Detectron2, MMEngine or ttc checkpoint."""
    for key in ("state_dict", "model"):
        if isinstance(checkpoint.get(key), Mapping):
            return checkpoint[key]
    if all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        return checkpoint
    raise CheckpointError(
        "no state dict found (expected a 'state_dict' or 'model' entry); "
        f"top-level keys: {sorted(checkpoint)[:10]}"
    )


def sub_state_dict(state: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """Entries under ``prefix`` with the prefix removed (also strips a DDP ``module.``)."""
    out = {}
    for key, value in state.items():
        if key.startswith("module."):
            key = key[len("module.") :]
        if key.startswith(prefix):
            out[key[len(prefix) :]] = value
    if not out:
        raise CheckpointError(f"the checkpoint has no parameters under prefix {prefix!r}")
    return out


def _module_spec(kwargs: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    return {"kwargs": to_plain(kwargs), "prefix": str(prefix)}


def to_plain(obj: Any, drop_keys: Collection[str] = ()) -> Any:
    """Plain dicts / lists / numbers of any config-like value: safe to unpickle, JSON-able.

    Mappings (``dict``, OmegaConf's ``DictConfig``, MMEngine's ``ConfigDict``) become dicts
    with string keys, without the keys in ``drop_keys`` (at any depth: e.g. weight paths that
    must not travel in a spec); sequences (``tuple``, ``ListConfig``) become lists; numpy /
    torch scalars become numbers. Every adapter writes its specs through this function.
    """
    if isinstance(obj, Mapping):
        return {str(k): to_plain(v, drop_keys) for k, v in obj.items() if k not in drop_keys}
    if isinstance(obj, (str, bytes, int, float, bool)) or obj is None:
        return obj
    if hasattr(obj, "item") and callable(obj.item) and getattr(obj, "ndim", 0) == 0:
        return obj.item()
    if isinstance(obj, Iterable):
        return [to_plain(v, drop_keys) for v in obj]
    return obj


def make_codec_spec(
    base_kwargs: Mapping[str, Any],
    base_prefix: str,
    mean: list[float] | tuple[float, ...] = (0.0, 0.0, 0.0),
    std: list[float] | tuple[float, ...] = (1.0, 1.0, 1.0),
    scale: float = 1.0,
    channel_order: str = "RGB",
    resize_shortest_edge: tuple[int, int] | None = None,
    base_downsample: tuple[Mapping[str, Any], str] | None = None,
    enhancement: Mapping[str, Any] | None = None,
    base_alphas: Sequence[float] | None = None,
) -> dict[str, Any]:
    """Build the ``"ttc_codec"`` entry an adapter stores in its checkpoints.

    Args:
        base_kwargs: constructor arguments of the :class:`~ttc_core.bottleneck.BaseBottleneck`.
        base_prefix: its state-dict prefix in the framework model, e.g. ``"backbone.bottleneck."``.
        mean, std, scale: the model input is ``(x·scale − mean) / std`` for ``x`` in [0, 1].
        channel_order: ``"RGB"`` or ``"BGR"`` (Detectron2's default input format).
        resize_shortest_edge: ``(short, max)`` when the task resizes images before coding
            (Detectron2's test-time ``ResizeShortestEdge``), so ``ttc compress`` codes the same
            size the model was evaluated at.
        base_downsample: ``(Downsample kwargs, prefix)`` when a learned downsample precedes ``f``.
        enhancement: ``{"kwargs", "prefix", "downsample": (kwargs, prefix) | None, "output",
            "task_decoder": None | "module:function"}``; the task decoder is called as
            ``fn(checkpoint_path, decoded_stream) -> numpy array`` (an image or label map).
            A variable-rate enhancement adds ``"alphas"``: its rate weights, index i ↔ α_i.
        base_alphas: the rate weights of a variable-rate base (``num_rates`` in its kwargs),
            recorded so that tools can label each rate position with the α it was trained for.
    """
    if channel_order not in ("RGB", "BGR"):
        raise ValueError(f"channel_order must be 'RGB' or 'BGR', got {channel_order!r}")
    spec: dict[str, Any] = {
        "format": CODEC_FORMAT,
        "input": {
            "mean": to_plain(mean),
            "std": to_plain(std),
            "scale": float(scale),
            "channel_order": channel_order,
            "resize_shortest_edge": None
            if resize_shortest_edge is None
            else [int(v) for v in resize_shortest_edge],
        },
        "base": _with_alphas(_module_spec(base_kwargs, base_prefix), base_alphas),
        "base_downsample": None if base_downsample is None else _module_spec(*base_downsample),
        "enhancement": None,
    }
    if enhancement is not None:
        down = enhancement.get("downsample")
        output = enhancement.get("output", "image")
        task_decoder = enhancement.get("task_decoder")
        if output not in ("image", "pseudo_image"):
            raise ValueError(
                f"enhancement output must be 'image' or 'pseudo_image', got {output!r}"
            )
        spec["enhancement"] = {
            **_module_spec(enhancement["kwargs"], enhancement["prefix"]),
            "downsample": None if down is None else _module_spec(*down),
            "output": output,
            # "module:function" turning a decoded pseudo-image into the task's output (e.g. a
            # segmentation map); imported only by `ttc decompress`, so ttc-core stays
            # framework-free
            "task_decoder": task_decoder,
        }
        _with_alphas(spec["enhancement"], enhancement.get("alphas"))
    return spec


def _with_alphas(entry: dict[str, Any], alphas: Sequence[float] | None) -> dict[str, Any]:
    # only variable-rate layers carry the key: per-α specs (and their digests) are unchanged
    if alphas is not None:
        entry["alphas"] = [float(a) for a in alphas]
    return entry


def spec_to_tensor(spec: Mapping[str, Any]) -> torch.Tensor:
    """A codec spec as a uint8 tensor of UTF-8 JSON (for a module's ``get_extra_state``)."""
    data = json.dumps(spec, sort_keys=True).encode()
    return torch.frombuffer(bytearray(data), dtype=torch.uint8).clone()


def spec_from_tensor(value: Any) -> dict[str, Any] | None:
    """Inverse of :func:`spec_to_tensor`; None when ``value`` holds no codec spec."""
    if not isinstance(value, torch.Tensor) or value.dtype != torch.uint8 or value.dim() != 1:
        return None
    try:
        spec = json.loads(value.cpu().numpy().tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if isinstance(spec, dict) and str(spec.get("format", "")).startswith("ttc-codec/"):
        return spec
    return None


def find_codec_spec(checkpoint: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ``ttc_codec`` spec of a checkpoint (see the module docstring), or None."""
    if isinstance(checkpoint.get("ttc_codec"), Mapping):
        return dict(checkpoint["ttc_codec"])
    meta = checkpoint.get("meta")
    if isinstance(meta, Mapping) and isinstance(meta.get("ttc_codec"), Mapping):
        return dict(meta["ttc_codec"])
    try:
        state = state_dict_of(checkpoint)
    except CheckpointError:
        return None
    for key, value in state.items():
        if key.endswith("_extra_state"):
            spec = spec_from_tensor(value)
            if spec is not None:
                return spec
    return None
