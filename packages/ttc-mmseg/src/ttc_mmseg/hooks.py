"""Checkpoint hook: the framework-free codec spec, and checkpoints that load with weights_only.

torch >= 2.6 loads with ``weights_only=True``. MMEngine checkpoints pickle numpy data (allowed
by ``import ttc_mmseg``, and by ttc-core's own loader) and the message hub's ``HistoryBuffer``
objects, whose pickled state includes their class's statistics *functions*
(``getattr(HistoryBuffer, 'min')``, ...): allowing ``getattr`` in the safe unpickler would
defeat its purpose, and ttc-core (which must not import MMEngine) could not allow the class
anyway. So the hook stores each buffer as plain data (a dict of numpy arrays and an int) and
turns it back into a ``HistoryBuffer`` when a run loads the checkpoint, before the runner
restores its message hub.
"""

from __future__ import annotations

import numpy as np
from mmengine.hooks import Hook
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS

from ttc_core.checkpoint import register_safe_globals

__all__ = [
    "HISTORY_BUFFER_FORMAT",
    "TTCCheckpointHook",
    "history_buffers_from_data",
    "history_buffers_to_data",
]

#: marker of a HistoryBuffer stored as plain data
HISTORY_BUFFER_FORMAT = "ttc-history-buffer/1"


def history_buffers_to_data(checkpoint: dict) -> int:
    """Replace the message hub's ``HistoryBuffer`` objects by plain data; returns how many."""
    scalars = (checkpoint.get("message_hub") or {}).get("log_scalars")
    count = 0
    for key, value in list((scalars or {}).items()):
        if isinstance(value, HistoryBuffer):
            log, counts = value.data
            scalars[key] = {
                "format": HISTORY_BUFFER_FORMAT,
                "log_history": np.asarray(log),
                "count_history": np.asarray(counts),
                "max_length": int(value.max_length),
            }
            count += 1
    return count


def history_buffers_from_data(checkpoint: dict) -> int:
    """Inverse of :func:`history_buffers_to_data` (in place); returns how many."""
    scalars = (checkpoint.get("message_hub") or {}).get("log_scalars")
    count = 0
    for key, value in list((scalars or {}).items()):
        if isinstance(value, dict) and value.get("format") == HISTORY_BUFFER_FORMAT:
            scalars[key] = HistoryBuffer(
                list(value["log_history"]), list(value["count_history"]), value["max_length"]
            )
            count += 1
    return count


@HOOKS.register_module()
class TTCCheckpointHook(Hook):
    """Prepare every checkpoint for use outside this run.

    - stores the model's ``"ttc_codec"`` spec (:mod:`ttc_core.checkpoint`), so that
      ``ttc compress -c CHECKPOINT`` rebuilds the learned downsample and the base bottleneck
      without MMSegmentation;
    - keeps the checkpoint loadable with ``torch.load(weights_only=True)`` (by ttc-core, and by
      ``resume=True`` / ``load_from`` once ``ttc_mmseg`` is imported; see the module docstring);
    - refuses to train a Standalone enhancement model (``standalone=True``) that did not start
      from a trained conditional model (``load_from``) or a resumed run.

    Add it with ``custom_hooks = [dict(type='TTCCheckpointHook')]`` (the shipped configs do).
    """

    priority = "LOW"

    def before_run(self, runner) -> None:
        # runs before load_or_resume(): make sure the numpy allowlist is in place again, in case
        # code outside ttc used torch.serialization.safe_globals, which removes on exit what it
        # listed even when registered before
        register_safe_globals()

    def before_train(self, runner) -> None:
        # runs after load_or_resume(): a Standalone model must start from trained weights
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if getattr(model, "requires_load_from", False) and not getattr(runner, "_has_loaded", True):
            raise ValueError(
                f"{type(model).__name__} with standalone=True retrains the entropy model of a "
                "trained conditional enhancement model: set load_from=PATH (e.g. "
                "--cfg-options load_from=work_dirs/<conditional config>/best_....pth)"
            )

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        spec_fn = getattr(model, "codec_spec", None)
        if spec_fn is None:
            runner.logger.warning(
                f"TTCCheckpointHook: {type(model).__name__} has no codec_spec(); the checkpoint "
                "gets no 'ttc_codec' entry"
            )
        else:
            checkpoint["ttc_codec"] = spec_fn()
        history_buffers_to_data(checkpoint)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # the runner restores its message hub after this hook
        history_buffers_from_data(checkpoint)
