"""Probe isolation (issue 12 §1): the Baseline's probe g_a influences nothing else in training.

Trained by MMEngine's Runner from the shipped depth configs made tiny, with gradient clipping on:
a Baseline with probe weight 1 and one with probe weight 0 leave every non-probe parameter and
buffer bit-identical; without the group-wise clip they do not (the test can fail); a Proposed
run with β > 0 changes the encoder.
"""

from __future__ import annotations

import pytest
import torch
from ttc_mmseg_testutils import BASELINE, PROPOSED, build_tiny_model, tiny_config

import ttc_mmseg  # noqa: F401
from ttc_core.optim import CLIP_GROUP_KEY

PROBE = "backbone.bottleneck.reconstruction_synthesis."
ENCODER = ("backbone.bottleneck.analysis.", "backbone.downsample.")
#: small enough that the clip scales every step of this tiny model
MAX_NORM = 0.05


def train(config, data_root, work, *, wrapper="TTCOptimWrapper", hooks=True, **codec_loss):
    """3 epochs × 2 iterations with clip_grad on; returns (state, runner)."""
    from mmengine.runner import Runner

    cfg = tiny_config(config, data_root, work, max_epochs=3)
    cfg.model.codec_loss.update(codec_loss)
    cfg.optim_wrapper.type = wrapper
    cfg.optim_wrapper.clip_grad = dict(max_norm=MAX_NORM)
    if wrapper == "OptimWrapper":
        cfg.optim_wrapper.pop("constructor")
    cfg.optim_wrapper.optimizer.lr = 3e-3
    cfg.train_cfg.val_interval = 3
    if not hooks:
        cfg.custom_hooks = []
    cfg.visualizer.name = f"visualizer_{work.name}"
    runner = Runner.from_cfg(cfg)
    runner.train()
    state = {k: v.detach().clone() for k, v in runner.model.state_dict().items()}
    return state, runner


def split(state: dict) -> tuple[dict, dict]:
    probe = {k: v for k, v in state.items() if k.startswith(PROBE)}
    rest = {k: v for k, v in state.items() if not k.startswith(PROBE)}
    return probe, rest


@pytest.fixture(scope="module")
def baseline_runs(cityscapes_root, tmp_path_factory):
    return {
        weight: train(
            BASELINE,
            cityscapes_root,
            tmp_path_factory.mktemp(f"baseline_probe{weight}"),
            probe_weight=weight,
        )
        for weight in (1.0, 0.0)
    }


def test_baseline_probe_leaves_every_other_parameter_bit_identical(baseline_runs):
    (with_probe, runner), (without_probe, _) = baseline_runs[1.0], baseline_runs[0.0]
    probe_a, rest_a = split(with_probe)
    probe_b, rest_b = split(without_probe)
    assert probe_a and len(rest_a) > 50
    # the probe learned in one run only...
    assert any(not torch.equal(probe_a[k], probe_b[k]) for k in probe_a)
    # ...and nothing else noticed: encoder, entropy model, task network, BN statistics
    different = [k for k in rest_a if not torch.equal(rest_a[k], rest_b[k])]
    assert not different, different[:5]
    # the clip did act: the non-probe gradient norm was above MAX_NORM
    hub = runner.message_hub
    assert hub.get_scalar("train/grad_norm").current() > MAX_NORM
    assert hub.get_scalar("train/grad_norm_probe").current() > 0
    groups = runner.optim_wrapper.optimizer.param_groups
    assert sorted(g[CLIP_GROUP_KEY] for g in groups) == ["model", "probe"]


def test_the_checkpoint_records_the_baseline_settings_in_force(baseline_runs):
    runner = baseline_runs[1.0][1]
    meta = torch.load(f"{runner.work_dir}/epoch_3.pth", map_location="cpu")["meta"]
    assert meta["ttc"]["codec_loss"] == dict(alpha=1.0, beta=0.0, mode="baseline", probe_weight=1.0)
    with open(f"{runner.log_dir}/{runner.timestamp}.log") as f:
        text = f.read()
    assert "codec loss in force: mode=baseline, alpha=1.0, beta=0.0, probe_weight=1.0" in text


