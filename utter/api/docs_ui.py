"""`/docs`: Swagger UI served from the installed `swagger-ui-py` package (Swagger UI 5, which
reads the OpenAPI 3.1 FastAPI writes), so the page loads nothing from other sites, and started
by a script file of our own rather than the inline script FastAPI's page carries (the
Content-Security-Policy allows no inline script). ReDoc has no packaged copy, so `/redoc` is
off."""

from __future__ import annotations

import html
import importlib.util
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, Response

from utter.errors import NotFound

ASSETS = "/docs/assets"
# Only these files of the package are served.
_FILES = {
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "favicon-32x32.png": "image/png",
}


def _dist() -> Path:
    # Found without importing the package, whose adapters pull in jinja2 and PyYAML.
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the swagger-ui-py package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


_DIST = _dist()

# validatorUrl: null, or Swagger UI shows a badge fetched from validator.swagger.io.
_INIT = """\
window.ui = SwaggerUIBundle({
  url: document.getElementById('swagger-ui').dataset.openapiUrl,
  dom_id: '#swagger-ui',
  layout: 'BaseLayout',
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
"""


def _page(title: str, openapi_url: str) -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{html.escape(title)}</title>
  <link rel="icon" type="image/png" href="{ASSETS}/favicon-32x32.png">
  <link rel="stylesheet" href="{ASSETS}/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui" data-openapi-url="{html.escape(openapi_url)}"></div>
  <script src="{ASSETS}/swagger-ui-bundle.js"></script>
  <script src="{ASSETS}/init.js"></script>
</body>
</html>
"""


def install_docs(app: FastAPI) -> None:
    """Serve `/docs` and its assets; call on an app made with `docs_url=None`."""
    page = _page(f"{app.title} - API docs", app.openapi_url or "/openapi.json")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get(f"{ASSETS}/init.js", include_in_schema=False)
    async def docs_init() -> Response:
        return Response(_INIT, media_type="text/javascript; charset=utf-8")

    @app.get(ASSETS + "/{name}", include_in_schema=False)
    async def docs_asset(name: str) -> FileResponse:
        media_type = _FILES.get(name)
        if media_type is None:
            raise NotFound("Not Found")
        return FileResponse(_DIST / name, media_type=media_type)
