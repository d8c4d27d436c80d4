"""The storage contract, run against `local` (files + the app's signed-URL routes) and `s3`
(a real S3-protocol server in the process). Every signed URL is fetched over HTTP."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote, unquote

import pytest

from tests.storage.conftest import PNG_HEADER, Backend
from tests.support.users import DbUser, make_user
from utter.api.errors import http_status
from utter.db.queries import usage as usage_q
from utter.errors import Forbidden
from utter.jobs.queue import create_queue
from utter.jobs.sweeper import SweepPolicy, sweep
from utter.storage import ObjectNotFound, StorageError


def reference_key(user: DbUser) -> str:
    return f"{user.id}/{uuid.uuid4()}/reference.wav"


def generation_key(user: DbUser) -> str:
    return f"{user.id}/{uuid.uuid4()}.wav"


async def catalogue_row(backend: Backend, bucket: str, key: str) -> dict[str, object] | None:
    async with backend.db.as_owner() as conn:
        cur = await conn.execute(
            "select owner, metadata from storage.objects where bucket_id = %s and name = %s",
            (bucket, key),
        )
        return await cur.fetchone()


async def upload_then_confirm(
    backend: Backend,
    user: DbUser,
    key: str,
    data: bytes,
    *,
    bucket: str = "references",
    max_bytes: int | None = None,
) -> tuple[str, int, str]:
    """Sign, PUT, confirm. Returns (the step that answered, status, detail): "upload" when
    the PUT itself was refused, "confirm" when confirm_upload was, "ok" otherwise."""
    signed = await backend.storage.signed_upload_url(
        bucket, key, user_id=user.id, content_type="audio/wav", max_bytes=max_bytes
    )
    response = await backend.http.put(signed.url, content=data, headers=signed.headers)
    if response.status_code != 200:
        return "upload", response.status_code, response.json()["detail"]
    try:
        await backend.storage.confirm_upload(bucket, key, user_id=user.id, max_bytes=max_bytes)
    except StorageError as exc:
        return "confirm", http_status(exc), exc.message
    return "ok", 200, ""


# Server-side put, read, stat, delete ------------------------------------------------


async def test_put_read_stat_delete_round_trip(
    backend: Backend, user: DbUser, audio_samples: dict[str, bytes]
) -> None:
    storage, wav, key = backend.storage, audio_samples["wav"], generation_key(user)

    info = await storage.put("generations", key, wav, "audio/wav", owner=user.id)
    assert (info.size, info.content_type, info.owner) == (len(wav), "audio/wav", user.id)

    assert await storage.read("generations", key) == wav
    stat = await storage.stat("generations", key)
    assert stat is not None and (stat.size, stat.content_type) == (len(wav), "audio/wav")
    streamed = b"".join([chunk async for chunk in await storage.open("generations", key)])
    assert streamed == wav
    part = b"".join(
        [chunk async for chunk in await storage.open("generations", key, start=4, end=11)]
    )
    assert part == wav[4:12]

    row = await catalogue_row(backend, "generations", key)
    assert row is not None and row["owner"] == user.id
    assert isinstance(row["metadata"], dict)
    assert row["metadata"]["size"] == len(wav) and row["metadata"]["mimetype"] == "audio/wav"

    await storage.delete("generations", key)
    assert await storage.stat("generations", key) is None
    assert await catalogue_row(backend, "generations", key) is None
    with pytest.raises(ObjectNotFound):
        await storage.read("generations", key)
    with pytest.raises(ObjectNotFound):
        await storage.open("generations", key)
    assert not any(key in name for name in backend.stored())


async def test_put_takes_a_file_or_a_stream_and_replaces_what_was_there(
    backend: Backend, user: DbUser, tmp_path: Path, audio_samples: dict[str, bytes]
) -> None:
    storage, key = backend.storage, generation_key(user)
    flac = audio_samples["flac"]

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(flac), 1000):
            yield flac[i : i + 1000]

    await storage.put("generations", key, chunks(), "audio/flac", owner=user.id)
    assert await storage.read("generations", key) == flac

    source = tmp_path / "speech.mp3"
    source.write_bytes(audio_samples["mp3"])
    await storage.put("generations", key, source, "audio/mpeg", owner=user.id)
    assert await storage.read("generations", key) == audio_samples["mp3"]
    stat = await storage.stat("generations", key)
    assert stat is not None and stat.content_type == "audio/mpeg"
    assert sum(1 for _, name in await backend.catalogue() if name == key) == 1
    await storage.delete("generations", key)


async def test_delete_is_idempotent(
    backend: Backend, user: DbUser, audio_samples: dict[str, bytes]
) -> None:
    key = generation_key(user)
    await backend.storage.delete("generations", key)  # never existed
    await backend.storage.put("generations", key, audio_samples["wav"], "audio/wav")
    await backend.storage.delete("generations", key)
    await backend.storage.delete("generations", key)
    assert await backend.storage.stat("generations", key) is None
    assert await catalogue_row(backend, "generations", key) is None


async def test_put_refuses_a_key_outside_the_owners_folder(
    backend: Backend, user: DbUser, audio_samples: dict[str, bytes]
) -> None:
    before = await backend.snapshot()
    with pytest.raises(Forbidden):
        await backend.storage.put(
            "generations", f"{uuid.uuid4()}/x.wav", audio_samples["wav"], owner=user.id
        )
    assert await backend.snapshot() == before


# Signed downloads -------------------------------------------------------------------


async def test_signed_download_url_serves_the_object(
    backend: Backend, user: DbUser, audio_samples: dict[str, bytes]
) -> None:
    key = generation_key(user)
    await backend.storage.put("generations", key, audio_samples["wav"], "audio/wav")
    url = await backend.storage.signed_download_url("generations", key, user_id=user.id)

    response = await backend.http.get(url)
    assert response.status_code == 200
    assert response.content == audio_samples["wav"]
    assert response.headers["content-type"] == "audio/wav"
    assert "content-disposition" not in response.headers


async def test_signed_download_url_can_name_an_attachment(
    backend: Backend, user: DbUser, audio_samples: dict[str, bytes]
) -> None:
    key = generation_key(user)
    await backend.storage.put("generations", key, audio_samples["wav"], "audio/wav")
    url = await backend.storage.signed_download_url(
        "generations", key, user_id=user.id, download_name="Morning news.wav"
    )
    response = await backend.http.get(url)
    assert response.status_code == 200
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment")
    assert "Morning news.wav" in unquote(disposition)


async def test_range_request_returns_206_with_those_bytes(
    backend: Backend, user: DbUser, audio_samples: dict[str, bytes]
) -> None:
    wav, key = audio_samples["wav"], generation_key(user)
    await backend.storage.put("generations", key, wav, "audio/wav")
    url = await backend.storage.signed_download_url("generations", key, user_id=user.id)

    response = await backend.http.get(url, headers={"Range": "bytes=100-199"})
    assert response.status_code == 206
    assert response.content == wav[100:200]
    assert response.headers["content-range"] == f"bytes 100-199/{len(wav)}"
    assert response.headers["accept-ranges"] == "bytes"

    tail = await backend.http.get(url, headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == wav[-10:]


async def test_signed_urls_stop_working_after_they_expire(
    backend: Backend, user: DbUser, audio_samples: dict[str, bytes]
) -> None:
    key, upload_key = generation_key(user), reference_key(user)
    await backend.storage.put("generations", key, audio_samples["wav"], "audio/wav")
    # The upload URL is signed first: with the same lifetime it expires no later than the
    # download URL, so once the download is refused the upload is expired too.
    upload = await backend.storage.signed_upload_url(
        "references", upload_key, user_id=user.id, expires_in=2, content_type="audio/wav"
    )
    download = await backend.storage.signed_download_url(
        "generations", key, user_id=user.id, expires_in=2
    )
    assert (await backend.http.get(download)).status_code == 200
    deadline = time.monotonic() + 30
    while (await backend.http.get(download)).status_code == 200:
        assert time.monotonic() < deadline, "the signed download URL never expired"
        await asyncio.sleep(0.1)
    before = await backend.snapshot()
    assert (await backend.http.get(download)).status_code == 403
    late = await backend.http.put(upload.url, content=audio_samples["wav"], headers=upload.headers)
    assert late.status_code == 403
    assert await backend.snapshot() == before


def _alter_signature(url: str) -> str:
    """Change one character near the end of the token (local) or of X-Amz-Signature (s3).
    Not the last one: a base64 token's last character carries bits that are ignored."""
    c = url[-5]
    return url[:-5] + ("0" if c != "0" else "1") + url[-4:]


