"""The storage protocol every backend implements, and the rules all of them share.

Objects live in two private buckets, `references` and `generations`, at keys
that start with their owner's user id: `{user_id}/{voice_id}/reference.wav`,
`{user_id}/{generation_id}.wav`. Every object is recorded in the
`storage.objects` catalogue, so listing and ownership stay in Postgres whatever
holds the bytes, and the catalogue's RLS policies govern what users may write.

Two ways in:

* server-side `put` (workers, the API after it validated a file): runs as the
  service role and replaces whatever was at the key;
* a signed upload URL handed to a client, then `confirm_upload` once the client
  says it is done: size and content are checked against the bucket's limits,
  and the object is recorded as the user's own under RLS. A signed upload never
  replaces an existing object (users have no UPDATE policy on the catalogue).

Reads leave the server only through signed download URLs, signed after
`require_owned_key` confirmed the key is under the caller's own folder.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO, Protocol, runtime_checkable
from urllib.parse import quote
from uuid import UUID

from utter.errors import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    TooLarge,
    UnsupportedMedia,
    UtterError,
)

BUCKETS = ("references", "generations")

# Supabase's global upload cap, used when a bucket sets no file_size_limit.
DEFAULT_MAX_UPLOAD_BYTES = 50 * 1024 * 1024

# bytes in memory, a file on disk, or a stream (an upload, an encoder's output).
Body = bytes | os.PathLike[str] | AsyncIterable[bytes]

_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
MAX_KEY_LENGTH = 1024
INVALID_KEY = "Invalid storage object key."


@dataclass(frozen=True)
class ObjectInfo:
    bucket: str
    key: str
    size: int
    content_type: str
    etag: str | None = None  # sha256 hex (local and server-side puts) or the store's ETag
    owner: UUID | None = None


@dataclass(frozen=True)
class SignedUpload:
    """What a client needs to upload one object: PUT the bytes to `url` with `headers`."""

    url: str
    expires_at: datetime
    max_bytes: int
    method: str = "PUT"
    headers: dict[str, str] = field(default_factory=dict)


class StorageError(UtterError):
    """A storage refusal a client can act on; each kind below is also the domain error
    that says how (not found, exists, too large, …)."""


class ObjectNotFound(StorageError, NotFound):
    def __init__(self, message: str = "Object not found.") -> None:
        super().__init__(message)


class ObjectExists(StorageError, Conflict):
    def __init__(self) -> None:
        super().__init__("An object already exists at this key.")


class BucketNotFound(StorageError, NotFound):
    def __init__(self) -> None:
        super().__init__("Bucket not found.")


class UploadTooLarge(StorageError, TooLarge):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"The file is larger than the {_human_size(max_bytes)} allowed.")


class UploadNotAllowed(StorageError, UnsupportedMedia):
    """The content is not a type the bucket accepts (judged by its bytes)."""

    def __init__(self, message: str = "The file is not an audio file Utter accepts.") -> None:
        super().__init__(message)


class EmptyUpload(StorageError, Invalid):
    def __init__(self) -> None:
        super().__init__("The uploaded file is empty.")


class UploadForbidden(StorageError, Forbidden):
    def __init__(self) -> None:
        super().__init__("You may not upload to this location.")


def _human_size(n: int) -> str:
    if n >= 1024 * 1024 and n % (1024 * 1024) == 0:
        return f"{n // (1024 * 1024)} MB"
    return f"{n} bytes"


def require_owned_key(key: str, user_id: UUID | str) -> None:
    """Refuse (Forbidden) a key outside the caller's own folder. Run before any signing."""
    if not key.startswith(f"{user_id}/"):
        raise Forbidden(INVALID_KEY)


def check_bucket_name(bucket: str) -> None:
    if not _BUCKET_NAME.match(bucket):
        raise BucketNotFound()


def check_key(key: str) -> None:
    """Keys are relative paths of plain segments: no `..`, no empty parts, no control characters.
    The local backend maps them to files, so this is also what keeps them inside its root."""
    parts = key.split("/")
    if (
        not key
        or len(key) > MAX_KEY_LENGTH
        or "\\" in key
        or any(ord(c) < 0x20 or c == "\x7f" for c in key)
        or any(part in ("", ".", "..") for part in parts)
    ):
        raise Invalid(INVALID_KEY)


