"""Voice design: the preview of a voice described in words, and saving a designed voice."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
from starlette.datastructures import UploadFile as StarletteUploadFile

from utter.api.context import BaseUrl, StudioDep
from utter.api.deps import CurrentUser, DatabaseDep
from utter.api.forms import UPLOAD_FORM_LIMITS, Body, Text, reject_unstorable
from utter.errors import Invalid
from utter.services import design as design_service
from utter.services.design import DesignedVoice
from utter.services.generate import PreviewStarted, submit_design_preview

router = APIRouter(tags=["design"])


class DesignPreviewIn(Body):
    text: Text = None
    language: Text = None
    instruct: Text = None


class DesignSaveIn(Body):
    task_id: Text = None
    name: Text = None


@router.post("/voices/design/preview")
async def design_preview(
    body: DesignPreviewIn, user: CurrentUser, db: DatabaseDep, studio: StudioDep
) -> PreviewStarted:
    """Queue a preview clip of a voice described in words."""
    return await submit_design_preview(
        db,
        studio.queue,
        user_id=user.id,
        text=body.text,
        language=body.language,
        instruct=body.instruct,
        rules=studio.generation_rules,
    )


async def _multipart_save(
    request: Request, user_id: UUID, db: DatabaseDep, studio: StudioDep, base_url: str
) -> DesignedVoice:
    try:
        form = await request.form(**UPLOAD_FORM_LIMITS)
    except Exception:
        # However the multipart body is broken (parts over the limits, bad boundaries,
        # undecodable headers), it is the client's malformed form.
        raise Invalid("Invalid form data.") from None

    def field(name: str) -> str | None:
        value = form.get(name)
        reject_unstorable(value)
        return value.strip() or None if isinstance(value, str) else None

    limit = studio.clone_rules.limits.max_bytes
    upload = form.get("audio")
    # One byte over the limit is enough for the service to refuse it as too large.
    audio = await upload.read(limit + 1) if isinstance(upload, StarletteUploadFile) else None
    return await design_service.save_from_upload(
        db,
        studio.storage,
        studio.cpu,
        user_id=user_id,
        name=field("name"),
        text=field("text"),
        language=field("language"),
        instruct=field("instruct"),
        audio=audio,
        rules=studio.clone_rules,
        base_url=base_url,
    )


async def _json_save(
    request: Request, user_id: UUID, db: DatabaseDep, studio: StudioDep, base_url: str
) -> DesignedVoice:
    try:
        body = DesignSaveIn.model_validate_json(await request.body() or b"null")
    except ValueError:
        raise Invalid("Invalid JSON body") from None
    return await design_service.save_from_task(
        db,
        studio.storage,
        studio.cpu,
        user_id=user_id,
        task_id_raw=body.task_id,
        name=body.name,
        rules=studio.clone_rules,
        base_url=base_url,
    )


@router.post(
    "/voices/design",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {"schema": DesignSaveIn.model_json_schema()},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "text": {"type": "string"},
                            "language": {"type": "string"},
                            "instruct": {"type": "string"},
                            "audio": {"type": "string", "format": "binary"},
                        },
                    }
                },
            }
        }
    },
)
async def design_save(
    request: Request, user: CurrentUser, db: DatabaseDep, studio: StudioDep, base_url: BaseUrl
) -> DesignedVoice:
    """Save a designed voice: JSON `{task_id, name}` from a finished preview (preferred), or
    an uploaded preview as a multipart form (`name, text, language, instruct, audio`)."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        return await _multipart_save(request, user.id, db, studio, base_url)
    return await _json_save(request, user.id, db, studio, base_url)
