"""Security headers on every response, a policy the web app works under, and /docs served
from the installed Swagger UI package with nothing loaded from other sites."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.support.server import app_settings
from utter.api.security_headers import content_security_policy

EXPECTED = {
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
}


def directives(policy: str) -> dict[str, list[str]]:
    parsed: dict[str, list[str]] = {}
    for part in policy.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),  # the web app's index.html
        ("GET", "/clone"),  # a deep link
        ("GET", "/assets/js/main.js"),
        ("GET", "/api/languages"),
        ("GET", "/api/me"),
        ("GET", "/api/voices"),  # 401
        ("GET", "/api/no-such-thing"),  # 404
        ("POST", "/auth/v1/token?grant_type=password"),  # 400
        ("OPTIONS", "/api/voices"),  # the CORS preflight, answered before any route
        ("GET", "/docs"),
        ("GET", "/openapi.json"),
    ],
)
async def test_every_response_carries_the_security_headers(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await client.request(method, path)
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (name, response.status_code)
    policy = directives(response.headers["content-security-policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    assert not [v for values in policy.values() for v in values if "unsafe" in v]


def test_presigned_storage_urls_are_allowed_for_audio_only(tmp_path: Path) -> None:
    local = directives(content_security_policy(app_settings(tmp_path)))
    assert local["connect-src"] == ["'self'"]
    assert local["media-src"] == ["'self'", "blob:"]

    s3 = directives(
        content_security_policy(
            app_settings(
                tmp_path,
                storage_backend="s3",
                s3_endpoint_url="https://s3.example.test:9000/",
                s3_path_style=True,
            )
        )
    )
    assert s3["connect-src"] == ["'self'", "https://s3.example.test:9000"]
    assert s3["media-src"] == ["'self'", "blob:", "https://s3.example.test:9000"]
    assert s3["script-src"] == ["'self'"]

    hosted = directives(
        content_security_policy(
            app_settings(tmp_path, storage_backend="s3", s3_endpoint_url="https://r2.example.test")
        )
    )
    assert hosted["connect-src"] == [
        "'self'",
        "https://r2.example.test",
        "https://*.r2.example.test",
    ]
    aws = directives(content_security_policy(app_settings(tmp_path, storage_backend="s3")))
    assert aws["connect-src"] == ["'self'", "https://*.amazonaws.com"]


def test_no_inline_script_or_style_attribute_in_the_web_app() -> None:
    """The policy forbids them; the app's HTML must not need them."""
    web = Path(__file__).parents[2] / "utter" / "web"
    index = (web / "index.html").read_text()
    for script in re.findall(r"<script\b[^>]*>", index):
        assert "src=" in script, script
    assert not re.search(r"<script\b[^>]*>[^<]+</script>", index)
    assert not re.search(r"\sstyle=|\son[a-z]+=", index)


async def test_docs_load_nothing_from_other_sites(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert not re.search(r"(https?:)?//[a-z0-9.-]+", page.text, re.IGNORECASE)
    # No inline script: every <script> has a src, and nothing between its tags.
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", page.text, re.DOTALL)
    assert scripts
    assert all("src=" in attrs and not body.strip() for attrs, body in scripts)

    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert {"/docs/assets/swagger-ui-bundle.js", "/docs/assets/init.js"} <= set(assets)
    for asset in assets:
        answer = await client.get(asset)
        assert answer.status_code == 200, asset
        assert answer.content, asset
        # Swagger UI's own files name no site they would load from either.
        if asset.endswith(".js") and "bundle" not in asset:
            assert "http" not in answer.text
    init = (await client.get("/docs/assets/init.js")).text
    assert "validatorUrl: null" in init  # no badge fetched from validator.swagger.io


async def test_only_the_packaged_swagger_files_are_served(client: httpx.AsyncClient) -> None:
    for path in (
        "/docs/assets/index.html",
        "/docs/assets/..%2F__init__.py",
        "/docs/assets/swagger-ui.js.map",
    ):
        answer = await client.get(path)
        assert answer.status_code == 404, path
        assert answer.json() == {"detail": "Not Found"}


async def test_redoc_is_off(client: httpx.AsyncClient) -> None:
    answer = await client.get("/redoc")
    assert answer.status_code == 404