def content_disposition(filename: str) -> str:
    """An attachment header that survives any filename (RFC 6266 with an ASCII fallback)."""
    fallback = "".join(c if 0x20 <= ord(c) < 0x7F and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


async def iter_body(data: Body, chunk_size: int = 256 * 1024) -> AsyncIterator[bytes]:
    """Any `Body` as a stream of chunks; files are read in a worker thread."""
    if isinstance(data, bytes | bytearray | memoryview):
        view = memoryview(data)
        for offset in range(0, len(view), chunk_size):
            yield bytes(view[offset : offset + chunk_size])
    elif isinstance(data, os.PathLike):
        handle: BinaryIO = await asyncio.to_thread(open, os.fspath(data), "rb")
        try:
            while chunk := await asyncio.to_thread(handle.read, chunk_size):
                yield chunk
        finally:
            handle.close()
    else:
        async for chunk in data:
            yield chunk


@runtime_checkable
class Storage(Protocol):
    """One object store. `bucket` is a logical bucket (`references`, `generations`)."""

    name: str  # "local" or "s3"

    async def put(
        self,
        bucket: str,
        key: str,
        data: Body,
        content_type: str = "application/octet-stream",
        *,
        owner: UUID | str | None = None,
    ) -> ObjectInfo:
        """Store `data` at `key` (replacing any object there) and record it in the catalogue
        as the service role. With `owner`, the key must be under the owner's folder."""
        ...

    async def read(self, bucket: str, key: str) -> bytes:
        """The whole object. Raises ObjectNotFound."""
        ...

    async def open(
        self, bucket: str, key: str, *, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        """The object's bytes `start`..`end` (inclusive, as in HTTP ranges; None: to the
        end) as chunks. Raises ObjectNotFound at the call, before any chunk."""
        ...

    async def stat(self, bucket: str, key: str) -> ObjectInfo | None:
        """What the store holds at `key`, or None."""
        ...

    async def delete(self, bucket: str, key: str) -> None:
        """Remove the object and its catalogue row. Deleting what is not there is not an error."""
        ...

    async def signed_download_url(
        self,
        bucket: str,
        key: str,
        *,
        user_id: UUID | str,
        expires_in: int | None = None,
        base_url: str | None = None,
        download_name: str | None = None,
    ) -> str:
        """A URL that lets anyone holding it GET this one object until it expires.

        `user_id` is the caller: a key outside their folder is refused (Forbidden) before
        signing. `expires_in` defaults to SIGNED_URL_EXPIRY; `base_url` (local only) to
        PUBLIC_URL; `download_name` makes the response an attachment with that name."""
        ...

    async def signed_upload_url(
        self,
        bucket: str,
        key: str,
        *,
        user_id: UUID | str,
        expires_in: int | None = None,
        base_url: str | None = None,
        content_type: str | None = None,
        max_bytes: int | None = None,
    ) -> SignedUpload:
        """A URL that lets the holder PUT one object at `key`, owned by `user_id`.

        The byte limit is the bucket's `file_size_limit` (or `max_bytes`, if smaller).
        `content_type`, if given, is part of an S3 signature: the client must send exactly
        that Content-Type. Call `confirm_upload` before trusting what arrived."""
        ...

    async def confirm_upload(
        self, bucket: str, key: str, *, user_id: UUID | str, max_bytes: int | None = None
    ) -> ObjectInfo:
        """Check an object uploaded through a signed URL and record it as `user_id`'s.

        Raises ObjectNotFound when nothing was uploaded; UploadTooLarge (the bucket's limit,
        or `max_bytes` if smaller), UploadNotAllowed (content not of an allowed type) or
        UploadForbidden (the catalogue's policies refuse the user) after deleting the
        object. Safe to call again for the same object."""
        ...

    async def remove_stale_temporary(self) -> int:
        """Delete temporary files that interrupted writes left behind, once older than the
        backend's upload TTL; returns how many. Cheap to call often: the backend looks at
        most once a minute. Safe while other processes do the same."""
        ...
