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
from ttc_core.optim import CLIP_GROUP_KEY, PROBE_GROUP

from .optim import GroupClipMixin

__all__ = [
    "HISTORY_BUFFER_FORMAT",
    "TTCCheckpointHook",
    "history_buffers_from_data",
    "history_buffers_to_data",
    "loaded_stage",
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


def loaded_stage(checkpoint: dict) -> str | None:
    """The enhancement stage (``"conditional"``, ``"standalone"``, ``"continued"``) of the model
    that wrote ``checkpoint``, from its ``"ttc_codec"`` spec; None without an enhancement layer
    (a depth base, or a checkpoint that ttc did not write)."""
    enhancement = (checkpoint.get("ttc_codec") or {}).get("enhancement")
    if not enhancement:
        return None
    kwargs = enhancement.get("kwargs") or {}
    if kwargs.get("standalone"):
        return "standalone"
    return "continued" if kwargs.get("continued") else "conditional"


def _unwrap(runner):
    return runner.model.module if is_model_wrapper(runner.model) else runner.model


@HOOKS.register_module()
class TTCCheckpointHook(Hook):
    """Prepare every checkpoint for use outside this run.

    - stores the model's ``"ttc_codec"`` spec (:mod:`ttc_core.checkpoint`), so that
      ``ttc compress -c CHECKPOINT`` rebuilds the learned downsample and the base bottleneck
      without MMSegmentation;
    - keeps the checkpoint loadable with ``torch.load(weights_only=True)`` (by ttc-core, and by
      ``resume=True`` / ``load_from`` once ``ttc_mmseg`` is imported; see the module docstring);
    - records the training settings in force (``meta.ttc``: α, β, mode, probe weight; the
      enhancement stage) in every checkpoint;
    - refuses to train a Standalone or Continued enhancement model (``standalone=True`` /
      ``continued=True``) unless the weights loaded before training (``load_from``, or a resumed
      run of the same stage) come from a trained enhancement model of the same kind: a
      conditional one, or this stage's own checkpoint. A depth-base checkpoint, a checkpoint
      without ttc's codec spec or one of the other stage is refused;
    - refuses a Baseline whose probe shares the gradient-norm clip with the other parameters
      (``clip_grad`` set without ``TTCOptimWrapperConstructor`` / ``TTCOptimWrapper``).

    Add it with ``custom_hooks = [dict(type='TTCCheckpointHook')]`` (the shipped configs do).
    """

    priority = "LOW"

    def __init__(self):
        #: the ``"ttc_codec"`` entries of the checkpoints loaded into the model so far
        self.loaded: list[dict] = []

    def before_run(self, runner) -> None:
        # runs before load_or_resume(): make sure the numpy allowlist is in place again, in case
        # code outside ttc used torch.serialization.safe_globals, which removes on exit what it
        # listed even when registered before
        register_safe_globals()

    def before_train(self, runner) -> None:
        # runs after Runner.load_or_resume(), which loads through Runner.load_checkpoint (also
        # for resume): after_load_checkpoint below saw every checkpoint the model got, so no
        # private runner attribute is needed to know whether trained weights were loaded
        model = _unwrap(runner)
        if getattr(model, "requires_load_from", False):
            self._check_starting_weights(model)
        self._check_probe_isolation(runner, model)

    def _check_starting_weights(self, model) -> None:
        stage = model.stage
        how = (
            f"{type(model).__name__} with {stage}=True retrains the entropy model of a trained "
            "conditional enhancement model: set load_from=PATH to its checkpoint (e.g. "
            "--cfg-options load_from=work_dirs/<conditional config>/best_....pth)"
        )
        if not self.loaded:
            raise ValueError(f"{how}; no checkpoint was loaded")
        spec = self.loaded[-1]
        got = loaded_stage(dict(ttc_codec=spec))
        if got is None:
            raise ValueError(
                f"{how}; the loaded checkpoint has no enhancement layer in its 'ttc_codec' spec "
                "(a depth base, or not written by ttc)"
            )
        if got not in ("conditional", stage):
            raise ValueError(f"{how}; the loaded checkpoint is a {got} model")
        output = spec["enhancement"].get("output")
        if output != model.enhancement_output_type:
            raise ValueError(
                f"{how}; the loaded checkpoint's enhancement layer outputs {output!r}, this "
                f"model's {model.enhancement_output_type!r}"
            )

    @staticmethod
    def _check_probe_isolation(runner, model) -> None:
        probe_fn = getattr(model, "probe_parameters", None)
        wrapper = getattr(runner, "optim_wrapper", None)
        clip = getattr(wrapper, "clip_grad_kwargs", None)
        if probe_fn is None or not clip or getattr(wrapper, "grad_name", None) != "grad_norm":
            return  # no probe, no clip, or clipping by value (per element: no coupling)
        probe = {id(p) for p in probe_fn()}
        if not probe:
            return
        isolated = isinstance(wrapper, GroupClipMixin)
        for group in wrapper.optimizer.param_groups:
            ids = {id(p) for p in group["params"]}
            if group.get(CLIP_GROUP_KEY) == PROBE_GROUP:
                isolated &= ids <= probe
            else:
                isolated &= not ids & probe
        if not isolated:
            raise ValueError(
                "this Baseline clips gradient norms (optim_wrapper.clip_grad) but its probe g_a "
                "is not clipped apart from the other parameters, so the probe would scale their "
                "steps: set optim_wrapper=dict(type='TTCOptimWrapper', "
                "constructor='TTCOptimWrapperConstructor', ...)"
            )

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        model = _unwrap(runner)
        settings_fn = getattr(model, "ttc_settings", None)
        if settings_fn is not None:
            checkpoint.setdefault("meta", {})["ttc"] = settings_fn()
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
        self.loaded.append(checkpoint.get("ttc_codec") or {})
