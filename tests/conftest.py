"""Shared test configuration: CPU only, few threads, deterministic seeds."""

import os

# tiny test models run fastest single-threaded, and 2-core CI machines are shared
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield
