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
ENH_DIR = CONFIG_DIR / "ttc_enhancement"
_SEG = "deeplabv3_r50-d8_1xb10-100e_cityscapes-seg-1024x2048.py"
_REC = "synthesis-n3_1xb10-100e_cityscapes-halfres-recon-1024x2048.py"
SEG_PROPOSED = ENH_DIR / f"ttc-enh-proposed_{_SEG}"
SEG_BASELINE = ENH_DIR / f"ttc-enh-baseline_{_SEG}"
SEG_STANDALONE = ENH_DIR / f"ttc-enh-standalone_{_SEG}"
SEG_CONTINUED = ENH_DIR / f"ttc-enh-continued_{_SEG}"
REC_PROPOSED = ENH_DIR / f"ttc-enh-proposed_{_REC}"
REC_BASELINE = ENH_DIR / f"ttc-enh-baseline_{_REC}"
REC_STANDALONE = ENH_DIR / f"ttc-enh-standalone_{_REC}"
REC_CONTINUED = ENH_DIR / f"ttc-enh-continued_{_REC}"
DEMO_DIR = CONFIG_DIR / "demo"

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


#: enhancement layer of the tests (the base's is TINY_BOTTLENECK: side channels 16)
TINY_ENHANCEMENT = dict(
    latent_channels=16,
    analysis_channels=(8, 8, 16),
    analysis_blocks=1,
    synthesis_channels=(16, 8, 8),
)
#: DeepLabV3 of the tests: a ResNetV1c-18 with 16 base channels (stages 16/32/64/128 wide)
TINY_RESNET = dict(depth=18, stem_channels=16, base_channels=16)
TINY_ASPP = dict(in_channels=128, channels=16, dilations=(1, 2, 3, 4))
TINY_FCN = dict(in_channels=64, channels=8)


def shipped_configs(subdir: str | None = None) -> list[Path]:
    root = CONFIG_DIR / subdir if subdir else CONFIG_DIR
    return sorted(p for p in root.rglob("*.py") if "_base_" not in p.parts)


def split_datasets(loader) -> list:
    """The dataset configs of a loader that hold images: the wrapped training split of a
    ``TTCSelectionSplit``, the dataset itself otherwise."""
    dataset = loader.dataset
    return [dataset.dataset] if dataset.get("type") == "TTCSelectionSplit" else [dataset]


def set_data_root(cfg, data_root) -> None:
    for key in ("train_dataloader", "val_dataloader", "test_dataloader"):
        for dataset in split_datasets(cfg[key]):
            dataset.data_root = str(data_root)


def tiny_config(path, data_root, work_dir, max_epochs: int = 2, batch_size: int = 2):
    """A shipped config, shrunk to run in seconds on one CPU core (architecture unchanged
    except for the bottleneck's widths)."""
    from mmengine.config import Config

    cfg = Config.fromfile(str(path))
    cfg.work_dir = str(work_dir)
    cfg.launcher = "none"
    cfg.model.backbone.bottleneck.update(TINY_BOTTLENECK)
    _tiny_loaders(cfg, data_root, batch_size)
    cfg.train_cfg.max_epochs = max_epochs
    cfg.default_hooks.logger.interval = 1
    cfg.env_cfg.cudnn_benchmark = False
    cfg.randomness = dict(seed=0)
    return cfg


def _tiny_loaders(cfg, data_root, batch_size: int) -> None:
    for key in ("train_dataloader", "val_dataloader", "test_dataloader"):
        loader = cfg[key]
        loader.num_workers = 0
        loader.persistent_workers = False
        loader.batch_size = batch_size if key == "train_dataloader" else 1
    set_data_root(cfg, data_root)


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
    model = f"dict(backbone=dict(bottleneck={TINY_BOTTLENECK!r}))"
    return _write_child_config(path, base, data_root, model, max_epochs, extra)


def _write_child_config(
    path: Path, base: Path, data_root: Path, model: str, max_epochs: int, extra: str
) -> Path:
    """A child config of ``base`` with ``model = <model>``, tiny CPU loaders on ``data_root``,
    ``max_epochs`` and the logging / seeding of the tests, then ``extra`` verbatim."""
    root = f"dict(data_root={str(data_root)!r})"
    loaders = "\n".join(
        f"{key} = dict(batch_size={2 if key == 'train_dataloader' else 1}, num_workers=0, "
        f"persistent_workers=False, dataset="
        f"{root if key == 'test_dataloader' else f'dict(dataset={root})'})"
        for key in ("train_dataloader", "val_dataloader", "test_dataloader")
    )
    text = f"""_base_ = [{str(base)!r}]
model = {model}
{loaders}
train_cfg = dict(max_epochs={max_epochs})
default_hooks = dict(logger=dict(interval=1))
env_cfg = dict(cudnn_benchmark=False)
randomness = dict(seed=0)
{extra}
"""
    path.write_text(text)
    return path


def tiny_enhancement_config(
    path,
    data_root,
    work_dir,
    base_checkpoint,
    max_epochs: int = 2,
    batch_size: int = 2,
    lr: float | None = None,
    val_interval: int = 1,
):
    """A shipped enhancement config, shrunk like :func:`tiny_config` (tiny enhancement layer,
    ResNetV1c-18 DeepLabV3 with narrow heads), on the base checkpoint of the tests."""
    from mmengine.config import Config

    cfg = Config.fromfile(str(path))
    cfg.work_dir = str(work_dir)
    cfg.launcher = "none"
    cfg.model.base.checkpoint = str(base_checkpoint)
    cfg.model.enhancement.update(TINY_ENHANCEMENT)
    if cfg.model.type == "TTCEnhancementSegmentor":
        cfg.model.backbone.update(TINY_RESNET)
        cfg.model.decode_head.update(TINY_ASPP)
        cfg.model.auxiliary_head.update(TINY_FCN)
    _tiny_loaders(cfg, data_root, batch_size)
    if lr is not None:
        cfg.optim_wrapper.optimizer.lr = lr
    cfg.train_cfg.max_epochs = max_epochs
    cfg.train_cfg.val_interval = val_interval
    cfg.default_hooks.logger.interval = 1
    cfg.env_cfg.cudnn_benchmark = False
    cfg.randomness = dict(seed=0)
    # a visualiser of its own, so that its scalars.json lands in this run's work_dir (mmseg's
    # runtime names every visualiser 'visualizer': later Runners would reuse the first one)
    cfg.visualizer.name = f"visualizer_{Path(work_dir).parent.name}_{Path(work_dir).name}"
    return cfg


def write_tiny_enhancement_config(
    path: Path, base: Path, data_root: Path, base_checkpoint: Path, max_epochs: int = 1, extra=""
) -> Path:
    """A child config file of a shipped enhancement config with the overrides of
    :func:`tiny_enhancement_config`, for runs through the command-line launchers."""
    from mmengine.config import Config

    seg = Config.fromfile(str(base)).model.type == "TTCEnhancementSegmentor"
    network = (
        f"backbone={TINY_RESNET!r}, decode_head={TINY_ASPP!r}, auxiliary_head={TINY_FCN!r}, "
        if seg
        else ""
    )
    model = (
        f"dict({network}base=dict(checkpoint={str(base_checkpoint)!r}), "
        f"enhancement={TINY_ENHANCEMENT!r})"
    )
    return _write_child_config(path, base, data_root, model, max_epochs, extra)
