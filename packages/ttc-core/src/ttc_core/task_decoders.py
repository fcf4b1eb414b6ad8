"""Task decoders by registered name: checkpoint data never chooses code to import.

A scalable checkpoint whose enhancement layer feeds a task network (e.g. the segmentation
enhancement) names a *task decoder*: the function that turns a decoded stream into the task's
output (a label map), used by ``ttc decompress --task-output``. The checkpoint holds a **name**;
plugins register the functions under the Python entry-point group :data:`GROUP` in their
``pyproject.toml``::

    [project.entry-points."ttc.task_decoders"]
    segmentation = "ttc_mmseg.decode:segmentation_map"

Only a registered name is loaded, and only then is its module imported. An unknown name is
refused with the installed ones listed, before anything is imported. Checkpoints written before
names existed stored ``"module:function"`` strings; the known ones map to their names
(:data:`LEGACY`), any other string is refused like an unknown name.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from typing import Any

__all__ = ["GROUP", "LEGACY", "TaskDecoderError", "available", "load", "registered_name"]

GROUP = "ttc.task_decoders"
#: ``"module:function"`` strings of older checkpoints → the name the same function has now
LEGACY = {"ttc_mmseg.decode:segmentation_map": "segmentation"}


class TaskDecoderError(ValueError):
    """A checkpoint names a task decoder that no installed plugin registers."""


def available() -> dict[str, EntryPoint]:
    """Registered task decoders by name (reading the metadata imports nothing)."""
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def registered_name(name: str) -> str:
    """The registered name for what a checkpoint stores (legacy strings are translated)."""
    return LEGACY.get(name, name)


def load(name: str) -> Callable[..., Any]:
    """The task decoder registered as ``name`` (or a legacy string's), imported only now."""
    decoders = available()
    key = registered_name(name)
    if key not in decoders:
        installed = ", ".join(sorted(decoders)) or "none"
        raise TaskDecoderError(
            f"the checkpoint names task decoder {name!r}, which no installed plugin registers "
            f"(installed: {installed}); install the plugin that trained it (e.g. ttc-mmseg)"
        )
    return decoders[key].load()
