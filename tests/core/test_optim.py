"""The Baseline's probe is clipped apart: its gradients change nothing else's step."""

import pytest
import torch

from ttc_core.losses import RateLoss, ReconstructionLoss
from ttc_core.optim import (
    CLIP_GROUP_KEY,
    clip_grad_norm_by_group,
    probe_parameters,
    tag_probe_groups,
)

from .conftest import smooth_images, tiny_base


def test_probe_parameters_are_g_a():
    model = tiny_base()
    probe = {id(p) for p in probe_parameters(torch.nn.ModuleList([model]))}
    assert probe == {id(p) for p in model.reconstruction_synthesis.parameters()}


def test_tagging_keeps_settings_and_every_parameter():
    model = tiny_base()
    groups = [{"params": list(model.parameters()), "lr": 1e-3, "weight_decay": 0.1}]
    tagged = tag_probe_groups(groups, probe_parameters(model))
    assert [g[CLIP_GROUP_KEY] for g in tagged] == ["model", "probe"]
    assert all(g["lr"] == 1e-3 and g["weight_decay"] == 0.1 for g in tagged)
    assert sum(len(g["params"]) for g in tagged) == len(list(model.parameters()))
    assert [g[CLIP_GROUP_KEY] for g in tag_probe_groups(groups, [])] == ["model"]


def _train(probe_weight: float, tagged: bool, steps: int = 4) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    model = tiny_base()
    reward = ReconstructionLoss(beta=0.0, mode="baseline", probe_weight=probe_weight)
    groups = [{"params": list(model.parameters())}]
    if tagged:
        groups = tag_probe_groups(groups, probe_parameters(model))
    opt = torch.optim.Adam(groups, lr=1e-2)
    for step in range(steps):
        x = smooth_images(2, 32, 32, seed=step)
        out = model(x, detach_reconstruction=True)
        loss = RateLoss(0.1)(out.bpp)["loss_rate"] + out.pseudo_image.pow(2).mean()
        loss = loss + reward(out.reconstruction, x)["loss_recon"]
        opt.zero_grad()
        loss.backward()
        if tagged:
            clip_grad_norm_by_group(opt.param_groups, 0.05)
        else:
            torch.nn.utils.clip_grad_norm_(model.parameters(), 0.05)
        opt.step()
    return {n: p.detach().clone() for n, p in model.named_parameters()}


@pytest.mark.parametrize("tagged", [True, False])
def test_probe_weight_leaves_non_probe_parameters_bit_identical_only_when_clipped_apart(tagged):
    with_probe, without = _train(1.0, tagged), _train(0.0, tagged)
    others = [n for n in with_probe if not n.startswith("reconstruction_synthesis.")]
    same = all(torch.equal(with_probe[n], without[n]) for n in others)
    # a global clip lets the probe's gradient norm scale every other step: the bug this fixes
    assert same == tagged
    probe = [n for n in with_probe if n.startswith("reconstruction_synthesis.")]
    assert any(not torch.equal(with_probe[n], without[n]) for n in probe)  # the probe learns


def test_untagged_groups_clip_exactly_as_the_global_clip():
    torch.manual_seed(0)
    a = [torch.nn.Parameter(torch.randn(5)) for _ in range(3)]
    b = [torch.nn.Parameter(p.detach().clone()) for p in a]
    for p, q in zip(a, b, strict=True):
        p.grad = torch.randn(5)
        q.grad = p.grad.clone()
    norms = clip_grad_norm_by_group([{"params": a[:2]}, {"params": a[2:]}], 0.5)
    reference = torch.nn.utils.clip_grad_norm_(b, 0.5)
    assert set(norms) == {"model"} and torch.equal(norms["model"], reference)
    assert all(torch.equal(p.grad, q.grad) for p, q in zip(a, b, strict=True))
