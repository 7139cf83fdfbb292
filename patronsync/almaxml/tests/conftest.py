"""Shared fixtures: small feeds written on the fly."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).with_name("data")


@pytest.fixture
def data_dir() -> Path:
    """The golden files beside the tests."""
    return DATA
