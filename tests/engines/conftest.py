"""Fixtures for the engine tests: tiny Qwen3-TTS checkpoints and a quiet torch."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.qwen_tiny import TinyQwen, build_tiny_checkpoint


@pytest.fixture(scope="session")
def tiny_qwen(tmp_path_factory: pytest.TempPathFactory) -> TinyQwen:
    """Random Base and VoiceDesign checkpoints, built once per run (about a second each)."""
    root = tmp_path_factory.mktemp("qwen-tiny")
    return TinyQwen(
        base=build_tiny_checkpoint(root / "base", "base"),
        voice_design=build_tiny_checkpoint(root / "voice_design", "voice_design"),
    )


@pytest.fixture(scope="module")
def torch_single_thread() -> Iterator[None]:
    """Run torch on one thread: the tiny models are all per-call overhead, and on a
    shared two-core machine extra threads make them several times slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _seeded_torch(request: pytest.FixtureRequest) -> None:
    # Sampling is random; a fixed seed makes a failure reproducible.
    if "tiny_qwen" in request.fixturenames:
        import torch

        torch.manual_seed(1234)
