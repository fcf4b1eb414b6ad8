import pytest
import torch

from ttc_core.entropy import ConditionalEntropyModel, ContextEntropyModel
from ttc_core.losses import bpp_from_likelihoods
from ttc_core.quantization import ste_round


def _latent(c=16, h=6, w=7, scale=3.0):
    return torch.round(scale * torch.randn(1, c, h, w))


@pytest.mark.parametrize("model_cls", [ContextEntropyModel, ConditionalEntropyModel])
def test_context_is_causal_in_raster_order(model_cls):
    model = model_cls(
        latent_channels=16, **({"side_channels": 8} if model_cls is ConditionalEntropyModel else {})
    )
    side = torch.randn(1, 8, 6, 7) if model_cls is ConditionalEntropyModel else None
    y = _latent()
    ref = model(y, side)
    for i, j in [(0, 0), (2, 3), (5, 6), (3, 0)]:
        y2 = y.clone()
        y2[0, :, i, j] += 5
        out = model(y2, side)
        for name in ("means", "scales"):
            a, b = getattr(ref, name)[0], getattr(out, name)[0]
            changed = (a != b).any(dim=0)  # (H, W) positions whose parameters changed
            flat = changed.flatten().nonzero().flatten()
            # nothing at or before (i, j) in raster order may change
            assert flat.numel() == 0 or flat.min().item() > i * 7 + j, (name, i, j)
        # and the context does reach later positions
        assert (ref.means[0] != out.means[0]).any() or (i, j) == (5, 6)


def test_likelihoods_in_unit_interval_and_bpp_matches():
    model = ContextEntropyModel(latent_channels=16)
    y = _latent(scale=20.0)
    p = model(y).likelihoods
    assert (p > 0).all() and (p <= 1).all()
    assert p.min() >= 1e-9 - 1e-15
    bpp = bpp_from_likelihoods(p, 96 * 112)
    assert torch.allclose(bpp, -torch.log2(p).sum() / (96 * 112))


def test_rate_gradient_reaches_input_through_ste():
    model = ContextEntropyModel(latent_channels=16)
    y = (3 * torch.randn(1, 16, 5, 5)).requires_grad_()
    model(ste_round(y)).likelihoods.log2().sum().neg().backward()
    assert y.grad is not None and y.grad.abs().sum() > 0


def test_conditioning_changes_parameters_and_standalone_ignores_side():
    model = ConditionalEntropyModel(latent_channels=16, side_channels=8)
    y = _latent()
    side = torch.randn(1, 8, 6, 7)
    cond = model(y, side)
    zeros = model(y, torch.zeros_like(side))
    assert not torch.allclose(cond.means, zeros.means)
    model.standalone = True
    alone = model(y, side)
    assert torch.equal(alone.means, zeros.means) and torch.equal(alone.scales, zeros.scales)
    assert torch.equal(model(y, None).likelihoods, alone.likelihoods)


def test_side_shape_errors():
    model = ConditionalEntropyModel(latent_channels=16, side_channels=8)
    with pytest.raises(ValueError, match="same spatial size"):
        model(_latent(), torch.randn(1, 8, 5, 7))
    with pytest.raises(ValueError, match="side information must have shape"):
        model(_latent(), torch.randn(1, 9, 6, 7))
    with pytest.raises(ValueError, match="expects ŷ of shape"):
        ContextEntropyModel(latent_channels=16)(torch.zeros(1, 8, 4, 4))
