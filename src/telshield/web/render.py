"""Rendering: the templates, the context every page shares, and the error pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from telshield.domain.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    RateLimited,
    TelshieldError,
    Unauthenticated,
)
from telshield.domain.users import User
from telshield.web.i18n import text
from telshield.web.session import CsrfRefused, LoginNeeded, csrf_token, lang
from telshield.web.views import nav

HERE = Path(__file__).parent

# The web's one error -> status table (the API has its own in api/errors.py).
STATUS: dict[type[TelshieldError], int] = {
    InvalidInput: 422,
    NotFound: 404,
    Conflict: 409,
    Forbidden: 403,
    Unauthenticated: 401,
    RateLimited: 429,
}


def templates() -> Jinja2Templates:
    """The page templates (autoescaped)."""
    return Jinja2Templates(directory=str(HERE / "templates"))


def page(request: Request, name: str, user: User | None, status: int = 200,
         **context: Any) -> HTMLResponse:
    """Render template ``name`` for ``user`` in the session's language."""
    lg = lang(request)
    tpl: Jinja2Templates = request.app.state.templates
    base = {"t": lambda key: text(key, lg), "lang": lg, "user": user,
            "nav": nav(user) if user is not None else [], "csrf": csrf_token(request),
            "path": request.url.path}
    return tpl.TemplateResponse(request, name, {**base, **context}, status_code=status)


def status_of(error: TelshieldError) -> int:
    """The status for an error (the most specific class in the table wins)."""
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


async def handle(request: Request, error: Exception) -> Response:
    """Telshield errors as pages: no session -> the login form; others -> the error page
    with what was wrong."""
    assert isinstance(error, TelshieldError)
    if isinstance(error, LoginNeeded):
        if request.method == "GET":
            return RedirectResponse(f"/web/login?next={request.url.path}", status_code=303)
        return RedirectResponse("/web/login", status_code=303)
    user = getattr(request.state, "user", None)
    lg = lang(request)
    if isinstance(error, CsrfRefused):
        message = text("error.csrf", lg)
    elif isinstance(error, Forbidden):
        message = text("error.forbidden", lg)
    elif isinstance(error, RateLimited):
        message = f"{text('login.locked', lg)} {error.retry_after}"
    else:
        message = str(error)
    response = page(request, "error.html", user, status=status_of(error), message=message,
                    detail=str(error))
    if isinstance(error, RateLimited):
        response.headers["Retry-After"] = str(error.retry_after)
    return response
