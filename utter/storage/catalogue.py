"""The parts every backend shares: bucket limits, catalogue rows, and checking an upload."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from psycopg import errors as pg_errors

from utter.db import Database
from utter.db.queries import storage as queries
from utter.storage.base import (
    DEFAULT_MAX_UPLOAD_BYTES,
    BucketNotFound,
    ObjectExists,
    ObjectInfo,
    ObjectNotFound,
    Storage,
    UploadForbidden,
    UploadNotAllowed,
    UploadTooLarge,
    check_bucket_name,
    check_key,
    require_owned_key,
)
from utter.storage.sniff import SNIFF_BYTES, mime_allowed, sniff_audio


@dataclass(frozen=True)
class BucketLimits:
    bucket: str
    max_bytes: int
    allowed_mime_types: tuple[str, ...]  # empty: anything

    def check_size(self, size: int) -> None:
        if size > self.max_bytes:
            raise UploadTooLarge(self.max_bytes)

    def content_type_for(self, head: bytes) -> str:
        """The type the bucket records for content starting with `head`; raises
        UploadNotAllowed when the bucket restricts types and this is none of them."""
        mime = sniff_audio(head)
        if not self.allowed_mime_types:
            return mime or "application/octet-stream"
        if mime is None or not mime_allowed(mime, self.allowed_mime_types):
            raise UploadNotAllowed()
        return mime


async def bucket_limits(db: Database, bucket: str) -> BucketLimits:
    check_bucket_name(bucket)
    async with db.as_service() as conn:
        row = await queries.get_bucket(conn, bucket)
    if row is None:
        raise BucketNotFound()
    return BucketLimits(
        bucket=bucket,
        max_bytes=int(row["file_size_limit"] or DEFAULT_MAX_UPLOAD_BYTES),
        allowed_mime_types=tuple(row["allowed_mime_types"] or ()),
    )


def object_metadata(info: ObjectInfo, sha256: str | None = None) -> dict[str, Any]:
    """The `metadata` of a catalogue row, with Supabase Storage's key names."""
    meta: dict[str, Any] = {
        "size": info.size,
        "contentLength": info.size,
        "mimetype": info.content_type,
        "eTag": info.etag,
        "lastModified": datetime.now(UTC).isoformat(),
    }
    if sha256:
        meta["sha256"] = sha256
    return meta


def as_uuid(value: UUID | str | None) -> UUID | None:
    return value if value is None or isinstance(value, UUID) else UUID(str(value))


@asynccontextmanager
async def recording_as_user(
    db: Database, info: ObjectInfo, user_id: UUID, sha256: str | None = None
) -> AsyncIterator[None]:
    """Insert `info` as `user_id`'s new object under the catalogue's RLS policies, then run
    the block in the same transaction (placing the bytes), committing only if it succeeds."""
    try:
        async with db.as_user(user_id) as conn:
            await queries.insert_object(
                conn, info.bucket, info.key, user_id, object_metadata(info, sha256)
            )
            yield
    except pg_errors.UniqueViolation:
        raise ObjectExists() from None
    except pg_errors.InsufficientPrivilege:
        raise UploadForbidden() from None
    except pg_errors.ForeignKeyViolation:
        raise BucketNotFound() from None


@asynccontextmanager
async def recording(
    db: Database, info: ObjectInfo, sha256: str | None = None
) -> AsyncIterator[None]:
    """Create or replace the row for a server-side put, as the service role, around the block
    that places the bytes."""
    try:
        async with db.as_service() as conn:
            await queries.upsert_object(
                conn, info.bucket, info.key, info.owner, object_metadata(info, sha256)
            )
            yield
    except pg_errors.ForeignKeyViolation:
        raise BucketNotFound() from None


async def forget(db: Database, bucket: str, key: str) -> None:
    async with db.as_service() as conn:
        await queries.delete_object(conn, bucket, key)


async def confirm_upload(
    storage: Storage,
    db: Database,
    bucket: str,
    key: str,
    user_id: UUID | str,
    max_bytes: int | None = None,
) -> ObjectInfo:
    """The shared `Storage.confirm_upload`: check what a signed upload left at `key`
    against the bucket, remove it if it breaks the rules, else record it as the user's."""
    check_key(key)
    require_owned_key(key, user_id)
    owner = as_uuid(user_id)
    assert owner is not None
    limits = await bucket_limits(db, bucket)
    info = await storage.stat(bucket, key)
    if info is None:
        raise ObjectNotFound("Nothing was uploaded at this key.")
    try:
        limits.check_size(info.size)
        if max_bytes is not None and info.size > max_bytes:
            raise UploadTooLarge(max_bytes)
        head = b""
        async for chunk in await storage.open(bucket, key, start=0, end=SNIFF_BYTES - 1):
            head += chunk
        content_type = limits.content_type_for(head)
        recorded = ObjectInfo(bucket, key, info.size, content_type, info.etag, owner)
        async with db.as_user(owner) as conn:
            existing = await queries.get_object(conn, bucket, key)
        if existing is None:
            try:
                async with recording_as_user(db, recorded, owner):
                    pass
            except ObjectExists:
                # Another confirm won the race; RLS shows the row only if it is ours.
                async with db.as_user(owner) as conn:
                    if await queries.get_object(conn, bucket, key) is None:
                        raise UploadForbidden() from None
    except (UploadTooLarge, UploadNotAllowed, UploadForbidden):
        await storage.delete(bucket, key)
        raise
    return recorded
