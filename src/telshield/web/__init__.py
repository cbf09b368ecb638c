"""The web face (全景视图): server-rendered pages under ``/web`` beside the API, behind a login
with the API's users and roles; htmx and ECharts vendored in ``static/vendor``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from telshield.domain.errors import TelshieldError
from telshield.services.overview import OverviewService
from telshield.web.areas import Areas
from telshield.web.areas import router as area_router
from telshield.web.insight import Insight
from telshield.web.insight import router as insight_router
from telshield.web.pages import router
from telshield.web.render import handle, templates
from telshield.web.session import Lockout
from telshield.wiring import Disposal

HERE = Path(__file__).parent
SESSION_HOURS = 8  # a working shift; then log in again

# Scripts and styles only from this server: the pages hold no inline script.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def create(d: Disposal, overview: OverviewService, *, session_key: str, lockout: Lockout,
           secure_cookie: bool = False, areas: Areas | None = None,
           checkpoints: Path | None = None, insight: Insight | None = None) -> FastAPI:
    """The web pages as an app of their own, to mount under ``/web`` (``checkpoints``: the
    audit chain's checkpoint file, which the chain check starts from)."""
    web = FastAPI(title="telshield web", docs_url=None, redoc_url=None, openapi_url=None)
    web.state.disposal = d
    web.state.checkpoints = checkpoints
    web.state.users = d.users
    web.state.overview = overview
    web.state.lockout = lockout
    web.state.templates = templates()
    web.include_router(router)
    if areas is not None:  # dens, gangs, police inbox
        web.state.areas = areas
        web.include_router(area_router)
    if insight is not None:  # trace, rules, registrations
        web.state.insight = insight
        web.include_router(insight_router)
    web.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    web.add_exception_handler(TelshieldError, handle)

    @web.middleware("http")
    async def headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]
                      ) -> Response:
        response = await call_next(request)
        for k, v in SECURITY_HEADERS.items():
            if k == "Cache-Control" and request.url.path.startswith("/web/static/"):
                continue
            response.headers.setdefault(k, v)
        return response

    web.add_middleware(SessionMiddleware, secret_key=session_key, session_cookie="telshield_web",
                       max_age=SESSION_HOURS * 3600, path="/web", same_site="strict",
                       https_only=secure_cookie)
    return web


def install(app: FastAPI, d: Disposal, overview: OverviewService, *, session_key: str,
            lockout: Lockout, secure_cookie: bool = False, areas: Areas | None = None,
            checkpoints: Path | None = None, insight: Insight | None = None) -> None:
    """Mount the pages at ``/web`` on ``app`` (and send ``/`` there)."""
    app.mount("/web", create(d, overview, session_key=session_key, lockout=lockout,
                             secure_cookie=secure_cookie, areas=areas, checkpoints=checkpoints,
                             insight=insight))

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/web/", status_code=307)
