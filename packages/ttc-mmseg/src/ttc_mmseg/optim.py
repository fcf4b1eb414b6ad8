"""Optimiser wrappers that keep the Baseline's probe ``g_a`` out of everyone else's step.

In the Baseline (METHOD §2, §8) ``g_a`` learns from a *detached* ŷ_b: a probe that reports the
direct-reconstruction quality and must influence nothing else in training. Adam's state is per
parameter and the probe's loss reaches only the probe, so the one coupling left is a
**global** gradient-norm clip (``optim_wrapper.clip_grad=dict(max_norm=...)``): MMEngine's
``OptimWrapper`` clips all parameters by one norm, to which the probe's gradient contributes.

- :class:`TTCOptimWrapperConstructor` (``optim_wrapper.constructor``) builds the optimiser as
  MMEngine's default constructor does (``paramwise_cfg`` included), then splits every param
  group into its probe and non-probe halves, tagged with ``ttc_core.optim.CLIP_GROUP_KEY``.
  Only a model in Baseline mode has a probe (``model.probe_parameters()``); otherwise every
  group is tagged ``"model"`` and nothing changes.
- :class:`TTCOptimWrapper` / :class:`TTCAmpOptimWrapper` (``optim_wrapper.type``) clip each
  tagged group by its own norm (``ttc_core.optim.clip_grad_norm_by_group``). Untagged groups
  are one group: the same result as MMEngine's wrappers. ``train/grad_norm`` is the norm of the
  non-probe parameters, ``train/grad_norm_probe`` the probe's.

With both, a Baseline trained with a probe weight of 1 and one trained with 0 leave every
non-probe parameter bit-identical (``tests/mmseg/test_mmseg_optim.py``). With AMP the dynamic
loss scale is still shared: a probe gradient that overflows skips the step of every parameter
(MMEngine's ``GradScaler`` is one per optimiser); train a Baseline in fp32 for exact isolation.
"""

from __future__ import annotations

import torch
from mmengine.logging import print_log
from mmengine.optim import AmpOptimWrapper, DefaultOptimWrapperConstructor, OptimWrapper
from mmseg.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS

from ttc_core.optim import CLIP_GROUP_KEY, PROBE_GROUP, clip_grad_norm_by_group, tag_probe_groups

__all__ = ["GroupClipMixin", "TTCAmpOptimWrapper", "TTCOptimWrapper", "TTCOptimWrapperConstructor"]

#: the ``clip_grad`` arguments a group-wise norm clip understands (besides ``type='norm'``)
NORM_CLIP_KEYS = {"max_norm", "norm_type"}


class GroupClipMixin:
    """``_clip_grad`` of an MMEngine ``OptimWrapper``, one norm per clip group."""

    def __init__(self, *args, clip_grad: dict | None = None, **kwargs):
        super().__init__(*args, clip_grad=clip_grad, **kwargs)
        self._check_clip_arguments()

    def _check_clip_arguments(self) -> None:
        if self.clip_grad_kwargs and self.grad_name == "grad_norm":
            unknown = set(self.clip_grad_kwargs) - NORM_CLIP_KEYS
            if unknown:
                raise ValueError(
                    f"{type(self).__name__} clips by group with max_norm and norm_type only; "
                    f"clip_grad also has {sorted(unknown)}"
                )

    # MMEngine's private hook: ``OptimWrapper.step`` calls ``_clip_grad`` when ``clip_grad`` is
    # set, and there is no public way to change how it clips (``clip_func`` is one function of
    # all parameters). test_mmseg_optim.py::test_mmengine_still_clips_through_its_private_hook
    # fails if MMEngine stops calling it.
    def _clip_grad(self) -> None:
        if self.grad_name != "grad_norm":
            # clipping by value is per element: nothing couples the probe to the rest
            return super()._clip_grad()
        groups = [
            {**g, "params": [p for p in g["params"] if p.requires_grad]}
            for g in self.optimizer.param_groups
        ]
        norms = clip_grad_norm_by_group(groups, **self.clip_grad_kwargs)
        for name, norm in norms.items():
            suffix = "" if name != PROBE_GROUP else "_probe"
            self.message_hub.update_scalar(f"train/grad_norm{suffix}", float(norm))