def test_a_global_clip_lets_the_probe_change_the_other_parameters(
    baseline_runs, cityscapes_root, tmp_path
):
    """The control: MMEngine's OptimWrapper clips all parameters by one norm, so the probe's
    gradient scales every other step (what TTCOptimWrapper prevents)."""
    runs = {
        w: train(
            BASELINE,
            cityscapes_root,
            tmp_path / f"global{w}",
            wrapper="OptimWrapper",
            hooks=False,  # TTCCheckpointHook would refuse this Baseline
            probe_weight=w,
        )[0]
        for w in (1.0, 0.0)
    }
    rest_a, rest_b = split(runs[1.0])[1], split(runs[0.0])[1]
    assert any(not torch.equal(rest_a[k], rest_b[k]) for k in rest_a if k.startswith(ENCODER))
    # (that the group-wise clip of untagged groups is the global clip is a unit test,
    # tests/core/test_optim.py: after training, two clips that differ by the rounding of a
    # norm over a shorter vector drift apart under Adam, so comparing runs would test the CPU)


def test_proposed_reward_changes_the_encoder(cityscapes_root, tmp_path):
    runs = {
        beta: train(PROPOSED, cityscapes_root, tmp_path / f"beta{beta}", beta=beta)[0]
        for beta in (0.1, 0.0)
    }
    changed = [
        k
        for k in runs[0.1]
        if k.startswith(ENCODER) and not torch.equal(runs[0.1][k], runs[0.0][k])
    ]
    assert changed


def test_ttc_checkpoint_hook_refuses_a_baseline_clipped_with_its_probe(cityscapes_root, tmp_path):
    with pytest.raises(ValueError, match="TTCOptimWrapper"):
        train(BASELINE, cityscapes_root, tmp_path / "w", wrapper="OptimWrapper", probe_weight=1.0)


# -- the building blocks ------------------------------------------------------------------------
def build_wrapper(model, **cfg):
    from mmengine.optim import build_optim_wrapper

    return build_optim_wrapper(
        model,
        dict(
            dict(
                type="TTCOptimWrapper",
                constructor="TTCOptimWrapperConstructor",
                optimizer=dict(type="Adam", lr=1e-3),
            ),
            **cfg,
        ),
    )


def test_constructor_tags_the_probe_only_in_baseline_mode():
    baseline = build_tiny_model(mode="baseline", beta=0.0)
    groups = build_wrapper(baseline).optimizer.param_groups
    by_tag = {g[CLIP_GROUP_KEY]: {id(p) for p in g["params"]} for g in groups}
    g_a = {id(p) for p in baseline.backbone.bottleneck.reconstruction_synthesis.parameters()}
    assert by_tag["probe"] == g_a
    assert by_tag["model"] == {id(p) for p in baseline.parameters()} - g_a
    proposed = build_tiny_model()
    groups = build_wrapper(proposed).optimizer.param_groups
    assert [g[CLIP_GROUP_KEY] for g in groups] == ["model"]


def test_constructor_keeps_paramwise_settings_on_both_halves():
    model = build_tiny_model(mode="baseline", beta=0.0)
    wrapper = build_wrapper(model, paramwise_cfg=dict(bias_lr_mult=0.5))
    lrs = {(g[CLIP_GROUP_KEY], g["lr"]) for g in wrapper.optimizer.param_groups}
    assert {("model", 1e-3), ("model", 5e-4), ("probe", 1e-3), ("probe", 5e-4)} <= lrs


def test_constructor_refuses_a_global_clip_for_a_baseline():
    model = build_tiny_model(mode="baseline", beta=0.0)
    with pytest.raises(ValueError, match="TTCOptimWrapper"):
        build_wrapper(model, type="OptimWrapper", clip_grad=dict(max_norm=1.0))


def _norms_after_one_step(wrapper, model):
    from mmengine.logging import MessageHub
    from ttc_mmseg_testutils import fake_batch

    model.train()
    losses = model.loss(*fake_batch())
    wrapper.backward(sum(v for k, v in losses.items() if "loss" in k))
    wrapper.step()  # clips, then steps (update_params would also zero the gradients)
    hub = MessageHub.get_current_instance()
    return hub.get_scalar("train/grad_norm").current(), hub.get_scalar(
        "train/grad_norm_probe"
    ).current()


