"""Saving a designed voice: from a finished preview task (preferred) or an uploaded preview.

From a task, nothing crosses the network twice: the preview the worker stored
becomes the voice's reference (normalised and measured like any clone) and the
preview object is removed, so unsaved previews do not pile up in storage. The
upload path keeps the multipart form existing clients send, with the bucket's
byte limit rather than 1 MB, which a preview of 500 characters can exceed.
"""

from __future__ import annotations

from dataclasses import replace
from uuid import UUID, uuid4

from pydantic import BaseModel

from utter.audio.measure import ReferenceReport
from utter.audio.validate import ReferenceLimits
from utter.cpu import CpuPool
from utter.db import Database
from utter.db.queries import tasks as task_q
from utter.errors import Conflict, Invalid, NotFound
from utter.services.voices import (
    BUCKET,
    CloneRules,
    Voice,
    analyse_speaker,
    check_description,
    check_name,
    prepare,
    reference_key,
    store_voice,
)
from utter.storage import Storage
from utter.storage.base import ObjectNotFound

# A preview of a short sentence can be under the 3 s a clone needs; it is still a
# good reference, made by the engine itself in a quiet room.
DESIGN_MIN_SECONDS = 1.0
ALREADY_SAVED = "This preview was already saved as a voice."
NOT_FINISHED = "The design preview is not finished (or has expired)."


def _design_limits(rules: CloneRules) -> ReferenceLimits:
    return replace(rules.limits, min_seconds=min(rules.limits.min_seconds, DESIGN_MIN_SECONDS))


class DesignedVoice(BaseModel):
    """The answer to saving a designed voice: the voice, and a signed URL to hear it."""

    id: UUID
    name: str
    description: str | None
    language: str
    source: str
    preview_url: str
    report: ReferenceReport | None


async def _designed(
    storage: Storage, voice: Voice, *, user_id: UUID, base_url: str
) -> DesignedVoice:
    url = await storage.signed_download_url(
        BUCKET, reference_key(user_id, voice.id), user_id=user_id, base_url=base_url
    )
    return DesignedVoice(
        id=voice.id,
        name=voice.name,
        description=voice.description,
        language=voice.language,
        source=voice.source,
        preview_url=url,
        report=voice.report,
    )


async def save_from_task(
    db: Database,
    storage: Storage,
    cpu: CpuPool,
    *,
    user_id: UUID,
    task_id_raw: str | None,
    name: str | None,
    rules: CloneRules,
    base_url: str,
) -> DesignedVoice:
    name = check_name(name)
    try:
        task_id = UUID(task_id_raw or "")
    except ValueError:
        raise Invalid("task_id is required.") from None
    async with db.as_user(user_id) as conn:
        task = await task_q.get(conn, task_id)
    if task is None or task["type"] != "design_preview":
        raise NotFound("Task not found.")
    result = task["result"] or {}
    if result.get("voice_id"):
        raise Conflict(ALREADY_SAVED)
    if task["status"] != "completed" or not result.get("object_key"):
        raise Invalid(NOT_FINISHED)
    meta = task["metadata"]
    voice_id = uuid4()
    # One guarded write claims the preview, so concurrent saves make exactly one voice.
    async with db.as_service() as conn:
        claimed = await task_q.claim_preview_for_saving(
            conn, task_id=task_id, user_id=user_id, voice_id=voice_id
        )
    if claimed is None:
        async with db.as_user(user_id) as conn:
            now = await task_q.get(conn, task_id)
        if now is not None and (now["result"] or {}).get("voice_id"):
            raise Conflict(ALREADY_SAVED)
        raise Invalid(NOT_FINISHED)
    preview_key: str = claimed["result"]["object_key"]
    try:
        try:
            data = await storage.read(BUCKET, preview_key)
        except ObjectNotFound:
            raise Invalid("The design preview has expired. Generate it again.") from None
        prepared = await prepare(cpu, data, _design_limits(rules))
        profile = await analyse_speaker(cpu, rules, prepared, meta["text"])
        voice = await store_voice(
            db,
            storage,
            user_id=user_id,
            voice_id=voice_id,
            fields=(name, meta["language"], meta["text"]),
            # Checked when the preview was asked for, against a shorter limit than a voice's.
            description=meta["instruct"],
            source="designed",
            prepared=prepared,
            original=None,
            speaker_profile=profile,
        )
    except BaseException:
        # Nothing was saved: free the claim so the user can try again.
        async with db.as_service() as conn:
            await task_q.release_preview_saving(conn, task_id=task_id, voice_id=voice_id)
        raise
    async with db.as_service() as conn:
        await task_q.finish_preview_saving(conn, task_id=task_id, voice_id=voice_id)
    await storage.delete(BUCKET, preview_key)
    return await _designed(storage, voice, user_id=user_id, base_url=base_url)


async def save_from_upload(
    db: Database,
    storage: Storage,
    cpu: CpuPool,
    *,
    user_id: UUID,
    name: str | None,
    text: str | None,
    language: str | None,
    instruct: str | None,
    audio: bytes | None,
    rules: CloneRules,
    base_url: str,
) -> DesignedVoice:
    name = check_name(name)
    if text is None:
        raise Invalid("Preview text is required.")
    if language is None:
        raise Invalid("Language is required.")
    if instruct is None:
        raise Invalid("Voice description is required.")
    # The description becomes the voice's, so the voice's rule applies.
    check_description(instruct)
    if audio is None:
        raise Invalid("Audio file is required.")
    if not audio:
        raise Invalid("Audio file is empty.")
    if language not in rules.languages:
        raise Invalid(f"Language {language} is not supported by this server.")
    prepared = await prepare(cpu, audio, _design_limits(rules))
    profile = await analyse_speaker(cpu, rules, prepared, text)
    voice = await store_voice(
        db,
        storage,
        user_id=user_id,
        voice_id=uuid4(),
        fields=(name, language, text),
        description=instruct,
        source="designed",
        prepared=prepared,
        original=None,
        speaker_profile=profile,
    )
    return await _designed(storage, voice, user_id=user_id, base_url=base_url)
