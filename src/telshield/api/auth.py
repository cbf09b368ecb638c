"""The one authentication and authorisation dependency: every route names its permission."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from telshield.domain.users import Permission, User
from telshield.wiring import Disposal

bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")
api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="X-API-Key: <API key>")


def disposal(request: Request) -> Disposal:
    """The services the app was built with."""
    d: Disposal = request.app.state.disposal
    return d


def current_user(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    key: Annotated[str | None, Security(api_key)],
) -> User:
    """The user whose key came with the request (401 without a valid one)."""
    presented = creds.credentials if creds is not None else (key or "")
    user = disposal(request).users.authenticate(presented)
    request.state.user = user  # for the access log (api.observe): who, never the key
    return user


def requires(permission: Permission) -> Callable[[User], User]:
    """A dependency that lets the request through only if the user's role grants
    ``permission`` (403 otherwise) and hands the user to the route."""

    def check(user: Annotated[User, Depends(current_user)]) -> User:
        user.require(permission)
        return user

    check.__name__ = f"requires_{permission.name.lower()}"
    return check
