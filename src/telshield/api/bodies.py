"""The guard in front of every route's body: a size limit checked before anything is parsed
(413), and JSON that Python would accept but JSON does not — ``NaN``, ``Infinity`` — or that
is not UTF-8, refused with 400 and a message, instead of reaching a route (or the error
handler, which cannot write a NaN back) and ending in a 500.

A plain ASGI middleware: it reads the body once, bounded, and hands the same bytes on.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyGuard:
    """Refuse request bodies over ``max_bytes`` and JSON bodies that are not strict JSON."""

    def __init__(self, app: App, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the body, then pass the request on with the body as it came."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_bytes:
            await _refuse(send, 413, "PayloadTooLarge", self._too_large())
            return
        body = await self._read(receive)
        if body is None:
            await _refuse(send, 413, "PayloadTooLarge", self._too_large())
            return
        problem = _json_problem(body) if _is_json(headers) else ""
        if problem:
            await _refuse(send, 400, "InvalidInput", problem)
            return
        await self.app(scope, _replay(body, receive), send)

    def _too_large(self) -> str:
        return (f"request body over {self.max_bytes} bytes (api.max_body_bytes): send smaller "
                "requests, e.g. split a bulk disposal")

    async def _read(self, receive: Receive) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return b"".join(chunks)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)


def _is_json(headers: dict[bytes, bytes]) -> bool:
    kind = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
    return kind == b"application/json" or kind.endswith(b"+json")


class _NotJson(ValueError):
    pass


def _constant(name: str) -> Any:
    raise _NotJson(f"{name} is not a JSON number: JSON has no {name}; send a finite number, "
                   "or null where a value may be left out")


def _json_problem(body: bytes) -> str:
    """What makes ``body`` unacceptable JSON, or '' (malformed JSON is left to the route,
    which answers 422 saying where)."""
    if not body:
        return ""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        return f"body is not UTF-8 (byte {e.start}): send JSON encoded as UTF-8"
    try:
        json.loads(text, parse_constant=_constant)
    except _NotJson as e:
        return str(e)
    except ValueError:
        return ""
    return ""


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: wait for the disconnect

    return again


async def _refuse(send: Send, status: int, error: str, detail: str) -> None:
    body = json.dumps({"error": error, "detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
