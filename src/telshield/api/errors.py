"""The API's one error -> HTTP status table."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from telshield.domain.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    RateLimited,
    TelshieldError,
    Unauthenticated,
    Unavailable,
)

STATUS: dict[type[TelshieldError], int] = {
    InvalidInput: 422,
    NotFound: 404,
    Conflict: 409,
    Forbidden: 403,
    Unauthenticated: 401,
    RateLimited: 429,
    Unavailable: 503,
}


def status_of(error: TelshieldError) -> int:
    """The status for an error (the most specific class in the table wins)."""
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


async def _handle(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, TelshieldError)
    status = status_of(error)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if isinstance(error, RateLimited):
        headers = {"Retry-After": str(error.retry_after)}
    return JSONResponse({"error": type(error).__name__, "detail": str(error)}, status_code=status,
                        headers=headers)


def install(app: FastAPI) -> None:
    """Map telshield errors to responses on ``app``."""
    app.add_exception_handler(TelshieldError, _handle)
