"""The lifecycle both layers share (LatentCodec) and the two-layer forward (ttc_core.scalable)."""

import pytest
import torch

from ttc_core.bottleneck import BaseBottleneck
from ttc_core.enhancement import EnhancementBottleneck
from ttc_core.latent_codec import LatentCodec
from ttc_core.scalable import (
    group_by_size,
    reconstruction_target,
    scalable_actual_bits,
    scalable_forward,
)

from .conftest import smooth_images, tiny_base


def test_both_layers_share_one_lifecycle():
    for cls in (BaseBottleneck, EnhancementBottleneck):
        assert issubclass(cls, LatentCodec)
        for name in ("encode", "update", "compress", "decompress", "actual_bits"):
            # written once, in the base class
            assert name not in vars(cls), f"{cls.__name__} redefines {name}"


def test_the_base_layer_refuses_side_information_and_a_positional_order():
    base = tiny_base()
    base.update()
    x = smooth_images(1, 32, 32)
    with pytest.raises(TypeError, match="no side information"):
        base.compress(x, torch.zeros(1, base.latent_channels, 2, 2))
    with pytest.raises(TypeError):
        base.compress(x, None, "raster")  # order is keyword-only


def test_actual_bits_are_the_bytes_of_the_strings_and_close_to_the_estimate(trained_pair):
    base, enh, _ = trained_pair
    x = smooth_images(2, 48, 64, seed=3)
    bits, y_b = base.actual_bits(x)
    strings, y_b2 = base.compress(x)
    assert bits == [8 * len(s) for s in strings] and torch.equal(y_b, y_b2)
    estimated = base.estimated_bits(y_b)
    assert torch.allclose(torch.tensor(bits, dtype=torch.float32), estimated, rtol=0.1, atol=64)
    bits_b, bits_e = scalable_actual_bits(base, enh, x)
    assert bits_b == bits
    strings_e, _ = enh.compress(x, y_b)
    assert bits_e == [8 * len(s) for s in strings_e]


def test_scalable_forward_freezes_the_base_and_trains_the_enhancement(trained_pair):
    base, enh, _ = trained_pair
    base, enh = _copy(base), _copy(enh)
    x = smooth_images(2, 32, 48, seed=1)
    out = scalable_forward(base, enh, x)
    assert not out.y_base.requires_grad and not out.bits_base.requires_grad
    assert torch.equal(out.y_base, base.encode(x))
    (out.enhancement.bits.sum() + out.enhancement.output.square().sum()).backward()
    assert all(p.grad is None for p in base.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in enh.analysis.parameters())
    # the enhancement's rate is conditioned on this ŷ_b
    alone = enh.estimated_bits(out.enhancement.y_hat, torch.zeros_like(out.y_base))
    assert not torch.allclose(alone, out.enhancement.bits.detach())


def test_scalable_forward_without_synthesis_skips_g_e(trained_pair):
    base, enh, _ = trained_pair
    out = scalable_forward(base, enh, smooth_images(1, 32, 32), synthesize=False)
    assert out.enhancement.output is None and out.enhancement.bits.shape == (1,)


def test_group_by_size_keeps_first_appearance_order():
    assert group_by_size([(2, 3), (4, 4), (2, 3), (1, 1)]) == {
        (2, 3): [0, 2],
        (4, 4): [1],
        (1, 1): [3],
    }


def test_reconstruction_target_undoes_the_normalisation_and_resizes():
    x01 = torch.rand(2, 3, 8, 12)
    mean, std = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]
    frames = (x01 * 255 - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    assert torch.allclose(reconstruction_target(frames, mean, std), x01, atol=1e-5)
    half = reconstruction_target(frames, mean, std, size=(4, 6))
    assert half.shape == (2, 3, 4, 6) and half.min() >= 0 and half.max() <= 1


def _copy(module):
    import copy

    return copy.deepcopy(module)
