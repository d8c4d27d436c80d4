"""Tenant isolation, route by route: user B gets 404 for user A's object on every route
that names an object in its path (never 200 or 403 with data).

HOW TO ADD A ROUTE. Every route in /openapi.json whose path has a parameter must appear
in one of the two tables below, or `test_every_parameterized_route_is_covered` fails
naming it:

* CASES: the route names a user's object. Add one entry,

      ("GET", "/api/voices/{id}"): Case(make_voice),

  where `make_voice(client, db, owner)` creates an object owned by `owner` (through the
  API or the database) and returns the path parameters naming it, e.g. {"id": "…"}.
  Pass `json=` for a request body. The test then calls the route as another user (must be
  404) and as the owner (must not be 404, which proves the object was real).
* NOT_USER_OBJECTS: the parameter names no user's object (e.g. a signed storage URL, whose
  signature is the authority); say why.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

import httpx
from fastapi import APIRouter, FastAPI

from tests.support.api import ApiUser, sign_up
from tests.support.objects import make_generation, make_task, make_voice
from utter.api.deps import CurrentUser, DatabaseDep
from utter.api.errors import install_error_handlers
from utter.db import Database
from utter.errors import Forbidden, NotFound

Make = Callable[[httpx.AsyncClient, Database, ApiUser], Awaitable[dict[str, str]]]


@dataclass(frozen=True)
class Case:
    make: Make
    json: dict[str, Any] | None = None


Route = tuple[str, str]  # (METHOD, path template as in /openapi.json)


async def _voice(client: httpx.AsyncClient, db: Database, owner: ApiUser) -> dict[str, str]:
    return {"voice_id": str(await make_voice(db, owner.id))}


async def _generation(client: httpx.AsyncClient, db: Database, owner: ApiUser) -> dict[str, str]:
    voice = await make_voice(db, owner.id)
    return {"generation_id": str(await make_generation(db, owner.id, voice))}


async def _task(client: httpx.AsyncClient, db: Database, owner: ApiUser) -> dict[str, str]:
    return {"task_id": str(await make_task(db, owner.id))}


async def _finished_generate_task(
    client: httpx.AsyncClient, db: Database, owner: ApiUser
) -> dict[str, str]:
    # Finished: its stream ends at once (a running one would last until its task ends).
    return {"task_id": str(await make_task(db, owner.id, status="completed", kind="generate"))}


async def _api_key(client: httpx.AsyncClient, db: Database, owner: ApiUser) -> dict[str, str]:
    made = await client.post("/api/keys", json={"name": "script"}, headers=owner.headers)
    assert made.status_code == 200, made.text
    return {"key_id": made.json()["id"]}


CASES: dict[Route, Case] = {
    ("GET", "/api/voices/{voice_id}"): Case(_voice),
    ("PATCH", "/api/voices/{voice_id}"): Case(_voice, json={"name": "Renamed"}),
    ("DELETE", "/api/voices/{voice_id}"): Case(_voice),
    ("GET", "/api/voices/{voice_id}/preview"): Case(_voice),
    ("GET", "/api/tasks/{task_id}"): Case(_task),
    ("POST", "/api/tasks/{task_id}/cancel"): Case(_task),
    ("DELETE", "/api/tasks/{task_id}"): Case(_task),
    ("GET", "/api/tasks/{task_id}/stream"): Case(_finished_generate_task),
    ("GET", "/api/generations/{generation_id}/audio"): Case(_generation),
    ("DELETE", "/api/generations/{generation_id}"): Case(_generation),
    ("POST", "/api/generations/{generation_id}/regenerate"): Case(_generation),
    ("DELETE", "/api/keys/{key_id}"): Case(_api_key),
}

NOT_USER_OBJECTS: dict[Route, str] = {
    ("GET", "/storage/v1/object/sign/{bucket}/{key}"): (
        "a signed download URL: its signature, not the caller, authorizes it"
    ),
    ("PUT", "/storage/v1/object/upload/sign/{bucket}/{key}"): (
        "a signed upload URL: its signature, not the caller, authorizes it"
    ),
    ("GET", "/v1/models/{model}"): (
        "a model name of the server's engine or transcriber, the same for every user"
    ),
}


def parameterized_routes(app: FastAPI) -> set[Route]:
    routes = set()
    for path, operations in app.openapi()["paths"].items():
        if "{" in path:
            routes.update((method.upper(), path) for method in operations)
    return routes


def uncovered(app: FastAPI) -> list[str]:
    known = set(CASES) | set(NOT_USER_OBJECTS)
    return sorted(f"{m} {p}" for m, p in parameterized_routes(app) - known)


async def isolation_failure(
    client: httpx.AsyncClient, db: Database, route: Route, case: Case
) -> str | None:
    """Why `route` leaks another user's object, or None when it does not."""
    method, template = route
    owner, intruder = await sign_up(client), await sign_up(client)
    path = template.format(**await case.make(client, db, owner))
    as_intruder = await client.request(method, path, headers=intruder.headers, json=case.json)
    if as_intruder.status_code != 404:
        return (
            f"{method} {template}: another user got {as_intruder.status_code}, not 404: "
            f"{as_intruder.text[:200]}"
        )
    as_owner = await client.request(method, path, headers=owner.headers, json=case.json)
    if as_owner.status_code == 404:
        return f"{method} {template}: its owner got 404 too, so the case made no real object"
    return None


