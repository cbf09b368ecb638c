"""The OpenAPI page (``/docs``) from Swagger UI files vendored into the package: an operator's
network is often offline, and a page that fetches its script from a CDN stays blank there.
``static/swagger-ui/README.md`` says which version is vendored and how to update it."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
SWAGGER = "/static/swagger-ui"


def install(app: FastAPI) -> None:
    """Serve the vendored files under /static and the OpenAPI page at /docs."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    openapi_url = app.openapi_url or "/openapi.json"
    redirect = "/docs/oauth2-redirect"

    async def docs(_request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url, title=f"{app.title} — API",
            swagger_js_url=f"{SWAGGER}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER}/favicon-32x32.png",
            oauth2_redirect_url=redirect,
            # No validator badge: it would fetch an image from validator.swagger.io.
            swagger_ui_parameters={"validatorUrl": None},
        )

    async def oauth2_redirect(_request: Request) -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    app.add_route("/docs", docs, include_in_schema=False)
    app.add_route(redirect, oauth2_redirect, include_in_schema=False)
