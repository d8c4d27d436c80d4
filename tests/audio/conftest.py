"""Fixtures for audio tests; the helpers themselves live in tests/support/audio.py."""

from __future__ import annotations

import pytest

from tests.support.audio import Clip, speech


@pytest.fixture(scope="session")
def clean() -> Clip:
    """About 12 s of clean English speech at -21 LUFS (cached for the run)."""
    return speech()
