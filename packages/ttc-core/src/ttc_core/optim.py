"""Optimiser plumbing that keeps the Baseline's probe invisible to the rest of training.

In the Baseline (METHOD §2, §8) the direct-reconstruction decoder ``g_a`` is a *probe*: it
learns from a detached ŷ_b so that direct-reconstruction quality can be reported, and nothing
else may depend on it. Adam keeps per-parameter state, and the probe's loss reaches only its
own parameters, so the one place left where it could leak is a **global gradient-norm clip**:
``clip_grad_norm_`` over all parameters scales every step by a norm the probe contributes to.
:func:`clip_grad_norm_by_group` clips each *clip group* on its own: the probe's parameters form
one, everything else the other, so a Baseline with a probe trains its encoder, entropy model
and task network bit for bit as without one.

Param groups (the dicts an optimiser takes) are tagged with :data:`CLIP_GROUP_KEY`; torch
optimisers keep unknown keys of a group. :func:`tag_probe_groups` splits and tags groups.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

__all__ = [
    "CLIP_GROUP_KEY",
    "MODEL_GROUP",
    "PROBE_GROUP",
    "clip_grad_norm_by_group",
    "probe_parameters",
    "tag_probe_groups",
]

#: key of a param group that names its clip group
CLIP_GROUP_KEY = "ttc_clip_group"
MODEL_GROUP = "model"
PROBE_GROUP = "probe"


def probe_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The parameters of every base layer's ``g_a`` (``reconstruction_synthesis``) in ``model``.

    Call it only for a model in Baseline mode: in Proposed mode ``g_a`` is part of the
    objective, not a probe.
    """
    from .bottleneck import BaseBottleneck

    params: dict[int, nn.Parameter] = {}
    for module in model.modules():
        if isinstance(module, BaseBottleneck):
            for p in module.reconstruction_synthesis.parameters():
                params[id(p)] = p
    return list(params.values())


def tag_probe_groups(
    param_groups: Iterable[Mapping[str, Any]], probe: Sequence[nn.Parameter]
) -> list[dict[str, Any]]:
    """Split each group into its probe and non-probe parameters and tag both.

    Every other setting of a group (lr, weight decay, ...) is kept on both halves; empty halves
    are dropped. With no probe parameters the groups come back tagged :data:`MODEL_GROUP`.
    """
    probe_ids = {id(p) for p in probe}
    out: list[dict[str, Any]] = []
    for group in param_groups:
        params = list(group["params"])
        settings = {k: v for k, v in group.items() if k != "params"}
        for name, part in (
            (MODEL_GROUP, [p for p in params if id(p) not in probe_ids]),
            (PROBE_GROUP, [p for p in params if id(p) in probe_ids]),
        ):
            if part:
                out.append({**settings, "params": part, CLIP_GROUP_KEY: name})
    return out


def clip_grad_norm_by_group(
    param_groups: Iterable[Mapping[str, Any]], max_norm: float, norm_type: float = 2.0
) -> dict[str, Tensor]:
    """Clip the gradient norm of each clip group separately; returns each group's total norm.

    Groups without :data:`CLIP_GROUP_KEY` belong to :data:`MODEL_GROUP`, so untagged groups
    are clipped together exactly as ``torch.nn.utils.clip_grad_norm_`` would.
    """
    by_group: dict[str, list[Tensor]] = {}
    for group in param_groups:
        name = group.get(CLIP_GROUP_KEY, MODEL_GROUP)
        by_group.setdefault(name, []).extend(p for p in group["params"] if p.grad is not None)
    return {
        name: torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type)
        for name, params in by_group.items()
        if params
    }