async def test_an_altered_signed_url_opens_nothing(
    backend: Backend, user: DbUser, audio_samples: dict[str, bytes]
) -> None:
    storage = backend.storage
    other_user = await make_user(backend.db)
    mine, also_mine = generation_key(user), generation_key(user)
    theirs = generation_key(other_user)
    for owner, key in ((user, mine), (user, also_mine), (other_user, theirs)):
        await storage.put("generations", key, audio_samples["wav"], "audio/wav", owner=owner.id)
    # The same key in the other bucket exists too, so a refusal cannot be a mere 404.
    await storage.put("references", mine, audio_samples["wav"], "audio/wav", owner=user.id)
    url = await storage.signed_download_url("generations", mine, user_id=user.id)
    assert (await backend.http.get(url)).status_code == 200

    altered = {
        "signature": _alter_signature(url),
        "another key of mine": url.replace(quote(mine), quote(also_mine)),
        "another user's key": url.replace(quote(mine), quote(theirs)),
        "another bucket": url.replace("generations", "references", 1),
    }
    for what, bad_url in altered.items():
        assert bad_url != url, what
        response = await backend.http.get(bad_url)
        assert response.status_code in (400, 403), (what, response.status_code)
        assert audio_samples["wav"] not in response.content, what


async def test_signing_refuses_a_key_outside_the_callers_folder(
    backend: Backend, user: DbUser
) -> None:
    for key in (f"{uuid.uuid4()}/{uuid.uuid4()}.wav", f"x{user.id}/a.wav", str(user.id)):
        with pytest.raises(Forbidden) as download:
            await backend.storage.signed_download_url("generations", key, user_id=user.id)
        assert download.value.message == "Invalid storage object key."
        with pytest.raises(Forbidden):
            await backend.storage.signed_upload_url("references", key, user_id=user.id)


