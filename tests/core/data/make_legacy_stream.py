"""Writes the legacy fixture of ``test_legacy_stream.py``: run once, with the code of 0.1.

    PYTHONPATH=packages/ttc-core/src python tests/core/data/make_legacy_stream.py

(run at commit 2598ecf, before the LatentCodec refactor). Writes, next to this script:
``legacy_codec.pth`` (a tiny base + enhancement codec from seed 0, briefly trained so that
its rates are not degenerate; without coder tables), ``legacy_image.png`` (the coded 40×56
image), ``legacy.ttc`` (both layers, wavefront order) and ``legacy_raster.ttc`` (base
layer, raster order).
"""

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ttc_core.bottleneck import BaseBottleneck
from ttc_core.checkpoint import make_codec_spec
from ttc_core.codec import ScalableCodec
from ttc_core.enhancement import EnhancementBottleneck

HERE = Path(__file__).parent
TINY = dict(
    latent_channels=8,
    analysis_channels=(8, 8, 8),
    analysis_blocks=1,
    synthesis_channels=(8, 8, 8),
)


def smooth(n, h, w, seed):
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 3, h // 8, w // 8, generator=g)
    return F.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False).clamp(0, 1)


def main():
    torch.manual_seed(0)
    base = BaseBottleneck(**TINY, task_blocks=1, recon_blocks=1)
    enh = EnhancementBottleneck(**TINY, side_channels=8, synthesis_blocks=1)
    opt = torch.optim.Adam([*base.parameters(), *enh.parameters()], lr=3e-3)
    for step in range(60):
        x = smooth(2, 32, 32, step)
        out = base(x)
        e = enh(x, out.y_hat.detach())
        loss = 0.01 * (out.bpp.mean() + e.bpp.mean())
        loss = loss + 50 * (F.mse_loss(out.reconstruction, x) + F.mse_loss(e.output, x))
        opt.zero_grad()
        loss.backward()
        opt.step()
    base_kwargs = dict(TINY, task_blocks=1, recon_blocks=1)
    enh_kwargs = dict(TINY, side_channels=8, synthesis_blocks=1)
    spec = make_codec_spec(
        base_kwargs,
        "base.",
        enhancement={"kwargs": enh_kwargs, "prefix": "enhancement.", "output": "image"},
    )
    state = {f"base.{k}": v for k, v in base.state_dict().items()}
    state.update({f"enhancement.{k}": v for k, v in enh.state_dict().items()})
    # saved without the coder tables (3 MB each): the test rebuilds them with update(), and
    # the model digest in the streams checks that they come out the same
    torch.save({"ttc_codec": spec, "state_dict": state}, HERE / "legacy_codec.pth")
    codec = ScalableCodec.from_spec(spec, state)
    codec.update()
    image = (smooth(1, 40, 56, 1234)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    Image.fromarray(image).save(HERE / "legacy_image.png")
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
    (HERE / "legacy.ttc").write_bytes(codec.compress(x, layers="all"))
    (HERE / "legacy_raster.ttc").write_bytes(codec.compress(x, layers="base", order="raster"))


if __name__ == "__main__":
    main()
