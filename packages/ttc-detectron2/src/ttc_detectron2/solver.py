"""Optimizers: Adam with global gradient-norm clipping (the reference's recipe, METHOD §4),
with the Baseline's probe clipped on its own (METHOD §8).

Detectron2's ``build_optimizer`` only builds SGD, and its gradient clipping works per
parameter. The reference trains with Adam (lr 1e-4) and clips the norm of *all* gradients
together at 1.0. :func:`build_optimizer` (yacs configs) adds ``SOLVER.OPTIMIZER: ADAM`` and
``SOLVER.CLIP_GRADIENTS.CLIP_TYPE: full_model``; :func:`adam` with :func:`param_groups` is the
same for LazyConfig files.

**Probe isolation.** In the Baseline the direct-reconstruction decoder g_a is a probe on a
detached ŷ_b: nothing else in training may depend on it. A global clip over all gradients
would let the probe's gradient norm scale every other parameter's step, so the param groups of
a Baseline model are split into the probe's and the rest's
(:func:`ttc_core.optim.tag_probe_groups`) and the global clip clips each part on its own
(:func:`ttc_core.optim.clip_grad_norm_by_group`). In the Proposed mode g_a is part of the
objective and everything is clipped together, as in the reference. Detectron2's own clip types
(``"value"``, ``"norm"``) act per parameter and need nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

import torch
from detectron2.solver import get_default_optimizer_params
from detectron2.solver.build import maybe_add_gradient_clipping
from torch import nn

from ttc_core.optim import clip_grad_norm_by_group, tag_probe_groups
from ttc_core.optim import probe_parameters as core_probe_parameters

from .meta_arch import TTCGeneralizedRCNN

__all__ = ["adam", "build_optimizer", "param_groups", "probe_parameters", "with_global_grad_clip"]


def probe_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The probe's parameters: g_a of the backbone of every ttc detector in Baseline mode.

    A detector (:class:`~ttc_detectron2.meta_arch.TTCGeneralizedRCNN`) is in Baseline mode when
    its reconstruction loss feeds g_a a detached ŷ_b (``recon_loss.detach_reconstruction``, from
    ``MODEL.TTC.MODE``). Empty for a Proposed model, and for the enhancement layer (its base is
    frozen, outside the optimizer).
    """
    params: dict[int, nn.Parameter] = {}
    for module in model.modules():
        if isinstance(module, TTCGeneralizedRCNN) and module.recon_loss.detach_reconstruction:
            for p in core_probe_parameters(module.backbone):
                params[id(p)] = p
    return list(params.values())


def param_groups(model: nn.Module, **kwargs: Any) -> list[dict[str, Any]]:
    """Detectron2's ``get_default_optimizer_params(model, **kwargs)``, probe groups tagged.

    Use it in LazyConfig files where ``get_default_optimizer_params`` would go (the stock
    trainer sets ``optimizer.params.model``)::

        optimizer = L(adam)(params=L(param_groups)(weight_decay_norm=0.0), lr=1e-4)
    """
    groups = get_default_optimizer_params(model, **kwargs)
    return tag_probe_groups(groups, probe_parameters(model))


@functools.cache
def _clipped_class(optimizer: type, max_norm: float, norm_type: float) -> type:
    def step(self, closure=None):
        # one norm per clip group: the probe's and the model's (untagged: one global norm)
        clip_grad_norm_by_group(self.param_groups, max_norm, norm_type)
        return optimizer.step(self, closure)

    return type(f"{optimizer.__name__}WithGlobalGradClip", (optimizer,), {"step": step})


def with_global_grad_clip(optimizer: type, max_norm: float, norm_type: float = 2.0) -> type:
    """A subclass of ``optimizer`` whose ``step`` first clips the global gradient norm.

    The norm is global over each clip group of the param groups (``ttc_clip_group``): the
    Baseline's probe and the rest of the model are clipped separately; untagged groups together.
    """
    if not max_norm > 0:
        raise ValueError(f"the clipping norm must be > 0, got {max_norm}")
    return _clipped_class(optimizer, float(max_norm), float(norm_type))


def adam(
    params: Iterable[Any],
    lr: float = 1e-4,
    betas: tuple[float, float] = (0.9, 0.999),
    weight_decay: float = 0.0,
    clip_norm: float | None = 1.0,
    norm_type: float = 2.0,
) -> torch.optim.Optimizer:
    """Adam, clipping the global gradient norm (of each clip group) at ``clip_norm``
    (None/0: no clipping). Give it :func:`param_groups` to keep a Baseline's probe apart."""
    cls = (
        with_global_grad_clip(torch.optim.Adam, clip_norm, norm_type)
        if clip_norm
        else torch.optim.Adam
    )
    return cls(params, lr=lr, betas=tuple(betas), weight_decay=weight_decay)


def build_optimizer(cfg, model: torch.nn.Module) -> torch.optim.Optimizer:
    """Optimizer of ``cfg.SOLVER``: SGD (as Detectron2) or Adam; clipping per ``CLIP_GRADIENTS``
    (``full_model``: the global norm, the Baseline's probe apart)."""
    s = cfg.SOLVER
    params = param_groups(
        model,
        base_lr=s.BASE_LR,
        weight_decay_norm=s.WEIGHT_DECAY_NORM,
        bias_lr_factor=s.BIAS_LR_FACTOR,
        weight_decay_bias=s.WEIGHT_DECAY_BIAS,
    )
    if s.OPTIMIZER.upper() == "ADAM":
        cls, kwargs = torch.optim.Adam, {"betas": tuple(s.ADAM_BETAS)}
    else:
        cls, kwargs = torch.optim.SGD, {"momentum": s.MOMENTUM, "nesterov": s.NESTEROV}
    kwargs.update(lr=s.BASE_LR, weight_decay=s.WEIGHT_DECAY)
    clip = s.CLIP_GRADIENTS
    if clip.ENABLED and clip.CLIP_TYPE == "full_model":
        cls = with_global_grad_clip(cls, clip.CLIP_VALUE, clip.NORM_TYPE)
    else:
        cls = maybe_add_gradient_clipping(cfg, cls)
    return cls(params, **kwargs)
