"""/docs in the browser: Swagger UI from the installed package renders the operations under
the app's Content-Security-Policy, and nothing is requested from another site."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, Request, expect

from tests.web.conftest import WebServer

pytestmark = pytest.mark.browser


def test_docs_render_the_operations_from_this_site_only(page: Page, web_server: WebServer) -> None:
    requested: list[str] = []

    def note(request: Request) -> None:
        requested.append(request.url)

    page.on("request", note)
    page.goto("/docs")
    expect(page.locator(".opblock-summary-path", has_text="/api/generate").first).to_be_visible()
    expect(page.locator(".opblock").first).to_be_visible()
    assert page.locator(".opblock").count() > 10
    assert requested
    assert all(url.startswith(web_server.url + "/") for url in requested), requested
