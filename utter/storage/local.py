"""The `local` backend: objects as files under STORAGE_DIR/{bucket}/{key}.

Every write goes to a temporary file in STORAGE_DIR/.tmp (same filesystem),
is fsynced, and is moved into place inside the database transaction that
records it, so an object and its catalogue row appear together or not at all.
Clients reach objects only through the signed URLs of `utter.storage.routes`.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from stat import S_ISREG
from typing import BinaryIO
from urllib.parse import quote, urlencode
from uuid import UUID

from utter.db import Database
from utter.db.queries import storage as queries
from utter.errors import Forbidden
from utter.metrics import counts_storage_errors
from utter.storage import catalogue
from utter.storage.base import (
    Body,
    EmptyUpload,
    ObjectExists,
    ObjectInfo,
    ObjectNotFound,
    SignedUpload,
    UploadTooLarge,
    check_bucket_name,
    check_key,
    iter_body,
    require_owned_key,
)
from utter.storage.catalogue import BucketLimits
from utter.storage.sniff import SNIFF_BYTES
from utter.storage.tokens import INVALID_SIGNED_URL, TokenSigner

CHUNK = 256 * 1024
SIGN_PATH = "/storage/v1/object/sign"
UPLOAD_SIGN_PATH = "/storage/v1/object/upload/sign"
TEMPORARY_SUFFIX = ".part"
# How often remove_stale_temporary lists the temporary folder; every worker sweeps every few
# seconds, and a listing of a big folder is not free.
TEMPORARY_SWEEP_SECONDS = 60.0


@dataclass
class _Spooled:
    path: Path
    size: int
    sha256: str
    head: bytes


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalStorage:
    name = "local"

    def __init__(
        self,
        root: Path,
        db: Database,
        *,
        secret: Callable[[], str],
        base_url: str,
        download_expiry: int = 3600,
        upload_expiry: int = 7200,
        temporary_ttl_seconds: float = 24 * 3600,
    ) -> None:
        self.root = root
        self._temporary_ttl = temporary_ttl_seconds
        self._next_temporary_sweep = 0.0
        self._db = db
        self._secret = secret
        self._base_url = base_url.rstrip("/")
        self._download_expiry = download_expiry
        self._upload_expiry = upload_expiry

    @cached_property
    def _signer(self) -> TokenSigner:
        # Read (or created) on first use, so building an app does not touch the key files.
        return TokenSigner(self._secret())

    @property
    def tmp_dir(self) -> Path:
        return self.root / ".tmp"

    def path_for(self, bucket: str, key: str) -> Path:
        """The file behind an object. Checked names cannot point outside the root."""
        check_bucket_name(bucket)
        check_key(key)
        return self.root / bucket / Path(*key.split("/"))

    # Writing ---------------------------------------------------------------------

    async def _spool(
        self,
        data: Body,
        *,
        max_bytes: int | None = None,
        check_head: Callable[[bytes], object] | None = None,
    ) -> _Spooled:
        """Copy `data` into a new temporary file (fsynced). Raises UploadTooLarge as soon as
        more than `max_bytes` arrived, and whatever `check_head` raises once the first
        SNIFF_BYTES are known; the temporary file is removed on any error."""
        await asyncio.to_thread(self.tmp_dir.mkdir, parents=True, exist_ok=True)
        path = self.tmp_dir / f"{secrets.token_hex(16)}{TEMPORARY_SUFFIX}"
        handle: BinaryIO = await asyncio.to_thread(open, path, "xb")
        digest = hashlib.sha256()
        size = 0
        head = b""
        head_checked = False
        try:
            async for chunk in iter_body(data):
                if not chunk:
                    continue
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    raise UploadTooLarge(max_bytes)
                if len(head) < SNIFF_BYTES:
                    head += chunk[: SNIFF_BYTES - len(head)]
                    if check_head is not None and len(head) >= SNIFF_BYTES:
                        check_head(head)
                        head_checked = True
                digest.update(chunk)
                await asyncio.to_thread(handle.write, chunk)
            if check_head is not None and not head_checked and size:
                check_head(head)
            await asyncio.to_thread(_flush_and_sync, handle)
        except BaseException:
            await asyncio.to_thread(handle.close)
            path.unlink(missing_ok=True)
            raise
        await asyncio.to_thread(handle.close)
        return _Spooled(path, size, digest.hexdigest(), head)

    @counts_storage_errors("local")
    async def put(
        self,
        bucket: str,
        key: str,
        data: Body,
        content_type: str = "application/octet-stream",
        *,
        owner: UUID | str | None = None,
    ) -> ObjectInfo:
        path = self.path_for(bucket, key)
        if owner is not None:
            require_owned_key(key, owner)
        spooled = await self._spool(data)
        info = ObjectInfo(
            bucket, key, spooled.size, content_type, spooled.sha256, catalogue.as_uuid(owner)
        )
        placed = False
        try:
            async with catalogue.recording(self._db, info, spooled.sha256):
                await asyncio.to_thread(_replace_into, spooled.path, path)
                placed = True
        except BaseException:
            if placed:  # the row did not commit: no file without its row
                await self._discard(bucket, path)
            raise
        finally:
            spooled.path.unlink(missing_ok=True)
        await asyncio.to_thread(_fsync_dir, path.parent)
        return info

    @counts_storage_errors("local")
    async def receive_upload(
        self,
        bucket: str,
        key: str,
        token: str | None,
        body: AsyncIterable[bytes],
        *,
        declared_length: int | None = None,
    ) -> ObjectInfo:
        """Take the body of a signed-URL upload: check the token, stream to a temporary
        file within the byte limit, refuse content the bucket does not accept, record
        the row as the token's owner (so RLS decides) and move the file into place.
        Nothing is left behind when any step refuses."""
        grant = self._signer.verify(token, "upload", bucket, key)
        path = self.path_for(bucket, key)
        if grant.owner is None:
            raise Forbidden(INVALID_SIGNED_URL)
        require_owned_key(key, grant.owner)
        limits = await catalogue.bucket_limits(self._db, bucket)
        max_bytes = min(grant.max_bytes or limits.max_bytes, limits.max_bytes)
        if declared_length is not None and declared_length > max_bytes:
            raise UploadTooLarge(max_bytes)
        # Cheap early answer; the unique index and the no-clobber link below are the guard.
        if await asyncio.to_thread(path.exists):
            raise ObjectExists()
        spooled = await self._spool(body, max_bytes=max_bytes, check_head=limits.content_type_for)
        try:
            if spooled.size == 0:
                raise EmptyUpload()
            info = ObjectInfo(
                bucket,
                key,
                spooled.size,
                limits.content_type_for(spooled.head),
                spooled.sha256,
                grant.owner,
            )
            placed = False
            try:
                async with catalogue.recording_as_user(self._db, info, grant.owner, spooled.sha256):
                    await asyncio.to_thread(_link_into, spooled.path, path)
                    placed = True
            except BaseException:
                if placed:
                    await self._discard(bucket, path)
                raise
        finally:
            spooled.path.unlink(missing_ok=True)
        await asyncio.to_thread(_fsync_dir, path.parent)
        return info

    @counts_storage_errors("local")
    async def confirm_upload(
        self, bucket: str, key: str, *, user_id: UUID | str, max_bytes: int | None = None
    ) -> ObjectInfo:
        return await catalogue.confirm_upload(self, self._db, bucket, key, user_id, max_bytes)

    async def remove_stale_temporary(self) -> int:
        now = time.monotonic()
        if now < self._next_temporary_sweep:
            return 0
        self._next_temporary_sweep = now + TEMPORARY_SWEEP_SECONDS
        return await asyncio.to_thread(
            _remove_files_older_than, self.tmp_dir, time.time() - self._temporary_ttl
        )

    async def _discard(self, bucket: str, path: Path) -> None:
        await asyncio.to_thread(path.unlink, missing_ok=True)
        await asyncio.to_thread(_prune_empty_dirs, path.parent, self.root / bucket)

    # Reading ---------------------------------------------------------------------

    @counts_storage_errors("local")
    async def read(self, bucket: str, key: str) -> bytes:
        path = self.path_for(bucket, key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise ObjectNotFound() from None

    @counts_storage_errors("local")
    async def open(
        self, bucket: str, key: str, *, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        path = self.path_for(bucket, key)
        try:
            handle: BinaryIO = await asyncio.to_thread(open, path, "rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise ObjectNotFound() from None
        return _read_range(handle, start, end)

    @counts_storage_errors("local")
    async def stat(self, bucket: str, key: str) -> ObjectInfo | None:
        path = self.path_for(bucket, key)
        try:
            st = await asyncio.to_thread(path.stat)
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not S_ISREG(st.st_mode):
            return None
        async with self._db.as_service() as conn:
            row = await queries.get_object(conn, bucket, key)
        meta = (row or {}).get("metadata") or {}
        return ObjectInfo(
            bucket,
            key,
            st.st_size,
            str(meta.get("mimetype") or "application/octet-stream"),
            meta.get("sha256") or meta.get("eTag"),
            (row or {}).get("owner"),
        )

    @counts_storage_errors("local")
    async def delete(self, bucket: str, key: str) -> None:
        path = self.path_for(bucket, key)
        async with self._db.as_service() as conn:
            await queries.delete_object(conn, bucket, key)
            await self._discard(bucket, path)

    # Signing ---------------------------------------------------------------------

    def _url(self, prefix: str, bucket: str, key: str, base_url: str | None) -> str:
        base = (base_url or self._base_url).rstrip("/")
        return f"{base}{prefix}/{quote(bucket, safe='')}/{quote(key, safe='/')}"

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
        self.path_for(bucket, key)
        require_owned_key(key, user_id)
        token, _ = self._signer.sign(
            "download", bucket, key, expires_in=expires_in or self._download_expiry
        )
        query = {"token": token}
        if download_name:
            query["download"] = download_name
        return f"{self._url(SIGN_PATH, bucket, key, base_url)}?{urlencode(query)}"

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
        self.path_for(bucket, key)
        require_owned_key(key, user_id)
        limits: BucketLimits = await catalogue.bucket_limits(self._db, bucket)
        limit = min(limits.max_bytes, max_bytes or limits.max_bytes)
        token, expires_at = self._signer.sign(
            "upload",
            bucket,
            key,
            expires_in=expires_in or self._upload_expiry,
            owner=catalogue.as_uuid(user_id),
            max_bytes=limit,
        )
        url = self._url(UPLOAD_SIGN_PATH, bucket, key, base_url)
        return SignedUpload(
            url=f"{url}?{urlencode({'token': token})}",
            expires_at=datetime.fromtimestamp(expires_at, UTC),
            max_bytes=limit,
            headers={"Content-Type": content_type} if content_type else {},
        )

    async def download_target(
        self, bucket: str, key: str, token: str | None
    ) -> tuple[Path, ObjectInfo]:
        """The file and its facts for a signed download; Invalid or Forbidden for a bad
        token, ObjectNotFound when the object is gone."""
        self._signer.verify(token, "download", bucket, key)
        info = await self.stat(bucket, key)
        if info is None:
            raise ObjectNotFound()
        return self.path_for(bucket, key), info


async def _read_range(handle: BinaryIO, start: int, end: int | None) -> AsyncIterator[bytes]:
    try:
        await asyncio.to_thread(handle.seek, start)
        remaining = None if end is None else max(0, end - start + 1)
        while remaining is None or remaining > 0:
            size = CHUNK if remaining is None else min(CHUNK, remaining)
            chunk = await asyncio.to_thread(handle.read, size)
            if not chunk:
                break
            if remaining is not None:
                remaining -= len(chunk)
            yield chunk
    finally:
        handle.close()


def _flush_and_sync(handle: BinaryIO) -> None:
    handle.flush()
    os.fsync(handle.fileno())


def _into_place(place: Callable[[Path, Path], None], source: Path, target: Path) -> None:
    # A concurrent delete may prune the folder between mkdir and the move: make it again.
    for attempt in range(3):
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            place(source, target)
            return
        except FileNotFoundError:
            if attempt == 2:
                raise


def _replace_into(source: Path, target: Path) -> None:
    _into_place(os.replace, source, target)


def _link_into(source: Path, target: Path) -> None:
    """Place `source` at `target` unless something is there already (link never clobbers)."""
    try:
        _into_place(os.link, source, target)
    except FileExistsError:
        raise ObjectExists() from None


def _prune_empty_dirs(directory: Path, stop: Path) -> None:
    """Remove the folders a delete left empty, up to (not including) the bucket folder."""
    while directory != stop and stop in directory.parents:
        try:
            directory.rmdir()
        except OSError:
            return
        directory = directory.parent


def _remove_files_older_than(directory: Path, cutoff: float) -> int:
    """Unlink the temporary files in `directory` last written before `cutoff` (epoch
    seconds). A file another sweeper removed first is simply not counted."""
    removed = 0
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return 0
    for entry in entries:
        if not entry.name.endswith(TEMPORARY_SUFFIX):
            continue
        try:
            if not entry.is_file(follow_symlinks=False) or entry.stat().st_mtime >= cutoff:
                continue
            os.unlink(entry.path)
        except FileNotFoundError:
            continue
        removed += 1
    return removed
