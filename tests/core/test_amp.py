"""Mixed precision (issue 16): the rate stays float32 and right under torch.autocast.

bfloat16 autocast runs on the CPU, so these run here; float16 autocast on the CPU exercises the
same code path (the entropy model leaves autocast) that protects the 1e-9 likelihood bound.
"""

import pytest
import torch

from ttc_core.scalable import scalable_forward

from .conftest import smooth_images

#: bfloat16 analysis moves some ŷ across a rounding boundary; the estimate may move this much
RATE_TOLERANCE = 0.03


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_rates_are_float32_and_match_float32_under_autocast(trained_pair, dtype):
    base, enh, _ = trained_pair
    x = smooth_images(2, 48, 64, seed=5)
    with torch.no_grad():
        ref = base(x)
        with torch.autocast("cpu", dtype=dtype):
            amp = base(x)
    assert amp.y_hat.dtype == amp.likelihoods.dtype == amp.bits.dtype == torch.float32
    assert torch.isfinite(amp.bits).all() and (amp.likelihoods >= 1e-9).all()
    assert torch.equal(amp.y_hat, amp.y_hat.round())  # quantisation stays exact
    assert torch.allclose(amp.bits, ref.bits, rtol=RATE_TOLERANCE)
    # the same ŷ gives the same rate, bit for bit, with or without autocast
    with torch.no_grad(), torch.autocast("cpu", dtype=dtype):
        same = base.estimated_bits(ref.y_hat)
    assert torch.equal(same, ref.bits)
    with torch.no_grad():
        s_ref = scalable_forward(base, enh, x)
        with torch.autocast("cpu", dtype=dtype):
            s_amp = scalable_forward(base, enh, x)
    assert s_amp.enhancement.bits.dtype == torch.float32
    assert torch.allclose(s_amp.enhancement.bits, s_ref.enhancement.bits, rtol=RATE_TOLERANCE)


def test_a_bfloat16_training_step_reaches_the_encoder(trained_pair):
    import copy

    base = copy.deepcopy(trained_pair[0]).train()
    x = smooth_images(2, 32, 32, seed=6)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = base(x)
        loss = out.bpp.mean() + (out.reconstruction.float() - x).square().mean()
    assert torch.isfinite(loss)
    loss.backward()
    grads = [p.grad for p in base.analysis.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)
    assert any(p.grad is not None for p in base.entropy_model.parameters())