@OPTIM_WRAPPERS.register_module()
class TTCOptimWrapper(GroupClipMixin, OptimWrapper):
    """MMEngine's ``OptimWrapper`` with a gradient-norm clip per clip group (see module doc)."""


@OPTIM_WRAPPERS.register_module()
class TTCAmpOptimWrapper(GroupClipMixin, AmpOptimWrapper):
    """MMEngine's ``AmpOptimWrapper`` with a gradient-norm clip per clip group (the gradients
    are unscaled before clipping, as in MMEngine's). The loss scale stays shared.

    Also on CPUs, in bfloat16 (``dtype='bfloat16'``): MMEngine's wrapper asserts an
    accelerator, but CPU autocast needs none, and bfloat16 needs no loss scaling (a disabled
    scaler). float16 on a CPU is refused. The ttc codec's rate is float32 under any autocast
    (``ttc_core.entropy``).
    """

    def __init__(self, loss_scale="dynamic", dtype=None, use_fsdp: bool = False, **kwargs):
        if _has_accelerator():
            super().__init__(loss_scale=loss_scale, dtype=dtype, use_fsdp=use_fsdp, **kwargs)
            return
        cast = getattr(torch, dtype) if isinstance(dtype, str) else dtype
        if cast is not torch.bfloat16:
            raise ValueError(
                f"{type(self).__name__} on a machine without a GPU trains in bfloat16 only "
                f"(CPU autocast), got dtype={dtype!r}: set optim_wrapper.dtype='bfloat16'"
            )
        # AmpOptimWrapper.__init__ would assert a GPU: OptimWrapper's, then what it sets up
        super(AmpOptimWrapper, self).__init__(**kwargs)
        self._check_clip_arguments()
        self._scale_update_param = None
        self.loss_scaler = torch.amp.GradScaler("cpu", enabled=False)
        self.cast_dtype = cast


def _has_accelerator() -> bool:
    from mmengine.device import (
        is_cuda_available,
        is_mlu_available,
        is_musa_available,
        is_npu_available,
    )

    return any(
        f() for f in (is_cuda_available, is_npu_available, is_mlu_available, is_musa_available)
    )


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class TTCOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """MMEngine's default constructor, then the Baseline's probe in param groups of its own.

    The optimiser is built by :class:`~mmengine.optim.DefaultOptimWrapperConstructor` (all its
    options apply); its groups are then split before any step, while the optimiser has no
    state. A Baseline with ``clip_grad`` needs a wrapper that clips by group
    (:class:`TTCOptimWrapper`, :class:`TTCAmpOptimWrapper`): others are refused, because their
    global clip would let the probe scale every other parameter's step.
    """

    def __call__(self, model: torch.nn.Module) -> OptimWrapper:
        wrapper = super().__call__(model)
        module = model.module if hasattr(model, "module") else model
        probe_fn = getattr(module, "probe_parameters", None)
        probe = list(probe_fn()) if probe_fn is not None else []
        optimizer = wrapper.optimizer
        if optimizer.state:
            raise RuntimeError("the optimiser has state already: its groups cannot be split")
        optimizer.param_groups[:] = tag_probe_groups(optimizer.param_groups, probe)
        if probe:
            if wrapper.clip_grad_kwargs and not isinstance(wrapper, GroupClipMixin):
                raise ValueError(
                    f"optim_wrapper.type={type(wrapper).__name__} clips the gradient norm of all "
                    "parameters together, so the Baseline's probe g_a would scale every other "
                    "step: use type='TTCOptimWrapper' (or 'TTCAmpOptimWrapper')"
                )
            n = sum(p.numel() for p in probe)
            print_log(
                f"Baseline probe g_a: {len(probe)} tensors ({n} values) in param groups of their "
                f"own ('{CLIP_GROUP_KEY}': 'probe'), clipped apart from the rest",
                logger="current",
            )
        return wrapper