# Signed uploads ---------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["wav", "mp3", "m4a", "ogg", "webm", "flac"])
async def test_signed_upload_accepts_audio(
    backend: Backend, user: DbUser, audio_samples: dict[str, bytes], fmt: str
) -> None:
    key = reference_key(user)
    data = audio_samples[fmt]
    assert await upload_then_confirm(backend, user, key, data) == ("ok", 200, "")

    assert await backend.storage.read("references", key) == data
    row = await catalogue_row(backend, "references", key)
    assert row is not None and row["owner"] == user.id
    expected = {"wav": "audio/wav", "mp3": "audio/mpeg", "m4a": "audio/mp4", "ogg": "audio/ogg"}
    expected |= {"webm": "audio/webm", "flac": "audio/flac"}
    assert isinstance(row["metadata"], dict) and row["metadata"]["mimetype"] == expected[fmt]
    # What the bytes are, not the Content-Type the client sent (audio/wav for all of them).
    stat = await backend.storage.stat("references", key)
    assert stat is not None and stat.content_type == expected[fmt]
    # Confirming again changes nothing.
    info = await backend.storage.confirm_upload("references", key, user_id=user.id)
    assert info.size == len(data)
    # The user can read their own object's row under RLS, as Supabase's policies allow.
    async with backend.db.as_user(user.id) as conn:
        cur = await conn.execute("select name from storage.objects where name = %s", (key,))
        assert await cur.fetchone() is not None


async def test_signed_upload_of_a_png_renamed_wav_keeps_nothing(
    backend: Backend, user: DbUser
) -> None:
    before = await backend.snapshot()
    png = PNG_HEADER + bytes(2000)
    step, status, detail = await upload_then_confirm(backend, user, reference_key(user), png)
    # Local refuses the PUT by its content; S3 takes any bytes, so confirming refuses them.
    assert step == ("upload" if backend.name == "local" else "confirm")
    assert status == 415 and "not an audio file" in detail
    assert await backend.snapshot() == before


