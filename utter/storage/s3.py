"""The `s3` backend: any S3-compatible store (AWS S3, MinIO, R2, Supabase Storage's S3
endpoint) through boto3, whose blocking calls run in worker threads.

Each logical bucket maps to a real bucket named in the settings. Server-side
puts are recorded in the `storage.objects` catalogue as on `local`, so listing
and ownership stay in Postgres. Signed URLs are S3 presigned URLs, which S3
itself checks (signature, expiry, and the signed Content-Type). A presigned PUT
cannot limit the size or the content of what is sent, so `confirm_upload`
checks both afterwards and deletes an object that breaks the bucket's rules.
"""

from __future__ import annotations

import asyncio
import hashlib
import tempfile
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import IO, TYPE_CHECKING, Any
from uuid import UUID

from utter.db import Database
from utter.metrics import counts_storage_errors
from utter.storage import catalogue
from utter.storage.base import (
    Body,
    BucketNotFound,
    ObjectInfo,
    ObjectNotFound,
    SignedUpload,
    check_bucket_name,
    check_key,
    content_disposition,
    iter_body,
    require_owned_key,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

CHUNK = 256 * 1024
_MISSING = ("404", "NoSuchKey", "NotFound")


def _is_missing(exc: Exception) -> bool:
    from botocore.exceptions import ClientError

    return (
        isinstance(exc, ClientError) and str(exc.response.get("Error", {}).get("Code")) in _MISSING
    )


class S3Storage:
    name = "s3"

    def __init__(
        self,
        client: S3Client,
        db: Database,
        *,
        buckets: Mapping[str, str],
        download_expiry: int = 3600,
        upload_expiry: int = 7200,
    ) -> None:
        self._client = client
        self._db = db
        self._buckets = dict(buckets)
        self._download_expiry = download_expiry
        self._upload_expiry = upload_expiry

    def bucket_name(self, bucket: str) -> str:
        """The real S3 bucket behind a logical one."""
        check_bucket_name(bucket)
        try:
            return self._buckets[bucket]
        except KeyError:
            raise BucketNotFound() from None

    def _where(self, bucket: str, key: str) -> tuple[str, str]:
        check_key(key)
        return self.bucket_name(bucket), key

    @counts_storage_errors("s3")
    async def put(
        self,
        bucket: str,
        key: str,
        data: Body,
        content_type: str = "application/octet-stream",
        *,
        owner: UUID | str | None = None,
    ) -> ObjectInfo:
        real_bucket, key = self._where(bucket, key)
        if owner is not None:
            require_owned_key(key, owner)
        with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as spool:
            size, sha256 = await _spool(data, spool)
            await asyncio.to_thread(spool.seek, 0)
            response = await asyncio.to_thread(
                self._client.put_object,
                Bucket=real_bucket,
                Key=key,
                Body=spool,
                ContentType=content_type,
                ContentLength=size,
                Metadata={"sha256": sha256},
            )
        info = ObjectInfo(
            bucket,
            key,
            size,
            content_type,
            str(response.get("ETag", "")).strip('"') or None,
            catalogue.as_uuid(owner),
        )
        try:
            async with catalogue.recording(self._db, info, sha256):
                pass
        except BaseException:
            # An object the catalogue does not know would be an orphan.
            await asyncio.to_thread(self._client.delete_object, Bucket=real_bucket, Key=key)
            raise
        return info

    @counts_storage_errors("s3")
    async def read(self, bucket: str, key: str) -> bytes:
        real_bucket, key = self._where(bucket, key)
        try:
            response = await asyncio.to_thread(self._client.get_object, Bucket=real_bucket, Key=key)
        except Exception as exc:
            if _is_missing(exc):
                raise ObjectNotFound() from None
            raise
        body = response["Body"]
        try:
            return await asyncio.to_thread(body.read)
        finally:
            body.close()

    @counts_storage_errors("s3")
    async def open(
        self, bucket: str, key: str, *, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        real_bucket, key = self._where(bucket, key)
        extra: dict[str, Any] = {}
        if start or end is not None:
            extra["Range"] = f"bytes={start}-{'' if end is None else end}"
        try:
            response = await asyncio.to_thread(
                self._client.get_object, Bucket=real_bucket, Key=key, **extra
            )
        except Exception as exc:
            if _is_missing(exc):
                raise ObjectNotFound() from None
            raise
        return _stream(response["Body"])

    @counts_storage_errors("s3")
    async def stat(self, bucket: str, key: str) -> ObjectInfo | None:
        real_bucket, key = self._where(bucket, key)
        try:
            head = await asyncio.to_thread(self._client.head_object, Bucket=real_bucket, Key=key)
        except Exception as exc:
            if _is_missing(exc):
                return None
            raise
        return ObjectInfo(
            bucket,
            key,
            int(head["ContentLength"]),
            head.get("ContentType") or "application/octet-stream",
            str(head.get("ETag", "")).strip('"') or None,
        )

    @counts_storage_errors("s3")
    async def delete(self, bucket: str, key: str) -> None:
        real_bucket, key = self._where(bucket, key)
        # S3 answers 204 for a key that is not there, so this is idempotent as it stands.
        await asyncio.to_thread(self._client.delete_object, Bucket=real_bucket, Key=key)
        await catalogue.forget(self._db, bucket, key)

    async def remove_stale_temporary(self) -> int:
        # Spooled bodies live in tempfile's files, which the OS removes with the process.
        return 0

    @counts_storage_errors("s3")
    async def confirm_upload(
        self, bucket: str, key: str, *, user_id: UUID | str, max_bytes: int | None = None
    ) -> ObjectInfo:
        stored = await self.stat(bucket, key)
        info = await catalogue.confirm_upload(self, self._db, bucket, key, user_id, max_bytes)
        if stored is not None and stored.content_type != info.content_type:
            # The client chose the Content-Type (unless it was signed); serve what the bytes are.
            real_bucket, key = self._where(bucket, key)
            await asyncio.to_thread(
                self._client.copy_object,
                Bucket=real_bucket,
                Key=key,
                CopySource={"Bucket": real_bucket, "Key": key},
                ContentType=info.content_type,
                MetadataDirective="REPLACE",
            )
        return info

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
        real_bucket, key = self._where(bucket, key)
        require_owned_key(key, user_id)
        params: dict[str, Any] = {"Bucket": real_bucket, "Key": key}
        if download_name:
            params["ResponseContentDisposition"] = content_disposition(download_name)
        # Signing is local computation; no request leaves the process.
        return self._client.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=expires_in or self._download_expiry
        )

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
        real_bucket, key = self._where(bucket, key)
        require_owned_key(key, user_id)
        limits = await catalogue.bucket_limits(self._db, bucket)
        limit = min(limits.max_bytes, max_bytes or limits.max_bytes)
        expires = expires_in or self._upload_expiry
        params: dict[str, Any] = {"Bucket": real_bucket, "Key": key}
        headers: dict[str, str] = {}
        if content_type:
            params["ContentType"] = content_type
            headers["Content-Type"] = content_type
        url = self._client.generate_presigned_url("put_object", Params=params, ExpiresIn=expires)
        return SignedUpload(
            url=url,
            expires_at=datetime.now(UTC) + timedelta(seconds=expires),
            max_bytes=limit,
            headers=headers,
        )


async def _spool(data: Body, spool: IO[bytes]) -> tuple[int, str]:
    """Copy `data` into `spool`; its size and sha256."""
    digest = hashlib.sha256()
    size = 0
    async for chunk in iter_body(data, CHUNK):
        digest.update(chunk)
        size += len(chunk)
        await asyncio.to_thread(spool.write, chunk)
    return size, digest.hexdigest()


async def _stream(body: Any) -> AsyncIterator[bytes]:
    try:
        while chunk := await asyncio.to_thread(body.read, CHUNK):
            yield chunk
    finally:
        body.close()


def create_s3_client(
    *,
    endpoint_url: str | None,
    region: str,
    access_key_id: str | None,
    secret_access_key: str | None,
    path_style: bool,
) -> S3Client:
    import boto3
    from botocore.config import Config

    config = Config(
        region_name=region,
        signature_version="s3v4",
        s3={"addressing_style": "path" if path_style else "auto"},
        retries={"max_attempts": 3, "mode": "standard"},
    )
    client: S3Client = boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        config=config,
    )
    return client
