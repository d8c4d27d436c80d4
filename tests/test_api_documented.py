"""docs/api.md lists every route the app serves, and no route it does not serve.

The served routes are the app's own OpenAPI document (built in the process: no database, no
server) plus the few routes kept out of it on purpose (/openapi.json, /docs). A documented
route is a code span such as `GET /api/voices/{id}` or `GET/PATCH /api/x` in docs/api.md;
path parameters match whatever their names, and a query string is ignored."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

API_MD = Path(__file__).parent.parent / "docs" / "api.md"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_METHOD = "|".join(METHODS)
ROUTE_SPAN = re.compile(rf"`((?:{_METHOD})(?:/(?:{_METHOD}))*) (/[^`\s]*)`")
# Served, but not part of the API's own OpenAPI document (/metrics is for Prometheus).
OUTSIDE_OPENAPI = {("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/metrics")}

Route = tuple[str, str]


def _normalise(path: str) -> str:
    path = re.split(r"[?\[]", path, maxsplit=1)[0]
    return re.sub(r"\{[^}]*\}", "{}", path.rstrip("/") or "/")


def documented_routes(text: str) -> set[Route]:
    routes: set[Route] = set()
    for methods, path in ROUTE_SPAN.findall(text):
        routes.update((method, _normalise(path)) for method in methods.split("/"))
    return routes


def served_routes(app: FastAPI) -> set[Route]:
    routes = {(method, _normalise(path)) for method, path in OUTSIDE_OPENAPI}
    for path, operations in app.openapi()["paths"].items():
        routes.update(
            (method.upper(), _normalise(path)) for method in operations if method.upper() in METHODS
        )
    return routes


@pytest.fixture(scope="module")
def unstarted_app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    """The app as `utter serve` builds it (builtin auth, local storage), never started: its
    database pool is not opened without the lifespan, so the URL needs no server behind it."""
    from tests.support.server import app_settings
    from utter.app import create_app

    data_dir = tmp_path_factory.mktemp("api-documented") / "data"
    return create_app(app_settings(data_dir, database_url="postgresql://nobody@127.0.0.1:1/unused"))


@pytest.fixture
async def in_process(unstarted_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=unstarted_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def test_every_served_route_is_in_docs_api_md(unstarted_app: FastAPI) -> None:
    missing = served_routes(unstarted_app) - documented_routes(API_MD.read_text())
    assert sorted(missing) == [], f"routes missing from docs/api.md: {sorted(missing)}"


def test_every_route_in_docs_api_md_is_served(unstarted_app: FastAPI) -> None:
    extra = documented_routes(API_MD.read_text()) - served_routes(unstarted_app)
    assert sorted(extra) == [], f"docs/api.md documents routes the app lacks: {sorted(extra)}"


def test_both_api_families_are_in_the_comparison(unstarted_app: FastAPI) -> None:
    """The Supabase-dialect routes and the signed storage URLs are compared too, not only
    /api (they are in the OpenAPI document: a change that hid them would hide them here)."""
    served = served_routes(unstarted_app)
    assert ("POST", "/auth/v1/signup") in served
    assert ("PUT", "/storage/v1/object/upload/sign/{}/{}") in served


async def test_the_routes_outside_openapi_are_really_served(in_process: httpx.AsyncClient) -> None:
    document = await in_process.get("/openapi.json")
    assert document.status_code == 200 and "paths" in document.json()
    docs = await in_process.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_the_parser_reads_tables_and_multi_method_spans() -> None:
    text = (
        "| `GET/PATCH /api/voices/{id}` | x |\n"
        "see `GET /storage/v1/object/sign/{bucket}/{key}?token=…` and `make check`\n"
        "`GET /api/generations/{id}/audio[?format=mp3]`"
    )
    assert documented_routes(text) == {
        ("GET", "/api/voices/{}"),
        ("PATCH", "/api/voices/{}"),
        ("GET", "/storage/v1/object/sign/{}/{}"),
        ("GET", "/api/generations/{}/audio"),
    }
