"""Personal API keys: POST /api/keys (the secret, shown once), GET /api/keys, DELETE
/api/keys/{key_id}. Making and revoking take a signed-in session, not a key."""

from __future__ import annotations

from fastapi import APIRouter

from utter.api.deps import CurrentUser, DatabaseDep
from utter.api.forms import Body, Text, parse_id
from utter.api.models import Ok
from utter.services import keys as service
from utter.services.keys import ApiKeyList, NewApiKey

router = APIRouter(tags=["account"])


class KeyCreate(Body):
    name: Text = None


@router.post("/keys")
async def create_key(body: KeyCreate, user: CurrentUser, db: DatabaseDep) -> NewApiKey:
    """Make a key. Its secret `key` is in this answer only: it is stored as a hash."""
    service.check_manager(user.key_id)
    return await service.create_key(db, user_id=user.id, name=body.name)


@router.get("/keys")
async def list_keys(user: CurrentUser, db: DatabaseDep) -> ApiKeyList:
    """The caller's keys, newest first, without their secrets."""
    return await service.list_keys(db, user_id=user.id)


@router.delete("/keys/{key_id}")
async def delete_key(key_id: str, user: CurrentUser, db: DatabaseDep) -> Ok:
    """Revoke a key: a request made with it after this one is refused."""
    service.check_manager(user.key_id)
    await service.delete_key(db, user_id=user.id, key_id=parse_id(key_id, service.KEY_NOT_FOUND))
    return Ok()
