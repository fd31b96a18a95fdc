"""The pages a person opens first: ``/`` and the API documentation, served offline.

FastAPI's own ``/docs`` and ``/redoc`` load Swagger UI and ReDoc from a public CDN (and
ReDoc its fonts from Google), so on an air-gapped site they are blank pages (issue 15).
Here the same pages load their scripts and styles from this server: the assets come
from the installed ``fastapi-offline`` package (swagger-ui-dist and the ReDoc
standalone bundle, with their licences; nothing is fetched at build or run time).
Swagger UI's validator badge, which calls an external service, is turned off.

These are plain Starlette routes, not API routes: static pages with no data and no
actions, exempt from authorization like FastAPI's documentation pages
(tests/api/test_route_protection.py).
"""

from __future__ import annotations

import html
from importlib import resources
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles

import sovra
from sovra.errors import ConfigError

STATIC_PATH = "/static/docs"
DOCS_PATH, REDOC_PATH, OAUTH2_REDIRECT_PATH = "/docs", "/redoc", "/docs/oauth2-redirect"
# Swagger UI posts the document to validator.swagger.io by default: off the network.
_SWAGGER_PARAMETERS: dict[str, object] = {"validatorUrl": None}


def docs_assets_dir() -> Path:
    """The directory holding swagger-ui-bundle.js, swagger-ui.css, redoc.standalone.js
    and favicon.png, from the installed package; ``ConfigError`` if it is missing."""
    try:
        found = Path(str(resources.files("fastapi_offline") / "static"))
    except ModuleNotFoundError as exc:
        raise ConfigError("the API documentation assets are missing: install the "
                          "'fastapi-offline' package (a dependency of sovra)") from exc
    if not (found / "swagger-ui-bundle.js").is_file():
        raise ConfigError(f"the API documentation assets are missing from {found}: "
                          "reinstall the 'fastapi-offline' package")
    return found


def install(app: FastAPI) -> None:
    """Add ``/``, ``/docs``, ``/redoc`` and their assets to an app created with
    ``docs_url=None, redoc_url=None``."""
    app.mount(STATIC_PATH, StaticFiles(directory=docs_assets_dir()), name="docs-static")
    openapi_url = app.openapi_url or "/openapi.json"
    title = app.title

    async def swagger_ui(request: Request) -> Response:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}", title=f"{title} - API documentation",
            oauth2_redirect_url=f"{root}{OAUTH2_REDIRECT_PATH}",
            swagger_js_url=f"{root}{STATIC_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{STATIC_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{STATIC_PATH}/favicon.png",
            swagger_ui_parameters=_SWAGGER_PARAMETERS)

    async def oauth2_redirect(_request: Request) -> Response:
        return get_swagger_ui_oauth2_redirect_html()

    async def redoc(request: Request) -> Response:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{openapi_url}", title=f"{title} - API reference",
            redoc_js_url=f"{root}{STATIC_PATH}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{STATIC_PATH}/favicon.png", with_google_fonts=False)

    async def home(request: Request) -> Response:
        return HTMLResponse(home_page(str(request.scope.get("root_path", "")),
                                      str(request.base_url).rstrip("/")))

    app.add_route(DOCS_PATH, swagger_ui, include_in_schema=False)
    app.add_route(OAUTH2_REDIRECT_PATH, oauth2_redirect, include_in_schema=False)
    app.add_route(REDOC_PATH, redoc, include_in_schema=False)
    app.add_route("/", home, include_in_schema=False)


def home_page(root: str = "", base_url: str = "http://127.0.0.1:8470") -> str:
    """What this is and where to go; self-contained (no script, style or image URL)."""
    r, base = html.escape(root, quote=True), html.escape(base_url)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sovra</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 46rem; margin: 3rem auto;
       padding: 0 1rem; line-height: 1.5; color: #1b1f24; }}
code, pre {{ background: #f3f4f6; padding: 0.1rem 0.3rem; border-radius: 4px; }}
pre {{ padding: 0.8rem; overflow-x: auto; }}
</style>
</head>
<body>
<h1>Sovra {html.escape(sovra.__version__)}</h1>
<p>A sovereign AI cloud running on your own hardware: governed local AI, keys you
hold, every access decided by written policy and recorded in a verifiable ledger.
This server works fully offline.</p>
<h2>Where to go</h2>
<ul>
<li><a href="{r}{DOCS_PATH}">API documentation</a> (try requests; click
<em>Authorize</em> and paste an API key) or the
<a href="{r}{REDOC_PATH}">API reference</a></li>
<li><a href="{r}/healthz">Health</a>: answers when the server is up</li>
<li><a href="{r}/openapi.json">OpenAPI document</a> for tools</li>
</ul>
<h2>Quick start</h2>
<p>Every API call needs an API key: <code>sovra up</code> prints the first admin key
once, on a fresh data directory. Then, for example:</p>
<pre>export SOVRA_API_KEY=sk-sovra-...
curl -H "Authorization: Bearer $SOVRA_API_KEY" {base}/policy
sovra --help                 # every command, offline
sovra ledger verify ledger.tar --log-key @log.vkey   # an auditor's check</pre>
<p>The README's quick start and the guides in <code>docs/</code> (operator guide,
ledger, threat model) explain the rest.</p>
</body>
</html>
"""
