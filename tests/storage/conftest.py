"""Fixtures for the storage tests: small audio files made here, an S3 server in the process,
and `backend`: the same Utter app on `local` or on `s3`, with what it has stored."""

from __future__ import annotations

import io
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import imageio_ffmpeg
import numpy as np
import pytest
import soundfile as sf
from fastapi import FastAPI

from tests.support.s3 import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, S3TestServer
from tests.support.server import app_settings
from tests.support.users import DbUser, make_user
from utter.app import create_app
from utter.cpu import CpuPool
from utter.db import Database
from utter.storage import LocalStorage, Storage
from utter.storage.s3 import S3Storage

S3_BUCKETS = {"references": "utter-test-references", "generations": "utter-test-generations"}
PNG_HEADER = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x02"


def wav_bytes(seconds: float = 0.5, rate: int = 16_000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    samples = 0.3 * np.sin(2 * np.pi * 220 * t)
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def transcode(wav: bytes, suffix: str, *codec_args: str) -> bytes:
    """`wav` re-encoded by the ffmpeg that imageio-ffmpeg ships."""
    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "in.wav", Path(tmp) / f"out{suffix}"
        source.write_bytes(wav)
        subprocess.run(
            [
                imageio_ffmpeg.get_ffmpeg_exe(),
                "-v",
                "error",
                "-i",
                str(source),
                *codec_args,
                str(target),
            ],
            check=True,
        )
        return target.read_bytes()


@pytest.fixture(scope="session")
def audio_samples() -> dict[str, bytes]:
    """One short tone in every format uploads may come in."""
    wav = wav_bytes()
    return {
        "wav": wav,
        "mp3": transcode(wav, ".mp3", "-c:a", "libmp3lame", "-b:a", "64k"),
        "ogg": transcode(wav, ".ogg", "-c:a", "libopus", "-b:a", "32k"),
        "m4a": transcode(wav, ".m4a", "-c:a", "aac", "-b:a", "64k"),
        "webm": transcode(wav, ".webm", "-c:a", "libopus", "-b:a", "32k"),
        "flac": transcode(wav, ".flac", "-c:a", "flac"),
    }


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3TestServer]:
    server = S3TestServer()
    server.start()
    client = server.client()
    for name in S3_BUCKETS.values():
        client.create_bucket(Bucket=name)
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Backend:
    """One storage backend inside a real app, and ways to see everything it holds."""

    name: str
    app: FastAPI
    storage: Storage
    http: httpx.AsyncClient  # reaches the app in-process and any other URL over the network
    db: Database

    async def catalogue(self) -> set[tuple[str, str]]:
        async with self.db.as_owner() as conn:
            cur = await conn.execute("select bucket_id, name from storage.objects")
            return {(row["bucket_id"], row["name"]) for row in await cur.fetchall()}

    def stored(self) -> set[str]:
        """Every stored thing: files under the local root (temporary ones included), or every
        key in the S3 buckets."""
        if isinstance(self.storage, LocalStorage):
            root = self.storage.root
            return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
        assert isinstance(self.storage, S3Storage)
        found = set()
        for bucket in S3_BUCKETS.values():
            listing = self.storage._client.list_objects_v2(Bucket=bucket)
            found |= {f"{bucket}/{item['Key']}" for item in listing.get("Contents", [])}
        return found

    async def snapshot(self) -> tuple[set[tuple[str, str]], set[str]]:
        return await self.catalogue(), self.stored()


@pytest.fixture(params=["local", "s3"])
async def backend(
    request: pytest.FixtureRequest, db: Database, tmp_path: Path, cpu: CpuPool
) -> AsyncIterator[Backend]:
    overrides: dict[str, object] = {"public_url": "http://testserver"}
    if request.param == "s3":
        server: S3TestServer = request.getfixturevalue("s3_server")
        overrides |= {
            "storage_backend": "s3",
            "s3_endpoint_url": server.url,
            "s3_region": REGION,
            "s3_access_key_id": ACCESS_KEY_ID,
            "s3_secret_access_key": SECRET_ACCESS_KEY,
            "s3_bucket_references": S3_BUCKETS["references"],
            "s3_bucket_generations": S3_BUCKETS["generations"],
            "s3_path_style": True,
        }
    app = create_app(app_settings(tmp_path / "data", **overrides), db=db, cpu=cpu)
    mounts = {"http://testserver": httpx.ASGITransport(app=app)}
    async with httpx.AsyncClient(mounts=mounts, timeout=30) as http:
        yield Backend(request.param, app, app.state.storage, http, db)


@pytest.fixture
async def user(db: Database) -> DbUser:
    return await make_user(db)
