"""The scalable enhancement layer on a frozen depth base (issue 5, MMSegmentation half).

Every model here is trained by MMEngine's Runner from a shipped config made tiny, on a depth
base that the shipped depth config trained (the session fixture ``depth_base``).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from ttc_mmseg_testutils import (
    ENH_DIR,
    REC_BASELINE,
    REC_CONTINUED,
    REC_PROPOSED,
    REC_STANDALONE,
    SEG_BASELINE,
    SEG_CONTINUED,
    SEG_PROPOSED,
    SEG_STANDALONE,
    shipped_configs,
    tiny_enhancement_config,
    write_tiny_enhancement_config,
)

import ttc_mmseg  # noqa: F401
from ttc_core.losses import bits_per_image
from ttc_mmseg.selection import real_bits

#: the conditioning test's training (see ``rec_run``)
REC_EPOCHS = 100


def read_scalars(work_dir: Path) -> list[dict]:
    records = []
    for path in sorted(work_dir.glob("*/vis_data/scalars.json")):
        records += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return records


def read_logs(work_dir: Path) -> str:
    return "\n".join(p.read_text() for p in sorted(work_dir.glob("*/*.log")))


def base_state(base_checkpoint: Path) -> dict[str, torch.Tensor]:
    """The base layer's weights in the depth checkpoint, keyed as in ``FrozenBase``."""
    state = torch.load(base_checkpoint, map_location="cpu")["state_dict"]
    out = {}
    for key, value in state.items():
        for src, dst in (
            ("backbone.bottleneck.", "bottleneck."),
            ("backbone.downsample.", "downsample."),
        ):
            if key.startswith(src):
                out[dst + key[len(src) :]] = value
    return out


def snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def changed_keys(before: dict, after: dict) -> set[str]:
    return {k for k in before if not torch.equal(before[k], after[k])}


def first_val_batch(runner):
    model = runner.model
    batch = next(iter(runner.val_dataloader))
    data = model.data_preprocessor(batch, False)
    return batch["data_samples"][0].img_path, data


def frames(runner, cfg):
    """All generated frames (train + val), loaded by the test pipeline (no augmentation)."""
    from mmengine.runner import Runner

    inputs = []
    for split in ("train", "val"):
        loader_cfg = copy.deepcopy(cfg.test_dataloader)
        loader_cfg.dataset.data_prefix = dict(img_path=f"leftImg8bit/{split}")
        for batch in Runner.build_dataloader(loader_cfg):
            inputs.append(runner.model.data_preprocessor(batch, False)["inputs"])
    return torch.cat(inputs)


# -- fixtures ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def base_checkpoint(depth_base) -> Path:
    return depth_base / "epoch_50.pth"


@pytest.fixture(scope="module")
def seg_run(cityscapes_root, base_checkpoint, tmp_path_factory):
    """Segmentation enhancement: 2 epochs × 2 iterations (4 fit frames), selection after each
    epoch."""
    from mmengine.runner import Runner

    work = tmp_path_factory.mktemp("seg_enh")
    cfg = tiny_enhancement_config(SEG_PROPOSED, cityscapes_root, work, base_checkpoint)
    runner = Runner.from_cfg(cfg)
    before = snapshot(runner.model)
    runner.train()
    return runner, work, before


@pytest.fixture(scope="module")
def rec_run(cityscapes_root, base_checkpoint, tmp_path_factory):
    """Reconstruction enhancement, trained long enough (200 iterations at lr 1e-3) for the
    conditional entropy model to use ŷ_b. Without colour jitter: on 4 frames it makes ŷ_b and
    ŷ_e of one frame differ from step to step, which hides their relation in so short a run."""
    from mmengine.runner import Runner

    work = tmp_path_factory.mktemp("rec_enh")
    cfg = tiny_enhancement_config(
        REC_PROPOSED,
        cityscapes_root,
        work,
        base_checkpoint,
        max_epochs=REC_EPOCHS,
        lr=1e-3,
        val_interval=REC_EPOCHS,
    )
    cfg.model.codec_loss.alpha = 0.1
    train = cfg.train_dataloader.dataset.dataset
    train.pipeline = [t for t in train.pipeline if t["type"] != "TTCColorJitter"]
    cfg.default_hooks.checkpoint.interval = REC_EPOCHS
    cfg.default_hooks.logger.interval = 20
    runner = Runner.from_cfg(cfg)
    before = snapshot(runner.model)
    runner.train()
    return runner, work, before, cfg


