"""How `utter serve` serves the web app: index.html for app paths, assets with revalidation,
and the API's own 404s left alone."""

from __future__ import annotations

import httpx
import pytest

from utter.web_routes import WEB_DIR, is_reserved


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/clone",
        "/auth?returnTo=%2Fvoices",
        "/history?status=failed&page=2",
        "/account/usage",
        "/no/such/page",
    ],
)
async def test_app_paths_get_index_html_revalidated_every_time(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-cache"
    assert response.text == (WEB_DIR / "index.html").read_text()


async def test_head_of_an_app_path_is_answered(client: httpx.AsyncClient) -> None:
    response = await client.head("/voices")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    "path", ["/api/nope", "/api", "/auth/v1/nope", "/storage/v1/nope", "/assets/missing.js"]
)
async def test_server_paths_never_fall_back_to_the_app(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    assert "detail" in response.json()


async def test_the_api_and_its_docs_still_answer(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/health")).json() == {"ok": True}
    assert (await client.get("/openapi.json")).json()["info"]["title"] == "Utter"
    docs = await client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


async def test_assets_are_cached_with_revalidation(client: httpx.AsyncClient) -> None:
    first = await client.get("/assets/js/main.js")
    assert first.status_code == 200
    assert "javascript" in first.headers["content-type"]
    assert first.headers["cache-control"] == "no-cache"
    etag = first.headers["etag"]
    again = await client.get("/assets/js/main.js", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""


async def test_assets_cannot_escape_the_web_directory(client: httpx.AsyncClient) -> None:
    response = await client.get("/assets/..%2F..%2Fweb_routes.py")
    assert response.status_code == 404


def test_reserved_prefixes_match_whole_segments() -> None:
    assert is_reserved("/api") and is_reserved("/api/voices") and is_reserved("/auth/v1/user")
    assert (
        is_reserved("/openapi.json")
        and is_reserved("/docs")
        and is_reserved("/docs/oauth2-redirect")
    )
    # An app page whose name merely starts like a server prefix is still the app's.
    assert not is_reserved("/apiary") and not is_reserved("/authors") and not is_reserved("/")
    assert not is_reserved("/account") and not is_reserved("/auth")
