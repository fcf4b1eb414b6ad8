"""Helpers of the ttc-mmseg tests: shipped config paths, tiny overrides, fake batches."""

from __future__ import annotations

from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]
CONFIG_DIR = REPO / "configs" / "mmseg"
DEPTH_DIR = CONFIG_DIR / "ttc_depth"
PROPOSED = DEPTH_DIR / "ttc-proposed_lraspp_m-v3-d8_1xb10-100e_cityscapes-disparity-1024x2048.py"
BASELINE = DEPTH_DIR / "ttc-baseline_lraspp_m-v3-d8_1xb10-100e_cityscapes-disparity-1024x2048.py"
METRIC_DEPTH = DEPTH_DIR / "ttc-proposed_lraspp_m-v3-d8_1xb10-100e_cityscapes-depth-1024x2048.py"

#: frame size of the generated data (height, width): the bottleneck codes 32×64
FRAME = (64, 128)
TINY_BOTTLENECK = dict(
    latent_channels=16,
    analysis_channels=(8, 8, 16),
    analysis_blocks=1,
    synthesis_channels=(16, 8, 8),
    task_blocks=1,
    recon_blocks=1,
)


def shipped_configs() -> list[Path]:
    return sorted(p for p in CONFIG_DIR.rglob("*.py") if "_base_" not in p.parts)


def tiny_config(path, data_root, work_dir, max_epochs: int = 2, batch_size: int = 2):
    """A shipped config, shrunk to run in seconds on one CPU core (architecture unchanged
    except for the bottleneck's widths)."""
    from mmengine.config import Config

    cfg = Config.fromfile(str(path))
    cfg.work_dir = str(work_dir)
    cfg.launcher = "none"
    cfg.model.backbone.bottleneck.update(TINY_BOTTLENECK)
    for key in ("train_dataloader", "val_dataloader", "test_dataloader"):
        loader = cfg[key]
        loader.num_workers = 0
        loader.persistent_workers = False
        loader.batch_size = batch_size if key == "train_dataloader" else 1
        loader.dataset.data_root = str(data_root)
    cfg.train_cfg.max_epochs = max_epochs
    cfg.default_hooks.logger.interval = 1
    cfg.env_cfg.cudnn_benchmark = False
    cfg.randomness = dict(seed=0)
    return cfg


def build_tiny_model(path=PROPOSED, **codec_loss):
    """The model of a shipped config with the tiny bottleneck (no data needed)."""
    from mmengine.config import Config
    from mmseg.registry import MODELS

    import ttc_mmseg  # noqa: F401

    cfg = Config.fromfile(str(path))
    cfg.model.backbone.bottleneck.update(TINY_BOTTLENECK)
    cfg.model.codec_loss.update(codec_loss)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model


def fake_batch(n: int = 2, size=FRAME, seed: int = 0):
    """Normalised inputs and SegDataSamples with a random disparity target (some invalid)."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample

    g = torch.Generator().manual_seed(seed)
    inputs = torch.randn(n, 3, *size, generator=g)
    samples = []
    for _ in range(n):
        gt = torch.rand(1, *size, generator=g) * 0.05
        gt[:, :, : size[1] // 8] = 0  # invalid strip
        s = SegDataSample(metainfo=dict(img_shape=size, ori_shape=size, pad_shape=size))
        s.gt_depth_map = PixelData(data=gt)
        samples.append(s)
    return inputs, samples


def write_tiny_config(
    path: Path, base: Path, data_root: Path, max_epochs: int = 1, extra: str = ""
) -> Path:
    """A child config file of a shipped config with the same overrides as :func:`tiny_config`,
    for runs through the command-line launchers."""
    loaders = "\n".join(
        f"{key} = dict(batch_size={2 if key == 'train_dataloader' else 1}, num_workers=0, "
        f"persistent_workers=False, dataset=dict(data_root={str(data_root)!r}))"
        for key in ("train_dataloader", "val_dataloader", "test_dataloader")
    )
    text = f"""_base_ = [{str(base)!r}]
model = dict(backbone=dict(bottleneck={TINY_BOTTLENECK!r}))
{loaders}
train_cfg = dict(max_epochs={max_epochs})
default_hooks = dict(logger=dict(interval=1))
env_cfg = dict(cudnn_benchmark=False)
randomness = dict(seed=0)
{extra}
"""
    path.write_text(text)
    return path
