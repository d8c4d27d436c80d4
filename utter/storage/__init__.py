"""Object storage: one protocol (`Storage`), a `local` and an `s3` backend, signed URLs.

    storage = create_storage(settings, db)
    await storage.put("generations", f"{user_id}/{generation_id}.wav", wav, "audio/wav",
                      owner=user_id)
    url = await storage.signed_download_url("generations", key, user_id=user_id)

See docs/storage.md for keys, URL formats and limits.
"""

from __future__ import annotations

from utter.db import Database
from utter.keys import load_or_create_secret
from utter.settings import Settings
from utter.storage.base import (
    BUCKETS,
    Body,
    ObjectInfo,
    ObjectNotFound,
    SignedUpload,
    Storage,
    StorageError,
    require_owned_key,
)
from utter.storage.local import LocalStorage

__all__ = [
    "BUCKETS",
    "Body",
    "LocalStorage",
    "ObjectInfo",
    "ObjectNotFound",
    "SignedUpload",
    "Storage",
    "StorageError",
    "create_storage",
    "require_owned_key",
]


def create_storage(settings: Settings, db: Database) -> Storage:
    """The backend the settings name. Nothing is contacted or created until first use."""
    if settings.storage_backend == "s3":
        from utter.storage.s3 import S3Storage, create_s3_client

        s3_secret = settings.s3_secret_access_key
        client = create_s3_client(
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=s3_secret.get_secret_value() if s3_secret else None,
            path_style=settings.s3_path_style,
        )
        return S3Storage(
            client,
            db,
            buckets={
                "references": settings.s3_bucket_references,
                "generations": settings.s3_bucket_generations,
            },
            download_expiry=settings.signed_url_expiry,
            upload_expiry=settings.signed_upload_expiry,
        )

    def secret() -> str:
        if settings.storage_signing_secret is not None:
            return settings.storage_signing_secret.get_secret_value()
        return load_or_create_secret(settings.data_dir, "storage_secret")

    return LocalStorage(
        settings.storage_root.expanduser().resolve(),
        db,
        secret=secret,
        base_url=settings.base_url,
        download_expiry=settings.signed_url_expiry,
        upload_expiry=settings.signed_upload_expiry,
        temporary_ttl_seconds=settings.upload_ttl_hours * 3600,
    )
