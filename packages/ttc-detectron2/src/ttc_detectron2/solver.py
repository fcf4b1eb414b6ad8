"""Optimizers: Adam with global gradient-norm clipping (the reference's recipe, METHOD §4).

Detectron2's ``build_optimizer`` only builds SGD, and its gradient clipping works per
parameter. The reference trains with Adam (lr 1e-4) and clips the norm of *all* gradients
together at 1.0. :func:`build_optimizer` (yacs configs) adds ``SOLVER.OPTIMIZER: ADAM`` and
``SOLVER.CLIP_GRADIENTS.CLIP_TYPE: full_model``; :func:`adam` is the same for LazyConfig files.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

import torch
from detectron2.solver import get_default_optimizer_params
from detectron2.solver.build import maybe_add_gradient_clipping

__all__ = ["adam", "build_optimizer", "with_global_grad_clip"]


@functools.cache
def _clipped_class(optimizer: type, max_norm: float, norm_type: float) -> type:
    def step(self, closure=None):
        params = [p for group in self.param_groups for p in group["params"] if p.grad is not None]
        torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type)
        return optimizer.step(self, closure)

    return type(f"{optimizer.__name__}WithGlobalGradClip", (optimizer,), {"step": step})


def with_global_grad_clip(optimizer: type, max_norm: float, norm_type: float = 2.0) -> type:
    """A subclass of ``optimizer`` whose ``step`` first clips the global gradient norm."""
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
    """Adam, clipping the global gradient norm at ``clip_norm`` (None/0: no clipping)."""
    cls = (
        with_global_grad_clip(torch.optim.Adam, clip_norm, norm_type)
        if clip_norm
        else torch.optim.Adam
    )
    return cls(params, lr=lr, betas=tuple(betas), weight_decay=weight_decay)


def build_optimizer(cfg, model: torch.nn.Module) -> torch.optim.Optimizer:
    """Optimizer of ``cfg.SOLVER``: SGD (as Detectron2) or Adam; clipping per ``CLIP_GRADIENTS``."""
    s = cfg.SOLVER
    params = get_default_optimizer_params(
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
