"""What only the `local` backend does: its files, its tokens, and the HTTP routes that serve
signed URLs (Range, limits enforced while the body streams, no overwrite)."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI

from tests.storage.conftest import wav_bytes
from tests.support.server import app_settings
from tests.support.users import DbUser, make_user
from utter.app import create_app
from utter.db import Database
from utter.errors import Forbidden, Invalid
from utter.storage import LocalStorage, create_storage
from utter.storage.base import DEFAULT_MAX_UPLOAD_BYTES
from utter.storage.s3 import S3Storage
from utter.storage.tokens import TokenSigner


@pytest.fixture
def app(db: Database, tmp_path: Path) -> FastAPI:
    return create_app(app_settings(tmp_path / "data", public_url="http://testserver"), db=db)


@pytest.fixture
def storage(app: FastAPI) -> LocalStorage:
    storage = app.state.storage
    assert isinstance(storage, LocalStorage)
    return storage


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
async def user(db: Database) -> DbUser:
    return await make_user(db)


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


async def count_rows(db: Database) -> int:
    async with db.as_owner() as conn:
        cur = await conn.execute("select count(*) as n from storage.objects")
        row = await cur.fetchone()
        assert row is not None
        return int(row["n"])


def reference_key(user: DbUser) -> str:
    return f"{user.id}/{uuid.uuid4()}/reference.wav"


async def test_objects_are_files_under_the_storage_dir_and_no_temporary_file_stays(
    storage: LocalStorage, user: DbUser, tmp_path: Path
) -> None:
    key = f"{user.id}/{uuid.uuid4()}.wav"
    await storage.put("generations", key, b"RIFF\x00\x00\x00\x00WAVE", "audio/wav")
    assert storage.root == (tmp_path / "data" / "storage").resolve()
    path = storage.root / "generations" / key
    assert path.read_bytes() == b"RIFF\x00\x00\x00\x00WAVE"
    assert files_under(storage.root) == {path}

    await storage.delete("generations", key)
    assert files_under(storage.root) == set()
    assert not (storage.root / "generations" / str(user.id)).exists()  # emptied folders go


@pytest.mark.parametrize(
    "key", ["../escape.wav", "a/../../b.wav", "a//b.wav", "/abs.wav", "a/./b", "a\\b", "a\x00b", ""]
)
async def test_keys_cannot_leave_the_bucket(storage: LocalStorage, key: str) -> None:
    with pytest.raises(Invalid) as refused:
        storage.path_for("references", key)
    assert refused.value.message == "Invalid storage object key."


async def test_a_range_past_the_end_is_416(
    storage: LocalStorage, http: httpx.AsyncClient, user: DbUser
) -> None:
    key = f"{user.id}/{uuid.uuid4()}.wav"
    await storage.put("generations", key, wav_bytes(0.1), "audio/wav")
    url = await storage.signed_download_url("generations", key, user_id=user.id)
    response = await http.get(url, headers={"Range": "bytes=999999-"})
    assert response.status_code == 416


async def test_download_token_problems_are_400_or_403_and_a_missing_object_404(
    storage: LocalStorage, http: httpx.AsyncClient, user: DbUser
) -> None:
    key = f"{user.id}/{uuid.uuid4()}.wav"
    await storage.put("generations", key, wav_bytes(0.1), "audio/wav")
    url = await storage.signed_download_url("generations", key, user_id=user.id)
    bare = url.split("?", 1)[0]

    missing = await http.get(bare)
    assert (missing.status_code, missing.json()) == (
        400,
        {"detail": "A signed URL token is required."},
    )
    garbage = await http.get(bare, params={"token": "not-a-token"})
    assert (garbage.status_code, garbage.json()["detail"]) == (403, "Invalid signed URL token.")

    forged_token, _ = TokenSigner("some other secret, 32 characters long").sign(
        "download", "generations", key, expires_in=60
    )
    forged = await http.get(bare, params={"token": forged_token})
    assert forged.status_code == 403

    upload = await storage.signed_upload_url("references", reference_key(user), user_id=user.id)
    upload_token = parse_qs(urlsplit(upload.url).query)["token"][0]
    wrong_op = await http.get(bare, params={"token": upload_token})
    assert wrong_op.status_code == 403

    await storage.delete("generations", key)
    gone = await http.get(url)
    assert (gone.status_code, gone.json()) == (404, {"detail": "Object not found."})


async def test_an_upload_streams_and_stops_as_soon_as_the_bucket_limit_is_passed(
    storage: LocalStorage, http: httpx.AsyncClient, user: DbUser, db: Database
) -> None:
    """The real `references` limit (50 MB), no Content-Length: the server counts as it reads."""
    signed = await storage.signed_upload_url("references", reference_key(user), user_id=user.id)
    assert signed.max_bytes == DEFAULT_MAX_UPLOAD_BYTES  # the bucket's own limit, 50 MiB
    chunk = 256 * 1024
    total = signed.max_bytes + 4 * chunk
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        header = wav_bytes(0.1)[:44]
        yield header
        sent += len(header)
        while sent < total:
            sent += chunk
            yield bytes(chunk)

    rows, files = await count_rows(db), files_under(storage.root)
    response = await http.put(signed.url, content=body())
    assert response.status_code == 413
    assert response.json()["detail"].startswith("The file is larger than the 50 MB")
    assert sent < total  # it did not wait for the whole body
    assert await count_rows(db) == rows and files_under(storage.root) == files


async def test_a_declared_length_over_the_limit_is_refused_before_reading(
    storage: LocalStorage, http: httpx.AsyncClient, user: DbUser
) -> None:
    signed = await storage.signed_upload_url(
        "references", reference_key(user), user_id=user.id, max_bytes=1000
    )
    response = await http.put(signed.url, content=wav_bytes(0.1))
    assert response.status_code == 413
    assert response.json() == {"detail": "The file is larger than the 1000 bytes allowed."}


async def test_content_that_is_not_audio_is_refused_from_its_first_bytes(
    storage: LocalStorage, http: httpx.AsyncClient, user: DbUser, db: Database
) -> None:
    rows, files = await count_rows(db), files_under(storage.root)
    for body in (b"%PDF-1.7\n" + bytes(5000), b"just some text\n" * 100, b"\xff\xd8\xff"):
        signed = await storage.signed_upload_url("references", reference_key(user), user_id=user.id)
        response = await http.put(signed.url, content=body)
        assert response.status_code == 415, body[:10]
        assert response.json() == {"detail": "The file is not an audio file Utter accepts."}
    assert await count_rows(db) == rows and files_under(storage.root) == files


async def test_an_empty_upload_is_400(
    storage: LocalStorage, http: httpx.AsyncClient, user: DbUser
) -> None:
    signed = await storage.signed_upload_url("references", reference_key(user), user_id=user.id)
    response = await http.put(signed.url, content=b"")
    assert (response.status_code, response.json()) == (
        400,
        {"detail": "The uploaded file is empty."},
    )


async def test_an_upload_never_replaces_an_object(
    storage: LocalStorage, http: httpx.AsyncClient, user: DbUser
) -> None:
    key = reference_key(user)
    first, second = wav_bytes(0.1), wav_bytes(0.2)
    signed = await storage.signed_upload_url("references", key, user_id=user.id)
    done = await http.put(signed.url, content=first)
    assert done.status_code == 200
    assert done.json() == {
        "bucket": "references",
        "key": key,
        "size": len(first),
        "content_type": "audio/wav",
    }

    again = await storage.signed_upload_url("references", key, user_id=user.id)
    for url in (signed.url, again.url):
        response = await http.put(url, content=second)
        assert (response.status_code, response.json()) == (
            409,
            {"detail": "An object already exists at this key."},
        )
    assert await storage.read("references", key) == first


async def test_a_signed_url_names_the_public_origin_and_lives_as_configured(
    db: Database, tmp_path: Path, user: DbUser
) -> None:
    settings = app_settings(
        tmp_path / "data",
        public_url="https://voices.example.org/",
        signed_url_expiry=600,
        storage_dir=tmp_path / "elsewhere",
    )
    storage = create_storage(settings, db)
    assert isinstance(storage, LocalStorage) and storage.root == (tmp_path / "elsewhere")
    key = f"{user.id}/{uuid.uuid4()}.wav"
    url = await storage.signed_download_url("generations", key, user_id=user.id)
    assert url.startswith(f"https://voices.example.org/storage/v1/object/sign/generations/{key}?")
    here = await storage.signed_download_url(
        "generations", key, user_id=user.id, base_url="http://127.0.0.1:9000"
    )
    assert here.startswith("http://127.0.0.1:9000/storage/v1/object/sign/")
    upload = await storage.signed_upload_url("references", reference_key(user), user_id=user.id)
    lifetime = upload.expires_at.timestamp() - time.time()
    assert 7100 < lifetime <= 7201  # UTTER_SIGNED_UPLOAD_EXPIRY's default


async def test_the_signing_secret_is_generated_once_or_taken_from_settings(
    db: Database, tmp_path: Path, user: DbUser
) -> None:
    key = f"{user.id}/{uuid.uuid4()}.wav"
    data_dir = tmp_path / "data"
    first = create_storage(app_settings(data_dir), db)
    again = create_storage(app_settings(data_dir), db)
    assert isinstance(first, LocalStorage) and isinstance(again, LocalStorage)
    url = await first.signed_download_url("generations", key, user_id=user.id)
    token = parse_qs(urlsplit(url).query)["token"][0]
    assert (data_dir / "keys" / "storage_secret").exists()
    again._signer.verify(token, "download", "generations", key)  # survives a restart

    configured = create_storage(app_settings(data_dir, storage_signing_secret="s" * 40), db)
    assert isinstance(configured, LocalStorage)
    with pytest.raises(Forbidden):
        configured._signer.verify(token, "download", "generations", key)


async def test_the_backend_and_its_routes_follow_the_settings(db: Database, tmp_path: Path) -> None:
    local_app = create_app(app_settings(tmp_path / "a"), db=db)
    s3_app = create_app(
        app_settings(tmp_path / "b", storage_backend="s3", s3_endpoint_url="http://127.0.0.1:9"),
        db=db,
    )
    assert isinstance(s3_app.state.storage, S3Storage)
    local_paths = set(local_app.openapi()["paths"])
    assert "/storage/v1/object/sign/{bucket}/{key}" in local_paths
    assert "/storage/v1/object/upload/sign/{bucket}/{key}" in local_paths
    assert not any(p.startswith("/storage") for p in s3_app.openapi()["paths"])