# -- training: frozen base, trained enhancement, logged losses, evaluation --------------------
@pytest.mark.parametrize("run", ["seg_run", "rec_run"])
def test_base_is_frozen_and_bit_identical_to_its_checkpoint(run, request, base_checkpoint):
    runner = request.getfixturevalue(run)[0]
    base = runner.model.base
    expected = base_state(base_checkpoint)
    params = dict(base.named_parameters())
    assert set(params) <= set(expected) and len(params) > 10
    for key, value in params.items():
        assert torch.equal(value.detach(), expected[key]), key
        assert not value.requires_grad, key
    # frozen also against the runner's model.train()
    runner.model.train()
    assert not base.training and not any(m.training for m in base.modules())
    runner.model.eval()


@pytest.mark.parametrize("run", ["seg_run", "rec_run"])
def test_enhancement_parameters_change(run, request):
    runner, _, before = request.getfixturevalue(run)[:3]
    after = snapshot(runner.model)
    changed = {k.split(".")[0] + "." + k.split(".")[1] for k in changed_keys(before, after)}
    assert {
        "enhancement.analysis",
        "enhancement.entropy_model",
        "enhancement.synthesis",
        "enhancement_downsample.conv",
    } <= changed
    assert not any(k.startswith("base.") for k in changed)


def test_segmentation_losses_are_logged(seg_run):
    runner, work, _ = seg_run
    train = [r for r in read_scalars(work) if "loss" in r]
    assert len(train) == 4  # 2 epochs × 2 iterations, logger interval 1
    alpha = runner.model.alpha
    for r in train:
        for key in (
            "decode.loss_ce",
            "aux.loss_ce",
            "loss_rate",
            "bpp_estimated",
            "bpp_base_estimated",
            "bpp_enhancement_estimated",
        ):
            assert key in r, (key, sorted(r))
        assert not {"bpp", "bpp_base", "bpp_enhancement"} & set(r)  # estimates only
        assert r["loss"] == pytest.approx(
            r["decode.loss_ce"] + r["aux.loss_ce"] + r["loss_rate"], rel=1e-4
        )
        assert r["bpp_estimated"] == pytest.approx(
            r["bpp_base_estimated"] + r["bpp_enhancement_estimated"], rel=1e-4
        )
        assert r["bpp_base_estimated"] > 0  # an informative base
    # (MMEngine logs losses as running means, other values as they are: compare the first)
    assert train[0]["loss_rate"] == pytest.approx(alpha * train[0]["bpp_estimated"], rel=1e-4)


def test_segmentation_validation_reports_miou_and_total_bpp(seg_run, depth_base):
    _, work, _ = seg_run
    val = [r for r in read_scalars(work) if "selection/mIoU" in r]
    assert len(val) == 2  # one per epoch
    for r in val:
        assert 0 <= r["selection/mIoU"] <= 100 and r["selection/bpp_estimated"] > 0
        assert r["selection/bpp_estimated"] == pytest.approx(
            r["selection/bpp_base_estimated"] + r["selection/bpp_enhancement_estimated"],
            rel=1e-5,
        )
        assert "selection/bpp" not in r  # no real bits were coded
    # the frozen base codes the selection frame exactly as the depth model did (the same
    # frame: both carve the split from the same file names; frame pixels both)
    depth_val = [r for r in read_scalars(depth_base) if "selection/rmse" in r][-1]
    assert val[-1]["selection/bpp_base_estimated"] == pytest.approx(
        depth_val["selection/bpp_estimated"], rel=1e-5
    )
    log = read_logs(work)
    assert "mIoU" in log and "enhancement bpp (estimated)" in log
    assert "bits / frame pixels, 64×128" in log


