"""The API's CPU processes: work runs outside the API's process, below its priority, and
a process killed under the pool costs one retryable call, not the pool."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

from utter.audio.errors import AudioError
from utter.cpu import CpuPool, CpuUnavailable
from utter.errors import Unavailable


def _pid_and_nice() -> tuple[int, int]:
    return os.getpid(), os.nice(0)


def _refuse() -> None:
    raise AudioError("The audio file is corrupt or truncated.", "corrupt")


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


@pytest.fixture
def pool() -> Iterator[CpuPool]:
    cpu = CpuPool(1, niceness=5)
    try:
        yield cpu
    finally:
        cpu.close()


async def test_calls_run_in_another_process_at_lower_priority(pool: CpuPool) -> None:
    pid, nice = await pool.run(_pid_and_nice)
    assert pid != os.getpid()
    assert nice >= os.nice(0) + 5


async def test_an_audio_error_comes_back_whole(pool: CpuPool) -> None:
    with pytest.raises(AudioError) as raised:
        await pool.run(_refuse)
    assert raised.value.reason == "corrupt"
    assert raised.value.message == "The audio file is corrupt or truncated."


async def test_a_killed_process_fails_one_call_and_the_pool_recovers(pool: CpuPool) -> None:
    first, _ = await pool.run(_pid_and_nice)
    with pytest.raises(CpuUnavailable):
        await pool.run(_die)
    second, _ = await pool.run(_pid_and_nice)
    assert second not in (first, os.getpid())


async def test_a_killed_process_is_unavailable_for_a_second(pool: CpuPool) -> None:
    with pytest.raises(Unavailable) as raised:
        await pool.run(_die)
    assert isinstance(raised.value, CpuUnavailable)
    # The pool is rebuilt at once, so the caller may try again in a second.
    assert raised.value.retry_after == 1
    assert raised.value.message == (
        "The server could not process the audio just now. Please try again."
    )
