"""Variable-rate depth base and enhancement through MMSeg's launchers and Runner: one model,
exact coding at every configured rate, one RD curve from `ttc rd sweep --variable-rate`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from ttc_mmseg_testutils import (
    PROPOSED,
    REC_PROPOSED,
    TINY_BOTTLENECK,
    _write_child_config,
    tiny_config,
    tiny_enhancement_config,
)

from ttc_core.bitstream import unpack
from ttc_core.codec import ScalableCodec
from ttc_core.rd.format import load_rd

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
ALPHAS = [0.1, 0.01, 0.001]
#: large initial gains: after a few steps every rate codes non-zero symbols
VR_BOTTLENECK = dict(TINY_BOTTLENECK, gain_range=(4.0, 16.0))


def _env() -> dict:
    here = Path(__file__).parent
    paths = [str(here), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths), "OMP_NUM_THREADS": "1"}


def frame(cityscapes_root: Path):
    from ttc_core.images import read_image

    path = next((cityscapes_root / "leftImg8bit" / "val").rglob("*.png"))
    return read_image(path).tensor


def assert_exact_at_every_rate(codec: ScalableCodec, x, rates, layers="base", **kw):
    """Codes ``x`` at each rate position; each stream records it and decodes bit-exactly."""
    bits = []
    for q in rates:
        enc = codec.encode_stream(x, layers=layers, rate=q, **kw)
        header = unpack(enc.data)
        assert header.rate("base") == q
        y_b = codec.base.encode(codec.base_input(x), rate=q)
        out = codec.decompress(enc.data)  # CRC of every latent checked
        assert torch.equal(out.y_base, y_b)
        assert y_b.abs().sum() > 0  # not a trivial all-zero latent
        bits.append(enc.actual_bits["base"])
    return bits


@pytest.fixture(scope="module")
def sweep(cityscapes_root, tmp_path_factory):
    """`ttc rd sweep --variable-rate` on a tiny Proposed depth config: one training through
    tools/train.py (2 epochs), then tools/test.py at each rate index with real bits."""
    tmp = tmp_path_factory.mktemp("vr_sweep")
    model = f"dict(backbone=dict(bottleneck={VR_BOTTLENECK!r}))"
    cfg = _write_child_config(
        tmp / "tiny_vr.py",
        PROPOSED,
        cityscapes_root,
        model,
        2,
        "optim_wrapper = dict(optimizer=dict(lr=3e-3))\n",
    )
    out = tmp / "sweep"
    rd = tmp / "vr.json"
    cmd = [
        PYTHON,
        "-m",
        "ttc_core.cli",
        "rd",
        "sweep",
        "--framework",
        "mmseg",
        "--variable-rate",
        "--config",
        str(cfg),
        "--alphas",
        *map(str, ALPHAS),
        "--out",
        str(out),
        "--metric",
        "rmse",
        "--bpp-estimated",
        "bpp_estimated",
        "--select",
        "best",
        "--name",
        "Proposed (variable rate)",
        "--no-hash",
        "-o",
        str(rd),
    ]
    proc = subprocess.run(cmd, cwd=REPO, env=_env(), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return out, rd, cfg


@pytest.mark.slow
def test_one_training_gives_a_curve_of_real_bits_at_every_rate(sweep):
    out, rd, _ = sweep
    marker = json.loads((out / "variable_rate" / "ttc_sweep_done.json").read_text())
    assert marker["seconds"] > 0 and 0 < marker["cpu_seconds"]  # the run's own CPU time
    curve = load_rd(rd)
    assert len(curve) == len(ALPHAS)
    reports = [json.loads((out / f"rate_{i}" / "ttc_report.json").read_text()) for i in range(3)]
    assert [r["rate"] for r in reports] == [0.0, 1.0, 2.0]
    assert [r["alpha"] for r in reports] == ALPHAS
    # every point evaluated the one checkpoint the training chose, with real bits
    assert len({r["checkpoint"] for r in reports}) == 1
    assert all(r["bpp"] > 0 and r["rmse"] > 0 for r in reports)
    assert sorted(curve.results["bpp"]) == sorted(r["bpp"] for r in reports)
    # the training weighed its batches with the configured α (logged values are window
    # means, so their ratio lies between the extreme α; per batch: the in-process test)
    scalars = [
        json.loads(line)
        for p in (out / "variable_rate").glob("*/vis_data/scalars.json")
        for line in p.read_text().splitlines()
        if '"loss_rate"' in line
    ]
    assert len(scalars) == 4
    for r in scalars:
        assert min(ALPHAS) * 0.999 <= r["loss_rate"] / r["bpp_estimated"] <= max(ALPHAS) * 1.001


@pytest.mark.slow
def test_the_sweeps_checkpoint_codes_exactly_at_every_rate(sweep, cityscapes_root):
    out, _, _ = sweep
    report = json.loads((out / "variable_rate" / "ttc_report.json").read_text())
    codec = ScalableCodec.from_checkpoint(report["checkpoint"])
    codec.update()
    assert codec.base.num_rates == 3 and codec.alphas() == ALPHAS
    assert codec.model_name.endswith("-vr3")
    bits = assert_exact_at_every_rate(codec, frame(cityscapes_root), [0.0, 1.0, 2.0, 0.5])
    assert bits[0] < bits[2]  # rate index 0 is the lowest rate
    with pytest.raises(ValueError, match="--rate"):
        codec.encode_stream(frame(cityscapes_root))


@pytest.mark.slow
def test_a_rerun_of_the_sweep_skips_what_finished(sweep):
    out, _, cfg = sweep
    cmd = [PYTHON, "-m", "ttc_core.cli", "rd", "sweep", "--framework", "mmseg"]
    cmd += ["--variable-rate", "--config", str(cfg), "--alphas", *map(str, ALPHAS)]
    proc = subprocess.run(
        [*cmd, "--out", str(out)], cwd=REPO, env=_env(), capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "finished earlier" in proc.stderr and proc.stderr.count("evaluated earlier") == 3


def test_a_per_alpha_depth_config_is_unchanged(tmp_path):
    from mmengine.config import Config
    from mmseg.registry import MODELS

    cfg = Config.fromfile(str(PROPOSED))
    cfg.model.backbone.bottleneck.update(TINY_BOTTLENECK)
    model = MODELS.build(cfg.model)
    assert model.variable_rate is None and model.backbone.bottleneck.num_rates == 0
    assert "num_rates" not in model.codec_spec()["base"]["kwargs"]
    assert "alphas" not in model.ttc_settings()["codec_loss"]


def test_bad_variable_rate_settings_are_refused():
    from mmengine.config import Config
    from mmseg.registry import MODELS

    cfg = Config.fromfile(str(PROPOSED))
    cfg.model.backbone.bottleneck.update(TINY_BOTTLENECK)
    cfg.model.codec_loss.alphas = [0.01, 0.1]
    with pytest.raises(ValueError, match="strictly decreasing"):
        MODELS.build(cfg.model)
    cfg.model.codec_loss.alphas = [0.1, 0.01]
    cfg.model.test_cfg.rate = 5
    with pytest.raises(ValueError, match=r"test_cfg.rate.*outside \[0, 1\]"):
        MODELS.build(cfg.model)
    cfg.model.test_cfg.rate = None
    cfg.model.backbone.bottleneck.num_rates = 4
    with pytest.raises(ValueError, match="num_rates=4"):
        MODELS.build(cfg.model)
    del cfg.model.codec_loss["alphas"]
    with pytest.raises(ValueError, match="without model.codec_loss.alphas"):
        MODELS.build(cfg.model)


def test_a_variable_rate_enhancement_on_the_variable_rate_base(vr_base, cityscapes_root, tmp_path):
    """Reconstruction enhancement with its own two rate points, trained a few steps on the
    variable-rate base (a base rate drawn per batch): exact at every (base, enhancement)
    rate, and it knows the base's rate (side_rates)."""
    from mmengine.runner import Runner

    _, work = vr_base
    cfg = tiny_enhancement_config(
        REC_PROPOSED, cityscapes_root, tmp_path / "enh", work / "epoch_2.pth", max_epochs=1
    )
    cfg.model.base.sample_rates = True
    cfg.model.codec_loss = dict(alphas=[0.1, 0.01])
    cfg.model.enhancement.gain_range = (4.0, 16.0)
    cfg.model.test_cfg.base_rate = 1.0
    runner = Runner.from_cfg(cfg)
    runner.train()
    model = runner.model
    assert model.enhancement.num_rates == 2 and model.enhancement.side_rates == 3
    spec = model.codec_spec()
    assert spec["enhancement"]["alphas"] == [0.1, 0.01] and spec["base"]["alphas"] == ALPHAS
    path = tmp_path / "codec.pth"
    torch.save({"ttc_codec": spec, "state_dict": model.state_dict()}, path)
    codec = ScalableCodec.from_checkpoint(path)
    codec.update()
    x = frame(cityscapes_root)
    for base_rate in (0.0, 2.0):
        for enh_rate in (0.0, 1.0):
            enc = codec.encode_stream(x, layers="all", rate=base_rate, enhancement_rate=enh_rate)
            assert enc.header.rates == {"base": base_rate, "enhancement": enh_rate}
            y_e = codec.enhancement.encode(codec.enhancement_input(x), rate=enh_rate)
            decoded = codec.decompress(enc.data)
            assert torch.equal(decoded.y_enhancement, y_e) and y_e.abs().sum() > 0
    # evaluation reports the rates it coded at
    model.eval()
    with torch.no_grad():
        data = next(iter(runner.test_dataloader))
        results = model.test_step(data)
    assert results[0].metainfo["rate"] == 1.0 and results[0].metainfo["base_rate"] == 1.0