def test_reconstruction_losses_and_validation(rec_run):
    runner, work, _, _ = rec_run
    records = read_scalars(work)
    train = [r for r in records if "loss" in r]
    assert train
    for r in train:
        assert r["loss"] == pytest.approx(r["loss_recon"] + r["loss_rate"], rel=1e-4)
        assert r["bpp_estimated"] == pytest.approx(
            r["bpp_base_estimated"] + r["bpp_enhancement_estimated"], rel=1e-4
        )
    assert all("psnr_scalable" in r for r in train)
    val = [r for r in records if "selection/psnr_scalable" in r]
    assert val  # one validation at the end of training
    v = {k.removeprefix("selection/"): x for k, x in val[0].items()}
    assert v["psnr_scalable"] > 10 and v["bpp_estimated"] > v["bpp_base_estimated"] > 0
    assert v["bpp_estimated"] == pytest.approx(
        v["bpp_base_estimated"] + v["bpp_enhancement_estimated"], rel=1e-5
    )
    log = read_logs(work)
    # bpp of the half-resolution reconstruction counts the coded pixels
    assert "scalable reconstruction PSNR [dB]" in log and "bits / coded pixels, 32×64" in log


@pytest.mark.parametrize("run", ["seg_run", "rec_run"])
def test_bpp_is_present_only_with_real_bits(run, request):
    """No ``bpp`` key carries an estimate: the metrics with and without real bitstreams."""
    runner = request.getfixturevalue(run)[0]
    estimated = runner.test_loop.run()
    rates = {k for k in estimated if k.startswith(("bpp", "bits"))}
    assert rates == {"bpp_estimated", "bpp_base_estimated", "bpp_enhancement_estimated"}
    with real_bits(runner.model):
        metrics = runner.test_loop.run()
    assert not runner.model.test_cfg.actual_bits  # restored
    for key in ("bpp", "bpp_base", "bpp_enhancement"):
        assert metrics[key] > 0
        assert metrics[f"{key}_estimated"] == pytest.approx(estimated[f"{key}_estimated"])
    assert metrics["bpp"] == pytest.approx(metrics["bpp_base"] + metrics["bpp_enhancement"])
    # real strings (one per layer and frame): the estimate plus at most 8 bytes each of
    # rANS flush and byte padding, which weigh a lot on a 2×4 latent
    pixels = 32 * 64 if run == "rec_run" else 64 * 128
    assert metrics["bpp_estimated"] < metrics["bpp"] < metrics["bpp_estimated"] + 2 * 64 / pixels


def test_conditioning_is_real(rec_run):
    """p(ŷ_e | ŷ_b) codes ŷ_e in fewer bits with the true ŷ_b than with zeros (or with the
    ŷ_b of another frame) in its place."""
    runner, _, _, cfg = rec_run
    model = runner.model.eval()
    x = frames(runner, cfg)
    with torch.no_grad():
        y_b = model.run_codec(x).y_base
        y_e = model.enhancement.encode(model.enhancement_downsample(x))
        em = model.enhancement.entropy_model
        bits = {
            name: bits_per_image(em(y_e, side).likelihoods)
            for name, side in (
                ("true", y_b),
                ("zeros", torch.zeros_like(y_b)),
                ("other frame", y_b.roll(1, 0)),
            )
        }
    assert (y_b != 0).float().mean() > 0.2, "the base latent carries little information"
    report = {k: round(float(v.sum()), 1) for k, v in bits.items()}
    print(f"\nenhancement bits of {len(x)} frames: {report}")
    assert bits["true"].sum() < 0.97 * bits["zeros"].sum(), report
    assert bits["true"].sum() < bits["other frame"].sum(), report


