"""Fixtures for ttc-core tests: tiny models and smooth generated images."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from ttc_core.bottleneck import BaseBottleneck
from ttc_core.enhancement import EnhancementBottleneck

TINY = dict(latent_channels=16, analysis_channels=(8, 8, 16), synthesis_channels=(16, 8, 8))


def smooth_images(n: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    """Low-pass random images in [0, 1]: structured enough to compress and to learn from."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 3, max(2, h // 8), max(2, w // 8), generator=g)
    x = F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=False)
    x = x + 0.05 * torch.rand(n, 3, h, w, generator=g)
    return x.clamp(0, 1)


def tiny_base(**kw) -> BaseBottleneck:
    return BaseBottleneck(**{**TINY, **kw})


def tiny_enhancement(**kw) -> EnhancementBottleneck:
    return EnhancementBottleneck(**{**TINY, "side_channels": 16, **kw})


@pytest.fixture(scope="session")
def trained_pair():
    """A tiny base + conditional enhancement, trained briefly so that rates are meaningful."""
    torch.manual_seed(0)
    base, enh = tiny_base(), tiny_enhancement()
    opt = torch.optim.Adam([*base.parameters(), *enh.parameters()], lr=2e-3)
    history = {"base": [], "enhancement": []}
    for step in range(300):
        x = smooth_images(4, 48, 48, seed=step)
        out = base(x)
        e = enh(x, out.y_hat.detach())
        # base: rate + reconstruction reward; enhancement: rate + reconstruction
        loss_b = 0.01 * out.bpp.mean() + 50 * F.mse_loss(out.reconstruction, x)
        loss_e = 0.01 * e.bpp.mean() + 50 * F.mse_loss(e.output, x)
        opt.zero_grad()
        (loss_b + loss_e).backward()
        opt.step()
        history["base"].append(loss_b.item())
        history["enhancement"].append(loss_e.item())
    base.eval(), enh.eval()
    base.update(force=True)
    enh.update(force=True)
    return base, enh, history
