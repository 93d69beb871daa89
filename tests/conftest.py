import pytest

from helpers import STAHL


@pytest.fixture
def stahl_csv():
    if not STAHL.exists():
        pytest.skip(f"verified Stahl copy not found at {STAHL} (set BRAINGAN_STAHL)")
    return STAHL
