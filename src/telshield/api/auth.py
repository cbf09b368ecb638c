"""The one authentication and authorisation dependency: every route names its permission."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import structlog
from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from telshield.api.lockout import Lockout
from telshield.domain.errors import RateLimited, Unauthenticated
from telshield.domain.users import Permission, User, hash_key
from telshield.wiring import Disposal

log = structlog.get_logger(__name__)
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
    client = request.client.host if request.client is not None else "-"
    # Who failed is told by the address and a fingerprint of the key, never the key itself.
    key_id = hash_key(presented)[:12] if presented else ""
    subjects = [f"client:{client}"] + ([f"key:{key_id}"] if key_id else [])
    lockout: Lockout = request.app.state.lockout
    wait = lockout.retry_after(subjects)
    if wait:
        log.warning("api.auth.locked_out", client=client, key_id=key_id, retry_after=wait)
        raise RateLimited(f"too many wrong API keys from this client or for this key: try "
                          f"again in {wait} s", retry_after=wait)
    try:
        user = disposal(request).users.authenticate(presented)
    except Unauthenticated as e:
        if presented:  # a wrong key is an attempt; no key at all is a client not set up
            lockout.failed(subjects)
            log.warning("api.auth.failed", client=client, key_id=key_id,
                        route=request.url.path, why=str(e))
        raise
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
