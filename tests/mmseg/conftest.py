"""Fixtures for the ttc-mmseg tests: a tiny generated Cityscapes dataset."""

from __future__ import annotations

from pathlib import Path

import pytest
from ttc_mmseg_testutils import FRAME


@pytest.fixture(scope="session")
def cityscapes_root(tmp_path_factory) -> Path:
    """4 train + 2 val frames of 64×128 in the Cityscapes layout (disparity, camera, labels)."""
    from ttc_core.datasets import write_cityscapes_dataset

    root = tmp_path_factory.mktemp("cityscapes")
    write_cityscapes_dataset(root, num_train=4, num_val=2, size=FRAME, seed=0)
    return root


@pytest.fixture(autouse=True, scope="session")
def mmseg_scope():
    """Build registry names in mmseg's scope, as a config's ``default_scope='mmseg'`` does."""
    from mmengine.registry import init_default_scope

    import ttc_mmseg  # noqa: F401  (registration)

    init_default_scope("mmseg")
