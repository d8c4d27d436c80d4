"""GET /api/health: is the API up (and, verbosely, which database and schema level)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from utter import __version__
from utter.api.deps import DatabaseDep
from utter.db.queries import meta

router = APIRouter(tags=["health"])


@router.get("/health")
async def health(db: DatabaseDep, verbose: bool = False) -> dict[str, Any]:
    if not verbose:
        return {"ok": True}
    async with db.as_owner() as conn:
        return {
            "ok": True,
            "version": __version__,
            "database": {
                "server_version": await meta.server_version(conn),
                "migration": await meta.migration_level(conn),
            },
        }
