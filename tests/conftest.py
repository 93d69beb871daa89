import os

import pytest

from helpers import STAHL


@pytest.fixture
def stahl_csv():
    if not STAHL.exists():
        pytest.skip(f"verified Stahl copy not found at {STAHL} (set BRAINGAN_STAHL)")
    return STAHL


def pytest_configure(config):
    # Under pytest-xdist (`-n 2`, the unit lane) each worker gets one of the 2 cores: two
    # workers with a full thread pool each would run many times slower. Tiny runs read
    # BRAINGAN_TEST_THREADS, stage subprocesses inherit OMP_NUM_THREADS.
    if os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ.setdefault("BRAINGAN_TEST_THREADS", "1")
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        import torch

        torch.set_num_threads(1)
