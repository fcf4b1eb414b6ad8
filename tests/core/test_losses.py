import pytest
import torch

from ttc_core.enhancement import EnhancementBottleneck
from ttc_core.losses import RateLoss, ReconstructionLoss, psnr, reconstruction_rmse

from .conftest import TINY, smooth_images, tiny_base, tiny_enhancement


def _grads(module):
    return sum(p.grad.abs().sum().item() for p in module.parameters() if p.grad is not None)


@pytest.mark.parametrize("mode, encoder_gets_gradient", [("proposed", True), ("baseline", False)])
def test_reconstruction_gradient_by_mode(mode, encoder_gets_gradient):
    model = tiny_base()
    reward = ReconstructionLoss(beta=0.1 if mode == "proposed" else 0.0, mode=mode)
    x = smooth_images(2, 48, 48)
    out = model(x, detach_reconstruction=reward.detach_reconstruction)
    reward(out.reconstruction, x)["loss_recon"].backward()
    assert _grads(model.reconstruction_synthesis) > 0
    assert (_grads(model.analysis) > 0) == encoder_gets_gradient
    assert _grads(model.task_synthesis) == 0


def test_rate_reaches_analysis_transform():
    model = tiny_base()
    x = smooth_images(2, 48, 48)
    RateLoss(0.5)(model(x, reconstruct=False).bpp)["loss_rate"].backward()
    assert _grads(model.analysis) > 0
    assert _grads(model.entropy_model) > 0


def test_reconstruction_term_is_255_rmse_per_image():
    x = torch.zeros(2, 3, 4, 4)
    x_hat = torch.stack([torch.full((3, 4, 4), 0.1), torch.full((3, 4, 4), 0.2)])
    assert torch.allclose(reconstruction_rmse(x_hat, x), torch.tensor([25.5, 51.0]), atol=1e-3)
    out = ReconstructionLoss(beta=0.01)(x_hat, x)
    assert torch.isclose(out["loss_recon"], torch.tensor(0.01 * 38.25), atol=1e-4)
    assert torch.allclose(psnr(x_hat, x), torch.tensor([20.0, 13.9794]), atol=1e-3)


def test_baseline_refuses_a_nonzero_beta():
    # the β in force must be the β shown: a Baseline's encoder gets no reconstruction gradient
    with pytest.raises(ValueError, match="β = 0"):
        ReconstructionLoss(beta=0.1, mode="baseline")
    reward = ReconstructionLoss(beta=0.0, mode="baseline", probe_weight=2.0)
    assert reward.beta == 0.0 and reward.weight == 2.0 and reward.detach_reconstruction


def test_logged_values_follow_the_rate_vocabulary():
    x = smooth_images(2, 16, 16)
    assert set(ReconstructionLoss(0.1)(x * 0.9, x)) == {"loss_recon", "recon_rmse", "psnr_direct"}
    assert set(RateLoss(1.0)(torch.ones(2))) == {"loss_rate", "bpp_estimated"}


def test_bad_loss_arguments():
    with pytest.raises(ValueError, match="mode"):
        ReconstructionLoss(mode="both")
    with pytest.raises(ValueError, match="beta"):
        ReconstructionLoss(beta=-1)
    with pytest.raises(ValueError, match="alpha"):
        RateLoss(float("nan"))


def test_standalone_trains_only_the_entropy_model():
    enh = tiny_enhancement()
    enh.set_standalone(True)
    trainable = {n for n, p in enh.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith("entropy_model.") for n in trainable)
    x, side = smooth_images(2, 48, 48), torch.round(3 * torch.randn(2, 16, 3, 3))
    before = {n: p.clone() for n, p in enh.named_parameters()}
    opt = torch.optim.Adam([p for p in enh.parameters() if p.requires_grad], lr=1e-2)
    out = enh(x, side)
    (out.bpp.mean() + out.output.mean()).backward()
    opt.step()
    changed = {n for n, p in enh.named_parameters() if not torch.equal(p, before[n])}
    assert changed and all(n.startswith("entropy_model.") for n in changed), changed
    assert "entropy_model.context_prediction.weight" in changed
    # standalone == the conditional model fed zeros instead of ŷ_b
    ref = EnhancementBottleneck(**{**TINY, "side_channels": 16})
    ref.load_state_dict(enh.state_dict())
    with torch.no_grad():
        assert torch.equal(enh(x, side).likelihoods, ref(x, torch.zeros_like(side)).likelihoods)


def test_continued_trains_only_the_entropy_model_with_the_true_side():
    enh = tiny_enhancement(continued=True)
    assert enh.stage == "continued" and enh.entropy_model_only and not enh.standalone
    trainable = {n for n, p in enh.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith("entropy_model.") for n in trainable)
    x, side = smooth_images(2, 48, 48), torch.round(3 * torch.randn(2, 16, 3, 3))
    ref = tiny_enhancement()
    ref.load_state_dict(enh.state_dict())
    with torch.no_grad():  # unlike Standalone, the true ŷ_b is used
        assert torch.equal(enh(x, side).likelihoods, ref(x, side).likelihoods)
        assert not torch.equal(enh(x, side).likelihoods, ref(x, torch.zeros_like(side)).likelihoods)


def test_standalone_and_continued_exclude_each_other():
    with pytest.raises(ValueError, match="exclude"):
        tiny_enhancement(standalone=True, continued=True)
    enh = tiny_enhancement(standalone=True)
    with pytest.raises(ValueError, match="Standalone"):
        enh.set_continued()
    enh.set_standalone(False).set_continued()
    assert enh.stage == "continued"
    enh.set_continued(False)
    assert enh.stage == "conditional"
    assert all(p.requires_grad for p in enh.parameters())


@pytest.mark.parametrize("layer", ["base", "enhancement"])
def test_short_training_lowers_the_loss(trained_pair, layer):
    history = trained_pair[2][layer]
    first, last = sum(history[:20]) / 20, sum(history[-20:]) / 20
    print(f"{layer}: mean loss of the first 20 steps {first:.3f}, of the last 20 {last:.3f}")
    assert last < 0.5 * first, (first, last)
