import pytest
import torch

from ttc_core.bottleneck import BaseBottleneck
from ttc_core.entropy import ConditionalEntropyModel, ContextEntropyModel
from ttc_core.layers import Downsample, Upsample, count_parameters
from ttc_core.transforms import AnalysisTransform, SynthesisTransform


@pytest.mark.parametrize(
    "factory, expected",
    [
        (AnalysisTransform, 2_496_984),
        (SynthesisTransform, 2_496_795),
        (lambda: SynthesisTransform(blocks=1), 1_620_843),
        (ContextEntropyModel, 2_615_168),
        (ConditionalEntropyModel, 14_661_248),
    ],
    ids=["analysis", "synthesis", "synthesis-n1", "context", "conditional"],
)
def test_reference_parameter_counts(factory, expected):
    assert count_parameters(factory()) == expected


def test_odd_input_shapes_are_padded_and_cropped():
    model = BaseBottleneck()
    with torch.no_grad():
        out = model(torch.rand(1, 3, 100, 150))
    assert out.y_hat.shape == (1, 192, 7, 10)
    assert out.pseudo_image.shape == (1, 3, 100, 150)
    assert out.reconstruction.shape == (1, 3, 100, 150)
    assert out.bpp.shape == (1,)


def test_no_normalisation_layers():
    model = BaseBottleneck()
    norms = (torch.nn.BatchNorm2d, torch.nn.GroupNorm, torch.nn.LayerNorm)
    assert not any(isinstance(m, norms) for m in model.modules())
    assert all(m.bias is not None for m in model.modules() if isinstance(m, torch.nn.Conv2d))


def test_learned_resampling_shapes():
    x = torch.rand(2, 3, 64, 128)
    assert Downsample(3)(x).shape == (2, 3, 32, 64)
    assert Upsample(5)(torch.rand(2, 5, 32, 64)).shape == (2, 5, 64, 128)
    assert Upsample(1)(torch.rand(1, 1, 32, 64), size=(65, 129)).shape == (1, 1, 65, 129)


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        AnalysisTransform()(torch.rand(1, 4, 32, 32))
    with pytest.raises(ValueError, match="three positive widths"):
        AnalysisTransform(channels=(8, 8))
    with pytest.raises(ValueError, match="unknown activation"):
        AnalysisTransform(activation="swishy")


def _scene(h=128, w=256):
    """A smooth gradient with texture: what an image's statistics look like to an untrained f."""
    torch.manual_seed(0)
    return 0.3 * torch.rand(1, 3, h, w) + torch.linspace(0, 0.6, w).view(1, 1, 1, w)


@pytest.mark.parametrize("latent_channels", [32, 192])
def test_an_untrained_base_codes_a_nonzero_latent_that_the_estimate_prices_right(latent_channels):
    """At initialisation ŷ_b spans a few quantisation steps (not all zeros: a Baseline trained
    from there coded 0.003 bpp), and the entropy model's σ matches that spread, so no element
    sits at the likelihood bound and the estimate is the coder's rate."""
    base = BaseBottleneck(latent_channels=latent_channels).eval()
    x = _scene()
    (actual,), y_hat = base.actual_bits(x)
    with torch.no_grad():
        likelihoods = base.entropy_model(y_hat).likelihoods
        estimated = float(base.estimated_bits(y_hat))
    assert (y_hat != 0).float().mean() > 0.5
    assert (likelihoods <= 1.01e-9).sum() == 0
    assert abs(actual - estimated) < 0.01 * estimated


@pytest.mark.parametrize("downsampling", [16, 8, 4])
def test_a_smaller_downsampling_keeps_more_latent_positions_and_codes_exactly(downsampling):
    """``downsampling`` (16: the paper's) sets the latent grid; padding, cropping, the coder and
    the estimate follow it: an odd-sized input round-trips bit-exactly at every factor."""
    torch.manual_seed(0)
    base = BaseBottleneck(
        latent_channels=8,
        analysis_channels=(8, 8, 8),
        synthesis_channels=(8, 8, 8),
        analysis_blocks=1,
        recon_blocks=1,
        downsampling=downsampling,
    ).eval()
    assert base.stride == downsampling
    x = _scene(40, 70)
    with torch.no_grad():
        out = base(x)
    rows, cols = -(-40 // downsampling), -(-70 // downsampling)
    assert out.y_hat.shape == (1, 8, rows, cols)
    assert out.pseudo_image.shape == out.reconstruction.shape == (1, 3, 40, 70)
    base.update(force=True)
    strings, y_hat = base.compress(x)
    assert torch.equal(base.decompress(strings, (rows, cols)), y_hat)
    assert torch.equal(y_hat, out.y_hat)


def test_a_downsampling_that_is_not_a_power_of_two_up_to_16_is_refused():
    for bad in (1, 3, 32):
        with pytest.raises(ValueError, match=r"`downsampling` must be one of \(2, 4, 8, 16\)"):
            AnalysisTransform(downsampling=bad)
        with pytest.raises(ValueError, match=r"`downsampling` must be one of"):
            SynthesisTransform(upsampling=bad)
