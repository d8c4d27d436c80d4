"""The local backend's signed URLs over HTTP, at Supabase Storage's paths.

    GET /storage/v1/object/sign/{bucket}/{key}?token=…[&download=name]
    PUT /storage/v1/object/upload/sign/{bucket}/{key}?token=…

The token is the only credential: no Authorization header is read. Mounted
only when the storage backend is `local` (S3 serves its own presigned URLs).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel

from utter.storage.local import LocalStorage

router = APIRouter(prefix="/storage/v1", tags=["storage"])

TokenQuery = Annotated[str | None, Query(description="The token of a signed URL.")]


class UploadedObject(BaseModel):
    bucket: str
    key: str
    size: int
    content_type: str


def _storage(request: Request) -> LocalStorage:
    storage: LocalStorage = request.app.state.storage
    return storage


@router.get(
    "/object/sign/{bucket}/{key:path}",
    response_class=FileResponse,
    summary="Download an object through a signed URL",
    responses={206: {"description": "The requested byte range."}},
)
async def download(
    request: Request,
    bucket: str,
    key: str,
    token: TokenQuery = None,
    download: Annotated[
        str | None, Query(description="Serve as an attachment with this file name.")
    ] = None,
) -> FileResponse:
    path, info = await _storage(request).download_target(bucket, key, token)
    # FileResponse answers Range requests (206, 416) and sets Accept-Ranges itself.
    return FileResponse(
        path,
        media_type=info.content_type,
        filename=download or None,
        content_disposition_type="attachment",
        headers={"Cache-Control": "private, max-age=0"},
    )


@router.put(
    "/object/upload/sign/{bucket}/{key:path}",
    summary="Upload an object through a signed upload URL",
    response_model=UploadedObject,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    },
)
async def upload(
    request: Request, bucket: str, key: str, token: TokenQuery = None
) -> UploadedObject:
    length = request.headers.get("content-length")
    info = await _storage(request).receive_upload(
        bucket,
        key,
        token,
        request.stream(),
        declared_length=int(length) if length and length.isdigit() else None,
    )
    return UploadedObject(
        bucket=info.bucket, key=info.key, size=info.size, content_type=info.content_type
    )