async def test_signed_upload_one_byte_over_the_limit_keeps_nothing(
    backend: Backend, user: DbUser, audio_samples: dict[str, bytes]
) -> None:
    wav = audio_samples["wav"]
    before = await backend.snapshot()
    step, status, detail = await upload_then_confirm(
        backend, user, reference_key(user), wav, max_bytes=len(wav) - 1
    )
    # S3 cannot bound a presigned PUT; the size is checked when the upload is confirmed.
    assert step == ("upload" if backend.name == "local" else "confirm")
    assert status == 413 and "larger than" in detail
    assert await backend.snapshot() == before

    exactly = await upload_then_confirm(backend, user, reference_key(user), wav, max_bytes=len(wav))
    assert exactly == ("ok", 200, "")


async def test_an_upload_url_writes_only_its_own_key(
    backend: Backend, user: DbUser, audio_samples: dict[str, bytes]
) -> None:
    other_user = await make_user(backend.db)
    key = reference_key(user)
    signed = await backend.storage.signed_upload_url(
        "references", key, user_id=user.id, content_type="audio/wav"
    )
    before = await backend.snapshot()
    for target in (reference_key(user), reference_key(other_user)):
        bad_url = signed.url.replace(quote(key), quote(target))
        response = await backend.http.put(
            bad_url, content=audio_samples["wav"], headers=signed.headers
        )
        assert response.status_code in (400, 403), target
    assert await backend.snapshot() == before


async def test_upload_needs_a_policy_that_lets_the_user_write(
    backend: Backend, user: DbUser, audio_samples: dict[str, bytes]
) -> None:
    """Users may not create objects in `generations` (no insert policy): the catalogue's RLS
    refuses the row, and the bytes go too."""
    before = await backend.snapshot()
    step, status, _ = await upload_then_confirm(
        backend, user, generation_key(user), audio_samples["wav"], bucket="generations"
    )
    assert step == ("upload" if backend.name == "local" else "confirm")
    assert status == 403
    assert await backend.snapshot() == before


async def test_confirming_an_upload_that_never_came_is_404(backend: Backend, user: DbUser) -> None:
    with pytest.raises(ObjectNotFound):
        await backend.storage.confirm_upload("references", reference_key(user), user_id=user.id)


# Sweeping abandoned uploads ---------------------------------------------------------


async def test_the_sweeper_deletes_an_abandoned_signed_upload_and_keeps_a_fresh_one(
    backend: Backend, user: DbUser, audio_samples: dict[str, bytes]
) -> None:
    """Found by the upload URL handed out, so it works where a PUT leaves no catalogue row
    (S3 records an upload only when it is confirmed)."""
    keys = {}
    async with backend.db.as_service() as conn:
        for label, sweep_after in (("old", -60.0), ("fresh", 3600.0)):
            voice_id = uuid.uuid4()
            keys[label] = f"{user.id}/{voice_id}/upload"
            signed = await backend.storage.signed_upload_url(
                "references", keys[label], user_id=user.id, content_type="audio/wav"
            )
            put = await backend.http.put(
                signed.url, content=audio_samples["wav"], headers=signed.headers
            )
            assert put.status_code == 200, put.text
            await usage_q.record_upload_grant(
                conn,
                user_id=user.id,
                voice_id=voice_id,
                bucket="references",
                object_key=keys[label],
                expires_at=signed.expires_at,
                sweep_after_seconds=sweep_after,
            )
    queue = create_queue(backend.db.url)
    async with queue.open_async():
        report = await sweep(backend.db, queue, backend.storage, SweepPolicy())
    assert report.uploads_removed >= 1
    assert await backend.storage.stat("references", keys["old"]) is None
    assert await catalogue_row(backend, "references", keys["old"]) is None
    assert not any(keys["old"] in name for name in backend.stored())
    assert await backend.storage.read("references", keys["fresh"]) == audio_samples["wav"]
    async with backend.db.as_service() as conn:
        left = await (
            await conn.execute(
                "select object_key from utter.upload_grants where user_id = %s", (user.id,)
            )
        ).fetchall()
    assert [row["object_key"] for row in left] == [keys["fresh"]]