@pytest.fixture(scope="module")
def vr_base(cityscapes_root, tmp_path_factory):
    """A variable-rate Proposed depth base trained 2 epochs (4 batches) by MMEngine's Runner."""
    from mmengine.runner import Runner

    work = tmp_path_factory.mktemp("vr_base")
    cfg = tiny_config(PROPOSED, cityscapes_root, work, max_epochs=2)
    cfg.model.backbone.bottleneck.update(VR_BOTTLENECK)
    cfg.model.codec_loss.alphas = ALPHAS
    cfg.model.test_cfg.rate = 0.5
    cfg.optim_wrapper.optimizer.lr = 3e-3
    cfg.default_hooks.checkpoint.interval = 2
    cfg.visualizer.name = f"visualizer_{work.name}"
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner, work


def test_a_trained_variable_rate_base_codes_exactly_at_every_rate(vr_base, cityscapes_root):
    _, work = vr_base
    codec = ScalableCodec.from_checkpoint(work / "epoch_2.pth")
    codec.update()
    assert codec.base.num_rates == 3 and codec.alphas() == ALPHAS
    assert codec.model_name.endswith("-vr3")
    bits = assert_exact_at_every_rate(codec, frame(cityscapes_root), [0.0, 1.0, 2.0, 1.5])
    assert len(set(bits)) > 1
    with pytest.raises(ValueError, match="--rate"):
        codec.encode_stream(frame(cityscapes_root))


def test_each_batch_is_weighed_by_the_alpha_of_its_drawn_rate(vr_base, cityscapes_root):
    """The rate term of a batch uses the α of the index drawn for it; predictions carry the
    test rate."""
    from ttc_core.variable_rate import VariableRate

    runner, _ = vr_base
    model = runner.model
    assert model.backbone.bottleneck.num_rates == 3
    data = model.data_preprocessor(next(iter(runner.train_dataloader)), training=True)
    model.train()
    seen = set()
    for seed in range(6):
        torch.manual_seed(seed)
        index = VariableRate(ALPHAS).sample()  # what the model draws with this seed
        torch.manual_seed(seed)
        losses = model.loss(data["inputs"], data["data_samples"])
        expected = ALPHAS[index] * losses["bpp_estimated"]
        assert float(losses["loss_rate"]) == pytest.approx(float(expected), rel=1e-6)
        seen.add(index)
    assert len(seen) > 1
    model.eval()
    with torch.no_grad():
        results = model.test_step(next(iter(runner.test_dataloader)))
    assert results[0].metainfo["rate"] == 0.5