# -- Standalone and Continued ------------------------------------------------------------------
@pytest.mark.parametrize(
    "run, config, checkpoint",
    [
        ("seg_run", SEG_STANDALONE, "epoch_2.pth"),
        ("seg_run", SEG_CONTINUED, "epoch_2.pth"),
        ("rec_run", REC_STANDALONE, f"epoch_{REC_EPOCHS}.pth"),
        ("rec_run", REC_CONTINUED, f"epoch_{REC_EPOCHS}.pth"),
    ],
    ids=["seg-standalone", "seg-continued", "rec-standalone", "rec-continued"],
)
def test_retraining_changes_only_the_entropy_model(
    run, config, checkpoint, request, cityscapes_root, base_checkpoint, tmp_path
):
    from mmengine.runner import Runner

    stage = "continued" if "continued" in config.name else "standalone"
    conditional = request.getfixturevalue(run)[1] / checkpoint
    cfg = tiny_enhancement_config(
        config, cityscapes_root, tmp_path / "work", base_checkpoint, max_epochs=1, lr=1e-3
    )
    cfg.load_from = str(conditional)
    runner = Runner.from_cfg(cfg)
    model = runner.model
    assert model.stage == stage and model.entropy_model_only
    assert model.enhancement.entropy_model.standalone is (stage == "standalone")
    trainable = {k for k, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(k.startswith("enhancement.entropy_model.") for k in trainable)
    runner.train()
    loaded = torch.load(conditional, map_location="cpu")["state_dict"]
    after = snapshot(model)
    assert set(loaded) == set(after)
    changed = changed_keys(loaded, after)
    # every parameter and buffer (batch-norm statistics included) but the entropy model's
    assert changed and all(k.startswith("enhancement.entropy_model.") for k in changed), changed
    # the checkpoint says which stage: ttc codes ŷ_e without ŷ_b (standalone) or with it
    retrained = tmp_path / "work" / "epoch_1.pth"
    saved = torch.load(retrained, map_location="cpu")
    kwargs = saved["ttc_codec"]["enhancement"]["kwargs"]
    assert kwargs["standalone"] is (stage == "standalone")
    assert kwargs["continued"] is (stage == "continued")
    assert saved["meta"]["ttc"]["stage"] == stage
    if run == "rec_run":
        # same ŷ_e and g_e as the conditional model: the same image, from a different stream
        from ttc_core.cli import main as ttc

        image = first_val_batch(runner)[0]
        decoded = {}
        for name, ckpt in (("conditional", conditional), (stage, retrained)):
            stream, out = tmp_path / f"{name}.ttc", tmp_path / f"{name}.pt"
            assert (
                ttc(["compress", image, "-c", str(ckpt), "-o", str(stream), "--layers", "all"]) == 0
            )
            assert ttc(["decompress", str(stream), "-c", str(ckpt), "-o", str(out)]) == 0
            decoded[name] = torch.load(out)
        assert torch.equal(decoded["conditional"]["enhancement"], decoded[stage]["enhancement"])
        assert torch.equal(decoded["conditional"]["y_base"], decoded[stage]["y_base"])


def _refused(config, cityscapes_root, base_checkpoint, work, load_from=None):
    from mmengine.runner import Runner

    cfg = tiny_enhancement_config(config, cityscapes_root, work, base_checkpoint, max_epochs=1)
    cfg.load_from = None if load_from is None else str(load_from)
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError, match="set load_from=PATH") as info:
        runner.train()
    assert runner.iter == 0  # refused before the first step
    return str(info.value)


@pytest.mark.parametrize(
    "config", [REC_STANDALONE, REC_CONTINUED, SEG_STANDALONE, SEG_CONTINUED], ids=lambda p: p.name
)
def test_retraining_refuses_to_start_without_trained_enhancement_weights(
    config, cityscapes_root, base_checkpoint, tmp_path
):
    message = _refused(config, cityscapes_root, base_checkpoint, tmp_path / "none")
    assert "no checkpoint was loaded" in message
    # a depth base is not a trained enhancement model
    message = _refused(config, cityscapes_root, base_checkpoint, tmp_path / "b", base_checkpoint)
    assert "no enhancement layer" in message


def test_retraining_refuses_the_wrong_kind_of_enhancement_model(
    rec_run, cityscapes_root, base_checkpoint, tmp_path
):
    from mmengine.runner import Runner

    conditional = rec_run[1] / f"epoch_{REC_EPOCHS}.pth"
    # a segmentation model from a reconstruction checkpoint
    message = _refused(SEG_CONTINUED, cityscapes_root, base_checkpoint, tmp_path / "s", conditional)
    assert "outputs 'image'" in message
    # Continued from a Standalone model (whose entropy model learned without ŷ_b)
    cfg = tiny_enhancement_config(
        REC_STANDALONE, cityscapes_root, tmp_path / "standalone", base_checkpoint, max_epochs=1
    )
    cfg.load_from = str(conditional)
    Runner.from_cfg(cfg).train()
    standalone = tmp_path / "standalone" / "epoch_1.pth"
    message = _refused(REC_CONTINUED, cityscapes_root, base_checkpoint, tmp_path / "c", standalone)
    assert "is a standalone model" in message
    # a resumed Standalone run starts from its own (standalone) checkpoint: allowed
    cfg = tiny_enhancement_config(
        REC_STANDALONE, cityscapes_root, tmp_path / "standalone", base_checkpoint, max_epochs=2
    )
    cfg.resume = True
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.epoch == 2


