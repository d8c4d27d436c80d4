"""GET /api/health: is the API up and can it reach its database (verbosely: which one)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from utter import __version__
from utter.api.deps import DatabaseDep
from utter.db.queries import meta
from utter.errors import RETRY_AFTER_SECONDS

router = APIRouter(tags=["health"])


@router.get("/health", response_model=None)
async def health(db: DatabaseDep, verbose: bool = False) -> dict[str, Any] | JSONResponse:
    """200 `{"ok": true}` when the API and its database answer; 503 `{"ok": false, …}`
    while the database does not, so an orchestrator or load balancer can tell."""
    if not await db.ping():
        return JSONResponse(
            {"ok": False, "database": "unreachable"},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
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
