"""One loader of trained base layers for every adapter (ttc_core.frozen)."""

import pytest
import torch
from compressai.layers import MaskedConv2d

from ttc_core.checkpoint import CheckpointError, make_codec_spec
from ttc_core.frozen import load_frozen_base
from ttc_core.layers import Downsample

from .conftest import TINY, smooth_images


def _checkpoint(path, base, downsample=None):
    state = {f"model.bottleneck.{k}": v for k, v in base.state_dict().items()}
    down = None
    if downsample is not None:
        state.update({f"model.down.{k}": v for k, v in downsample.state_dict().items()})
        down = ({"channels": 3, "factor": 2}, "model.down.")
    spec = make_codec_spec(TINY, "model.bottleneck.", base_downsample=down)
    torch.save({"state_dict": state, "meta": {"ttc_codec": spec}}, path)
    return path


def test_loads_the_trained_weights_frozen(tmp_path, trained_pair):
    base, _, _ = trained_pair
    down = Downsample(3, factor=2)
    loaded = load_frozen_base(_checkpoint(tmp_path / "b.pth", base, down))
    assert loaded.bottleneck_kwargs["latent_channels"] == TINY["latent_channels"]
    assert loaded.downsample_kwargs["factor"] == 2
    assert not loaded.bottleneck.training and not loaded.downsample.training
    assert not any(p.requires_grad for p in loaded.bottleneck.parameters())
    for m in loaded.bottleneck.modules():  # masked taps zeroed once: a constant state dict
        if isinstance(m, MaskedConv2d):
            assert torch.equal(m.weight, m.weight * m.mask)
    x = smooth_images(1, 32, 48)
    with torch.no_grad():
        assert torch.equal(loaded.bottleneck.encode(x), base.encode(x))
        assert torch.equal(loaded.downsample(x), down(x))


def test_refuses_what_is_not_a_ttc_checkpoint(tmp_path, trained_pair):
    torch.save({"state_dict": {"w": torch.zeros(1)}}, tmp_path / "plain.pth")
    with pytest.raises(CheckpointError, match="no 'ttc_codec' spec"):
        load_frozen_base(tmp_path / "plain.pth")
    base, _, _ = trained_pair
    path = _checkpoint(tmp_path / "b.pth", base)
    ckpt = torch.load(path)
    ckpt["meta"]["ttc_codec"]["base"]["kwargs"]["latent_channels"] = 8
    torch.save(ckpt, path)
    with pytest.raises(CheckpointError, match="do not fit its codec spec"):
        load_frozen_base(path)