def test_amp_wrapper_clips_by_group_too():
    """TTCAmpOptimWrapper composes with MMEngine's AmpOptimWrapper (unscale, then the group
    clip); here on the CPU in bfloat16 (no loss scaling)."""
    from ttc_mmseg.optim import TTCAmpOptimWrapper

    model = build_tiny_model(mode="baseline", beta=0.0)
    wrapper = build_wrapper(
        model, type="TTCAmpOptimWrapper", dtype="bfloat16", clip_grad=dict(max_norm=1e-3)
    )
    assert isinstance(wrapper, TTCAmpOptimWrapper)
    model_norm, probe_norm = _norms_after_one_step(wrapper, model)
    assert model_norm > 1e-3 and probe_norm > 1e-3
    # each group was clipped to its own norm
    for group in wrapper.optimizer.param_groups:
        grads = [p.grad for p in group["params"] if p.grad is not None]
        total = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
        assert total == pytest.approx(1e-3, rel=1e-3)


def test_value_clipping_and_unknown_norm_arguments():
    model = build_tiny_model(mode="baseline", beta=0.0)
    wrapper = build_wrapper(model, clip_grad=dict(type="value", clip_value=1e-4))
    from ttc_mmseg_testutils import fake_batch

    model.train()
    losses = model.loss(*fake_batch())
    wrapper.update_params(sum(v for k, v in losses.items() if "loss" in k))  # MMEngine's path
    with pytest.raises(ValueError, match="error_if_nonfinite"):
        build_wrapper(model, clip_grad=dict(max_norm=1.0, error_if_nonfinite=True))


def test_mmengine_still_clips_through_its_private_hook():
    """GroupClipMixin overrides MMEngine's private ``OptimWrapper._clip_grad``: ``step`` must
    still call it (and clip with it), or the probe's isolation would silently be lost."""
    from mmengine.optim import OptimWrapper

    from ttc_mmseg.optim import TTCOptimWrapper

    assert callable(getattr(OptimWrapper, "_clip_grad", None))
    calls = []

    class Counting(TTCOptimWrapper):
        def _clip_grad(self) -> None:
            calls.append(1)
            super()._clip_grad()

    weight = torch.nn.Parameter(torch.ones(2))
    wrapper = Counting(optimizer=torch.optim.SGD([weight], lr=0.1), clip_grad=dict(max_norm=1.0))
    wrapper.update_params((10 * weight).sum())  # gradient (10, 10), norm 10·√2, clipped to 1
    assert calls == [1]
    expected = 1 - 0.1 * 10 / (200**0.5)
    torch.testing.assert_close(weight.detach(), torch.full((2,), expected), rtol=1e-5, atol=1e-6)


def test_amp_on_the_cpu_is_bfloat16_only():
    model = build_tiny_model()
    with pytest.raises(ValueError, match="bfloat16 only"):
        build_wrapper(model, type="TTCAmpOptimWrapper", dtype="float16")
    wrapper = build_wrapper(model, type="TTCAmpOptimWrapper", dtype="bfloat16")
    assert wrapper.cast_dtype == torch.bfloat16 and not wrapper.loss_scaler.is_enabled()


def test_amp_trains_the_depth_base_in_bfloat16(cityscapes_root, tmp_path):
    """MMEngine's own switch (an AMP optim wrapper, ``dtype='bfloat16'``) through the Runner:
    finite losses, the encoder learns; on one batch the rate under autocast is float32 and
    within 3 % of the float32 rate (bfloat16 analysis moves a few ŷ across a rounding step)."""
    from mmengine.runner import Runner
    from ttc_mmseg_testutils import fake_batch

    cfg = tiny_config(PROPOSED, cityscapes_root, tmp_path, max_epochs=2)
    cfg.optim_wrapper.type = "TTCAmpOptimWrapper"
    cfg.optim_wrapper.dtype = "bfloat16"
    cfg.visualizer.name = "visualizer_amp"
    runner = Runner.from_cfg(cfg)
    before = {k: v.clone() for k, v in runner.model.state_dict().items()}
    runner.train()
    hub = runner.message_hub
    assert torch.isfinite(torch.tensor(hub.get_scalar("train/loss").current()))
    after = runner.model.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in after if k.startswith(ENCODER))
    model = runner.model.train()
    inputs, samples = fake_batch()
    ref = model.loss(inputs, samples)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        amp = model.loss(inputs, samples)
    assert amp["loss_rate"].dtype == torch.float32
    assert amp["loss_rate"].item() == pytest.approx(ref["loss_rate"].item(), rel=0.03)