def test_standalone_and_continued_exclude_each_other(base_checkpoint):
    from mmengine.config import Config
    from mmseg.registry import MODELS

    cfg = Config.fromfile(str(REC_CONTINUED))
    cfg.model.base.checkpoint = str(base_checkpoint)
    cfg.model.standalone = True
    with pytest.raises(ValueError, match="exclude each other"):
        MODELS.build(cfg.model)


# -- real bitstreams --------------------------------------------------------------------------
def test_reconstruction_file_round_trips_and_matches_the_model(rec_run, tmp_path):
    from PIL import Image

    from ttc_core import bitstream
    from ttc_core.cli import main as ttc

    runner, work = rec_run[:2]
    ckpt = str(work / f"epoch_{REC_EPOCHS}.pth")
    model = runner.model.eval()
    image, data = first_val_batch(runner)
    with torch.no_grad():
        pred = model.predict(data["inputs"], data["data_samples"])[0]
        y_e = model.enhancement.encode(model.enhancement_downsample(data["inputs"]))
        y_b = model.run_codec(data["inputs"]).y_base
    stream = tmp_path / "frame.ttc"
    assert ttc(["compress", image, "-c", ckpt, "-o", str(stream), "--layers", "all"]) == 0
    header = bitstream.unpack(stream.read_bytes())
    assert set(header.layers) == {"base", "enhancement"}
    assert ttc(["decompress", str(stream), "-c", ckpt, "-o", str(tmp_path / "out.pt")]) == 0
    out = torch.load(tmp_path / "out.pt")
    assert torch.equal(out["y_base"], y_b) and torch.equal(out["y_enhancement"], y_e)
    assert torch.equal(out["enhancement"][0], pred.pred_reconstruction.data)
    out_png = str(tmp_path / "out.png")
    assert ttc(["decompress", str(stream), "-c", ckpt, "-o", out_png, "--coded-size"]) == 0
    png = np.asarray(Image.open(tmp_path / "out.png"))
    expected = (pred.pred_reconstruction.data.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    assert png.shape == (32, 64, 3) and np.array_equal(png, expected)


def test_segmentation_file_decodes_to_the_models_label_map(seg_run, tmp_path):
    from PIL import Image

    from ttc_core.cli import main as ttc

    runner, work, _ = seg_run
    ckpt = str(work / "epoch_2.pth")
    spec = torch.load(ckpt, map_location="cpu")["ttc_codec"]
    assert spec["enhancement"]["output"] == "pseudo_image"
    assert spec["enhancement"]["task_decoder"] == "segmentation"  # a registered name
    model = runner.model.eval()
    image, data = first_val_batch(runner)
    with torch.no_grad():
        pred = model.predict(data["inputs"], data["data_samples"])[0]
    labels = pred.pred_sem_seg.data[0].numpy()
    stream = tmp_path / "frame.ttc"
    assert ttc(["compress", image, "-c", ckpt, "-o", str(stream), "--layers", "all"]) == 0
    out = tmp_path / "labels.png"
    assert ttc(["decompress", str(stream), "-c", ckpt, "-o", str(out), "--task-output"]) == 0
    decoded = np.asarray(Image.open(out))
    assert decoded.dtype == np.uint8 and decoded.shape == labels.shape == (64, 128)
    assert np.array_equal(decoded, labels)


# -- configs and building blocks ------------------------------------------------------------
ENH_CONFIGS = shipped_configs("ttc_enhancement")


def test_the_enhancement_configs_ship():
    names = {p.name for p in ENH_CONFIGS}
    for path in (
        SEG_PROPOSED,
        SEG_BASELINE,
        SEG_STANDALONE,
        SEG_CONTINUED,
        REC_PROPOSED,
        REC_BASELINE,
        REC_STANDALONE,
        REC_CONTINUED,
    ):
        assert path.name in names and path.parent == ENH_DIR


@pytest.mark.parametrize("path", ENH_CONFIGS, ids=lambda p: p.name)
def test_enhancement_config_loads_and_builds(path, base_checkpoint):
    from mmengine.config import Config
    from mmseg.registry import MODELS

    from ttc_mmseg.launch import check_config

    cfg = Config.fromfile(str(path))
    check_config(cfg, str(path))
    assert "ttc_mmseg" in cfg.custom_imports["imports"]
    # reference settings of the enhancement stage
    assert cfg.optim_wrapper.optimizer.type == "Adam" and cfg.optim_wrapper.optimizer.lr == 1e-4
    assert cfg.optim_wrapper.clip_grad.max_norm == 1.0
    assert cfg.train_dataloader.batch_size == 10
    assert cfg.model.test_cfg.mode == "whole"
    types = [t["type"] for t in cfg.train_dataloader.dataset.dataset.pipeline]
    assert "RandomFlip" in types and "TTCColorJitter" in types
    assert "RandomCrop" not in types and "RandomResize" not in types
    assert {h["type"] for h in cfg.custom_hooks} >= {"TTCCheckpointHook"}
    expected_base = "ttc-baseline" if "baseline" in path.name else "ttc-proposed"
    assert expected_base in cfg.model.base.checkpoint
    standalone, continued = "standalone" in path.name, "continued" in path.name
    assert cfg.model.standalone is standalone and cfg.model.continued is continued
    if standalone or continued:
        assert cfg.load_from is None  # set by the user: the trained conditional model
        # an equal budget: the same fixed number of epochs, no early stopping
        assert cfg.train_cfg.max_epochs == 100
        assert {h["type"] for h in cfg.custom_hooks} == {"TTCCheckpointHook"}
        assert cfg.default_hooks.checkpoint.save_best == "selection/bpp_estimated"
    cfg.model.base.checkpoint = str(base_checkpoint)
    model = MODELS.build(cfg.model)
    assert model.enhancement_kwargs["latent_channels"] == 192
    assert model.stage == (
        "standalone" if standalone else "continued" if continued else "conditional"
    )
    trainable = {k for k, p in model.named_parameters() if p.requires_grad}
    if standalone or continued:
        assert all(k.startswith("enhancement.entropy_model.") for k in trainable)
    else:
        assert not any(k.startswith("base.") for k in trainable)
    if cfg.model.type == "TTCEnhancementSegmentor":
        assert model.enhancement_kwargs["synthesis_blocks"] == 1
        assert model.bpp_pixels == "frame"
        assert type(model.decode_head).__name__ == "UpsampledASPPHead"
        assert model.decode_head.num_classes == 19
        # a ResNet-50: mmseg's own (depth 50) or timm's (TIMMBackbone model_name resnet50)
        backbone = cfg.model.backbone
        assert backbone.get("depth") == 50 or backbone.get("model_name") == "resnet50", backbone
        assert type(model.auxiliary_head).__name__ == "UpsampledFCNHead"
    else:
        assert model.enhancement_kwargs["synthesis_blocks"] == 3
        assert model.bpp_pixels == "coded"


def test_a_base_work_dir_is_read_through_its_report_not_guessed(depth_base, tmp_path):
    """model.base.checkpoint names a file, or a finished run's directory whose ttc_report.json
    names the chosen checkpoint; a directory without one is refused, listing its files."""
    from ttc_core.checkpoint import CheckpointError
    from ttc_core.selection import write_report
    from ttc_mmseg.enhancement import FrozenBase, resolve_checkpoint

    chosen = depth_base / "epoch_50.pth"
    assert resolve_checkpoint(str(chosen)) == str(chosen)
    # the fixture's Runner wrote checkpoints but no report (tools/train.py writes it): refused,
    # although it holds exactly one best_*.pth that the old lookup took
    refused = r"without a ttc_report\.json.*name the checkpoint file"
    with pytest.raises(CheckpointError, match=refused):
        resolve_checkpoint(str(depth_base))
    with pytest.raises(CheckpointError, match="epoch_50.pth"):  # the files it holds are listed
        resolve_checkpoint(str(depth_base))
    with pytest.raises(CheckpointError, match="does not exist"):
        resolve_checkpoint(str(depth_base / "missing"))

    run = tmp_path / "finished_base"
    write_report(run, {}, dataset="val", checkpoint=str(chosen), iteration=50, selection=None)
    assert resolve_checkpoint(str(run)) == str(chosen)
    base = FrozenBase(checkpoint=str(run))
    assert base.source == str(chosen)
    assert base.latent_channels == 16 and base.factor == 2
    # a relative name is relative to the run directory, as the study reads it
    (run / "best.pth").symlink_to(chosen)
    write_report(run, {}, dataset="val", checkpoint="best.pth", iteration=50, selection=None)
    assert resolve_checkpoint(str(run)) == str(run / "best.pth")
    write_report(run, {}, dataset="val", checkpoint="gone.pth", iteration=50, selection=None)
    with pytest.raises(CheckpointError, match="names the checkpoint .*gone.pth.*does not exist"):
        resolve_checkpoint(str(run))


def test_input_normalisation_must_match_the_base(base_checkpoint):
    from mmengine.config import Config
    from mmseg.registry import MODELS

    cfg = Config.fromfile(str(REC_PROPOSED))
    cfg.model.base.checkpoint = str(base_checkpoint)
    cfg.model.data_preprocessor.mean = [0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="normalise the frames as the base saw them"):
        MODELS.build(cfg.model)


def test_upsampled_heads_predict_at_frame_size():
    from mmseg.registry import MODELS

    head = MODELS.build(
        dict(type="UpsampledASPPHead", in_channels=8, channels=4, num_classes=19, dilations=(1, 2))
    )
    feats = [torch.randn(1, 8, 4, 8)]
    logits = head.predict(feats, [dict(img_shape=(64, 128), pad_shape=(64, 128))], {})
    assert logits.shape == (1, 19, 64, 128)
    assert head.upsample.conv.in_channels == 19


@pytest.mark.slow
def test_train_test_and_standalone_from_the_command_line(
    cityscapes_root, base_checkpoint, tmp_path
):
    """tools/train.py → tools/test.py (actual bits) → the Standalone in one command."""
    import os
    import subprocess
    import sys

    from ttc_mmseg_testutils import REPO

    env = dict(os.environ, OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")

    def run(*args):
        proc = subprocess.run(
            [sys.executable, *map(str, args)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        return proc

    cfg = write_tiny_enhancement_config(
        tmp_path / "seg.py", SEG_PROPOSED, cityscapes_root, base_checkpoint
    )
    work = tmp_path / "work"
    run("tools/train.py", cfg, "--work-dir", work)
    ckpt = work / "epoch_1.pth"
    run(
        "tools/test.py",
        cfg,
        ckpt,
        "--work-dir",
        work / "test",
        "--cfg-options",
        "model.test_cfg.actual_bits=True",
    )
    results = [json.loads(p.read_text()) for p in (work / "test").glob("*/[0-9]*_[0-9]*.json")]
    assert len(results) == 1
    metrics = results[0]
    assert "mIoU" in metrics and metrics["bpp_estimated"] > 0 and metrics["bpp"] > 0
    assert metrics["bpp_enhancement"] > 0 and metrics["bpp_base"] > 0
    # tools/train.py reported the chosen checkpoint on the val split, with real bits
    report = json.loads((work / "ttc_report.json").read_text())
    assert report["selection"]["metric"] == "selection/mIoU"
    assert report["bpp"] > 0 and "mIoU" in report and "bpp_enhancement" in report
    standalone = write_tiny_enhancement_config(
        tmp_path / "standalone.py", SEG_STANDALONE, cityscapes_root, base_checkpoint
    )
    run(
        "tools/train.py",
        standalone,
        "--work-dir",
        tmp_path / "standalone",
        "--cfg-options",
        f"load_from={ckpt}",
    )
    spec = torch.load(tmp_path / "standalone" / "epoch_1.pth", map_location="cpu")["ttc_codec"]
    assert spec["enhancement"]["kwargs"]["standalone"] is True


# -- the demo's enhancement configs -------------------------------------------------------------
DEMO_RECON = "ttc-enh-recon{}_synthesis-n3_1xb4-30e_synthetic-cityscapes-halfres-recon-64x128.py"
DEMO_SEG = "ttc-enh-{}_deeplabv3_r18-d8_1xb4-30e_synthetic-cityscapes-seg-64x128.py"


def test_the_demo_ships_scalable_reconstruction_and_both_retraining_controls():
    from mmengine.config import Config
    from ttc_mmseg_testutils import DEMO_DIR

    stages = {}
    for name in [DEMO_RECON.format(s) for s in ("", "-standalone", "-continued")] + [
        DEMO_SEG.format(s) for s in ("proposed", "baseline", "standalone", "continued")
    ]:
        cfg = Config.fromfile(str(DEMO_DIR / name))
        stages[name] = (cfg.model.type, cfg.model.standalone, cfg.model.continued)
        assert cfg.train_cfg.max_epochs == 30  # equal budgets
        assert cfg.model.test_cfg.actual_bits is False  # the report codes real bits
    assert stages[DEMO_RECON.format("")] == ("TTCReconstructionEnhancement", False, False)
    assert stages[DEMO_RECON.format("-standalone")] == ("TTCReconstructionEnhancement", True, False)
    assert stages[DEMO_RECON.format("-continued")] == ("TTCReconstructionEnhancement", False, True)
    assert stages[DEMO_SEG.format("continued")] == ("TTCEnhancementSegmentor", False, True)


def test_demo_reconstruction_configs_train_and_report(
    cityscapes_root, base_checkpoint, tmp_path, monkeypatch
):
    """The demo's conditional → Standalone / Continued chain through tools/train.py's code,
    one epoch each, on the tests' depth base: each run writes its ttc_report.json."""
    from ttc_mmseg_testutils import DEMO_DIR

    from ttc_mmseg.launch import train

    monkeypatch.setenv("CITYSCAPES_ROOT", str(cityscapes_root))

    def run(suffix, *options):
        work = tmp_path / (suffix or "conditional")
        train(
            [
                str(DEMO_DIR / DEMO_RECON.format(suffix)),
                "--work-dir",
                str(work),
                "--cfg-options",
                f"model.base.checkpoint={base_checkpoint}",
                "train_cfg.max_epochs=1",
                "train_cfg.val_interval=1",
                "default_hooks.checkpoint.interval=1",
                f"visualizer.name=visualizer_demo_{suffix or 'conditional'}",
                *options,
            ]
        )
        return work, json.loads((work / "ttc_report.json").read_text())

    work, report = run("")
    assert report["selection"]["metric"] == "selection/psnr_scalable"
    for key in ("psnr_scalable", "bpp", "bpp_base", "bpp_enhancement", "bpp_estimated"):
        assert report[key] > 0, key
    assert report["bpp"] == pytest.approx(report["bpp_base"] + report["bpp_enhancement"])
    conditional = report["checkpoint"]
    for suffix in ("-standalone", "-continued"):
        _, retrained = run(suffix, f"load_from={conditional}")
        assert retrained["selection"]["metric"] == "selection/bpp_estimated"
        # f_e and g_e are the conditional model's: the same reconstruction, another rate
        assert retrained["psnr_scalable"] == pytest.approx(report["psnr_scalable"], abs=1e-4)
        assert retrained["bpp_base"] == pytest.approx(report["bpp_base"])


def test_an_enhancement_takes_the_downsampling_of_its_base(tmp_path):
    """A base built with ``downsampling=8`` (bottleneck kwargs): the enhancement layer on it
    takes that stride from the base's codec spec, so ŷ_e aligns with ŷ_b; another one is
    refused, naming where the value comes from."""
    from mmengine.config import Config
    from mmseg.registry import MODELS
    from ttc_mmseg_testutils import PROPOSED, TINY_BOTTLENECK, TINY_ENHANCEMENT

    base_cfg = Config.fromfile(str(PROPOSED))
    base_cfg.model.backbone.bottleneck.update({**TINY_BOTTLENECK, "downsampling": 8})
    base = MODELS.build(base_cfg.model)
    assert base.backbone.bottleneck.stride == 8
    path = tmp_path / "base_s8.pth"
    torch.save({"state_dict": base.state_dict(), "ttc_codec": base.codec_spec()}, path)

    cfg = Config.fromfile(str(REC_PROPOSED))
    cfg.model.base.checkpoint = str(path)
    cfg.model.enhancement.update(TINY_ENHANCEMENT)
    model = MODELS.build(cfg.model)
    assert model.base.bottleneck.stride == model.enhancement.stride == 8
    x = model.base.coded_input(torch.rand(1, 3, 64, 128))
    with torch.no_grad():
        y_b = model.base.bottleneck.encode(x)
        y_e = model.enhancement.encode(x)
    assert y_b.shape[-2:] == y_e.shape[-2:] == (4, 8)

    cfg.model.enhancement.downsampling = 4
    with pytest.raises(ValueError, match="downsampling=4 but the base's downsampling gives 8"):
        MODELS.build(cfg.model)
