"""Who is looking: the web session (a signed cookie holding the key's hash, never the key),
its CSRF token, the login lockout, and the permission each page names."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Iterable
from typing import Annotated, Protocol
from urllib.parse import parse_qs

from fastapi import Depends, Request

from telshield.domain.errors import Forbidden, RateLimited, TelshieldError, Unauthenticated
from telshield.domain.users import Permission, User, hash_key
from telshield.services.users import UserService
from telshield.web.i18n import pick


class LoginNeeded(TelshieldError):
    """No (valid) session: the page sends the browser to the login form."""


class CsrfRefused(Forbidden):
    """A POST without the session's CSRF token."""


class Lockout(Protocol):
    """Counts wrong keys per subject (the API's lockout, shared so both faces count together)."""

    def retry_after(self, subjects: Iterable[str]) -> int:
        """Seconds until ``subjects`` may try again (0: now)."""
        ...

    def failed(self, subjects: Iterable[str]) -> None:
        """Record one failure for each of ``subjects``."""
        ...


def users(request: Request) -> UserService:
    """The users service the web app was built with."""
    u: UserService = request.app.state.users
    return u


def lang(request: Request) -> str:
    """The language the session asked for (Chinese by default)."""
    return pick(request.session.get("lang"))


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made on first use."""
    token = request.session.get("csrf")
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def form(request: Request) -> dict[str, str]:
    """The POSTed form (url-encoded) after its CSRF token was checked against the session's
    (CsrfRefused otherwise): every state-changing form goes through this."""
    body = (await request.body()).decode("utf-8", errors="replace")
    fields = {k: v[-1] for k, v in parse_qs(body, keep_blank_values=True).items()}
    expected = request.session.get("csrf")
    sent = fields.pop("csrf", "")
    if not isinstance(expected, str) or not expected or not hmac.compare_digest(sent, expected):
        raise CsrfRefused("the form's CSRF token is missing or does not match the session: "
                          "reload the page and submit again")
    return fields


def log_in(request: Request, name: str, key: str) -> User:
    """Start a session for the user ``name`` holding ``key`` (Unauthenticated otherwise);
    wrong keys count towards the same lockout as the API's."""
    client = request.client.host if request.client is not None else "-"
    subjects = [f"client:{client}"] + ([f"key:{hash_key(key)[:12]}"] if key else [])
    lockout: Lockout = request.app.state.lockout
    wait = lockout.retry_after(subjects)
    if wait:
        raise RateLimited(f"too many failed logins: try again in {wait} s", retry_after=wait)
    try:
        user = users(request).authenticate(key)
        if user.name != name.strip():
            raise Unauthenticated("the key is not this user's")
    except Unauthenticated:
        lockout.failed(subjects)
        raise
    keep = request.session.get("lang")
    request.session.clear()  # a fresh session (and CSRF token) at each login
    request.session.update({"key_hash": user.key_hash, "name": user.name})
    if keep:
        request.session["lang"] = keep
    return user


def viewer(request: Request) -> User:
    """The logged-in user (LoginNeeded without a session or once its key is rotated)."""
    key_hash = request.session.get("key_hash")
    if not isinstance(key_hash, str) or not key_hash:
        raise LoginNeeded("log in first")
    try:
        user = users(request).by_key_hash(key_hash)
    except Unauthenticated:
        request.session.clear()
        raise LoginNeeded("the session ended: log in again") from None
    request.state.user = user  # for the access log: who, never the key
    return user


def requires(permission: Permission) -> Callable[[User], User]:
    """A dependency that lets the page through only if the user's role grants
    ``permission`` (the 403 page otherwise), the same law the API applies."""

    def check(user: Annotated[User, Depends(viewer)]) -> User:
        user.require(permission)
        return user

    check.__name__ = f"web_requires_{permission.name.lower()}"
    return check