def test_every_parameterized_route_is_covered(app: FastAPI) -> None:
    missing = uncovered(app)
    assert not missing, (
        "These routes take a path parameter but have no tenant-isolation case; add each to "
        "CASES (or NOT_USER_OBJECTS) in tests/api/test_tenant_isolation.py: " + ", ".join(missing)
    )


def test_the_tables_name_only_existing_routes(app: FastAPI) -> None:
    stale = (set(CASES) | set(NOT_USER_OBJECTS)) - parameterized_routes(app)
    assert not stale, f"routes in the tables that the app no longer has: {sorted(stale)}"


async def test_no_user_reaches_another_users_object(
    app: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    failures = [
        failure
        for route, case in sorted(CASES.items())
        if (failure := await isolation_failure(client, db, route, case)) is not None
    ]
    assert failures == []


# The check itself, proven on routes made for the purpose ------------------------------


async def _make_voice(client: httpx.AsyncClient, db: Database, owner: ApiUser) -> dict[str, str]:
    async with db.as_service() as conn:
        cur = await conn.execute(
            "insert into public.voices (user_id, name, source) values (%s, 'mine', 'designed')"
            " returning id",
            (owner.id,),
        )
        row = await cur.fetchone()
    assert row is not None
    return {"id": str(row["id"])}


def _probe_router() -> APIRouter:
    router = APIRouter(prefix="/api/_probe")

    @router.get("/isolated/{id}")
    async def isolated(id: UUID, user: CurrentUser, db: DatabaseDep) -> dict[str, Any]:
        async with db.as_user(user.id) as conn:
            cur = await conn.execute("select id, name from public.voices where id = %s", (id,))
            row = await cur.fetchone()
        if row is None:
            raise NotFound("Voice not found")
        return {"id": str(row["id"]), "name": row["name"]}

    @router.get("/leaky/{id}")
    async def leaky(id: UUID, user: CurrentUser, db: DatabaseDep) -> dict[str, Any]:
        async with db.as_service() as conn:  # the mistake: no owner check, RLS bypassed
            cur = await conn.execute("select id, name from public.voices where id = %s", (id,))
            row = await cur.fetchone()
        if row is None:
            raise NotFound("Voice not found")
        return {"id": str(row["id"]), "name": row["name"]}

    @router.get("/forbidding/{id}")
    async def forbidding(id: UUID, user: CurrentUser) -> dict[str, Any]:
        raise Forbidden(f"Voice {id} belongs to someone else")

    return router


def _with_probes(app: FastAPI) -> FastAPI:
    """The app with the probe routes in front (everything else falls through to it)."""
    probe = FastAPI()
    for name in ("settings", "db", "auth"):
        setattr(probe.state, name, getattr(app.state, name))
    install_error_handlers(probe)
    probe.include_router(_probe_router())
    probe.mount("/", app)
    return probe


def test_the_check_names_a_new_uncovered_route(app: FastAPI) -> None:
    missing = uncovered(_with_probes(app))
    assert "GET /api/_probe/isolated/{id}" in missing
    assert "GET /api/_probe/leaky/{id}" in missing


async def test_the_check_passes_an_isolated_route_and_fails_leaky_ones(
    app: FastAPI, db: Database
) -> None:
    transport = httpx.ASGITransport(app=_with_probes(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        case = Case(_make_voice)
        isolated = ("GET", "/api/_probe/isolated/{id}")
        assert await isolation_failure(client, db, isolated, case) is None
        leak = await isolation_failure(client, db, ("GET", "/api/_probe/leaky/{id}"), case)
        assert leak is not None and "another user got 200" in leak
        forbid = await isolation_failure(client, db, ("GET", "/api/_probe/forbidding/{id}"), case)
        assert forbid is not None and "another user got 403" in forbid

        async def nothing(
            client: httpx.AsyncClient, db: Database, owner: ApiUser
        ) -> dict[str, str]:
            return {"id": str(uuid4())}

        hollow = await isolation_failure(client, db, isolated, Case(nothing))
        assert hollow is not None and "owner got 404" in hollow


async def test_a_malformed_id_is_a_404_on_every_route(client: httpx.AsyncClient) -> None:
    """An id that is not a UUID is simply not found: never a 500, never a hint."""
    user = await sign_up(client)
    for (method, template), case in sorted(CASES.items()):
        params = {name: "not-a-uuid" for name in _placeholders(template)}
        response = await client.request(
            method, template.format(**params), headers=user.headers, json=case.json
        )
        assert response.status_code == 404, (method, template, response.text)
        assert isinstance(response.json()["detail"], str)


def _placeholders(template: str) -> list[str]:
    return [part[1:-1] for part in template.split("/") if part.startswith("{")]
