"""Fixtures for the ttc-mmseg tests: a tiny generated Cityscapes dataset."""

from __future__ import annotations

from pathlib import Path

import pytest
from ttc_mmseg_testutils import FRAME


@pytest.fixture(scope="session")
def cityscapes_root(tmp_path_factory) -> Path:
    """5 train + 2 val frames of 64×128 in the Cityscapes layout (disparity, camera, labels).

    The shipped configs fit on 4 of the 5 training frames (2 batches of 2) and select on the
    fifth (their 10 % selection split, at least one frame).
    """
    from ttc_core.datasets import write_cityscapes_dataset

    root = tmp_path_factory.mktemp("cityscapes")
    write_cityscapes_dataset(root, num_train=5, num_val=2, size=FRAME, seed=0)
    return root


@pytest.fixture(autouse=True, scope="session")
def mmseg_scope():
    """Build registry names in mmseg's scope, as a config's ``default_scope='mmseg'`` does."""
    from mmengine.registry import init_default_scope

    import ttc_mmseg  # noqa: F401  (registration)

    init_default_scope("mmseg")


@pytest.fixture(scope="session")
def depth_base(cityscapes_root, tmp_path_factory) -> Path:
    """A tiny depth base trained by MMEngine's Runner from the shipped Proposed config.

    100 iterations at lr 3e-3 (not the reference 1e-4) and α = 0.01: at initialisation the
    analysis outputs are below 0.5, so ŷ_b would be all zeros and carry no information for
    the enhancement layer to be conditioned on (after 100 iterations about half of ŷ_b is
    non-zero, ≈ 270 bits per frame). Returns the work_dir (``epoch_50.pth``,
    ``best_selection_rmse_*.pth``).
    """
    from mmengine.runner import Runner
    from ttc_mmseg_testutils import PROPOSED, tiny_config

    work = tmp_path_factory.mktemp("depth_base")
    cfg = tiny_config(PROPOSED, cityscapes_root, work, max_epochs=50)
    cfg.optim_wrapper.optimizer.lr = 3e-3
    cfg.model.codec_loss.alpha = 0.01  # a low rate weight: a rich latent
    cfg.train_cfg.val_interval = 50
    cfg.default_hooks.checkpoint.interval = 50
    cfg.default_hooks.logger.interval = 10
    # its own visualiser: mmseg's runtime names every one 'visualizer', and a second Runner in
    # the process would write its scalars into the first one's work_dir
    cfg.visualizer.name = f"visualizer_{work.name}"
    Runner.from_cfg(cfg).train()
    return work
