"""A voice's speaker is analysed once, ever: when it is cloned (in the API's CPU
processes), or, for a voice saved without an analysis, by the first worker that speaks
with it, which stores it. A fresh engine given the stored profile analyses nothing."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import psycopg
import pytest
import soundfile as sf

from tests.jobs.conftest import Studio
from tests.support import audio
from utter.db import Database
from utter.engines.adapt import PROFILE_VERSION
from utter.engines.base import Audio, JobControl, Reference
from utter.engines.local import LocalEngine


async def stored_profile(db: Database, voice_id: str) -> Any:
    async with db.as_service() as conn:
        cur = await conn.execute(
            "select speaker_profile from public.voices where id = %s", (voice_id,)
        )
        row = await cur.fetchone()
    assert row is not None
    return row["speaker_profile"]


async def test_a_cloned_voice_keeps_its_profile_and_a_fresh_engine_uses_it(
    studio: Studio, monkeypatch: pytest.MonkeyPatch
) -> None:
    user, voice_id = await studio.user_with_voice()
    record = await stored_profile(studio.db, voice_id)
    assert record["version"] == PROFILE_VERSION
    # The reference is Piper's joe voice: Praat reads it near 91 Hz.
    assert 80.0 < np.exp(record["profile"]["f0_log_mean"]) < 105.0

    def analysis(*args: object, **kwargs: object) -> None:
        raise AssertionError("the voice was analysed again")

    monkeypatch.setattr("utter.engines.adapt.analyse_speaker", analysis)
    monkeypatch.setattr("utter.engines.local.analyse_reference", analysis)
    monkeypatch.setattr("utter.engines.local.measure_piper", analysis)
    preview = await studio.client.get(f"/api/voices/{voice_id}/preview", headers=user.headers)
    wav = await studio.client.get(preview.headers["location"])
    samples, rate = sf.read(io.BytesIO(wav.content), dtype="float32")
    reference = Reference(
        voice_id, Audio(samples, rate), " ".join(audio.SENTENCES), "English", record
    )
    engine = LocalEngine()
    try:
        spoken = engine.generate("Good morning, and welcome.", "English", reference, JobControl())
    finally:
        engine.close()
    assert spoken.duration > 0.5 and float(np.max(np.abs(spoken.samples))) > 0.1


async def test_a_voice_without_a_profile_is_analysed_by_one_worker_once_and_stored(
    studio: Studio, monkeypatch: pytest.MonkeyPatch
) -> None:
    user, voice_id = await studio.user_with_voice()
    async with studio.db.as_service() as conn:
        await conn.execute(
            "update public.voices set speaker_profile = null where id = %s", (voice_id,)
        )
    import utter.engines.local as local

    calls: list[int] = []
    analyse = local.analyse_reference

    def counted(*args: Any, **kwargs: Any) -> dict[str, Any]:
        calls.append(1)
        return analyse(*args, **kwargs)

    monkeypatch.setattr("utter.engines.local.analyse_reference", counted)
    for _ in range(2):
        started = await studio.generate(user, voice_id, "Good morning.")
        task = await studio.wait_for(user, started["task_id"])
        assert task["status"] == "completed", task
    assert len(calls) == 1
    record = await stored_profile(studio.db, voice_id)
    assert record["version"] == PROFILE_VERSION and record["profile"] is not None


async def test_clients_cannot_write_a_voice_s_profile(studio: Studio) -> None:
    user, voice_id = await studio.user_with_voice()
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        async with studio.db.as_user(user.id) as conn:
            await conn.execute(
                "update public.voices set speaker_profile = '{}' where id = %s", (voice_id,)
            )
    assert (await stored_profile(studio.db, voice_id))["version"] == PROFILE_VERSION
    # Nor through the API's rename, which ignores fields that are not the client's.
    await studio.client.patch(
        f"/api/voices/{voice_id}",
        json={"name": "Renamed", "speaker_profile": {"version": PROFILE_VERSION}},
        headers=user.headers,
    )
    assert (await stored_profile(studio.db, voice_id))["profile"] is not None
