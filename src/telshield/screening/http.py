"""The HTTP face: a raw ASGI app (no framework on the hot path), JSON by msgspec.

    POST /v1/decisions        {"caller": "8613...", "callee": "8613...", "ingress": "radio",
                               "caller_imei": "86123400123456" (optional),
                               "carrier": "china_unicom" (optional: interconnect calls, the
                               carrier whose trunk handed it over)}
                              -> {"id": ..., "outcome": "reject", "reasons": ["list:black"]}
    POST /v1/decisions/batch  {"caller": [...], "callee": [...], "ingress": "..." or [...],
                               "caller_imei": [..., null, ...] (optional),
                               "carrier": "..." or [..., null, ...] (optional)}
                              -> {"id": [...], "outcome": [...], "reasons": [[...], ...]}
    POST /v1/location-updates {"msisdn": [...], "event": ["attach" | "detach", ...],
                               "at": [epoch seconds, ...] (optional: now)}
                              -> 202 {"received": n, "taken": k, "journaled": true}: our
                              subscribers landing abroad or coming home, read by every face
                              following the snapshot directory (screening.roaming)
    GET  /metrics             Prometheus text
    GET  /livez               {"ok": true} (also the empty baseline of the benchmark; a POST
                              is answered the same once its body is read: the empty
                              endpoint for a request shaped like a decision's)
    GET  /readyz              snapshot version and age; 503 without a usable snapshot

Every path but /livez needs ``Authorization: Bearer <token>``. A face without a token is
refused unless it is started open on purpose (``allow_open``): then it says so loudly in the
log at start and in its metrics (``telshield_screening_http_open``).
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import msgspec
import structlog

from telshield.domain.errors import InvalidInput, TelshieldError, Unavailable
from telshield.screening.engine import Decisions, Engine
from telshield.screening.follow import SnapshotFollower, flush_forever
from telshield.screening.metrics import render
from telshield.screening.passon import PassOn
from telshield.screening.roaming import Updates

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MAX_BODY = 8 * 2**20
log = structlog.get_logger(__name__)


class CallIn(msgspec.Struct, forbid_unknown_fields=True):
    """One call to decide."""

    caller: str
    callee: str
    ingress: str = "interconnect"
    at: float | None = None
    caller_imei: str | None = None
    carrier: str | None = None  # interconnect: the carrier whose trunk handed the call over


class BatchIn(msgspec.Struct, forbid_unknown_fields=True):
    """Many calls, as columns."""

    caller: list[str]
    callee: list[str]
    ingress: str | list[str] = "interconnect"
    at: float | None = None
    caller_imei: list[str | None] | None = None
    carrier: str | list[str | None] | None = None


class LocationUpdatesIn(msgspec.Struct, forbid_unknown_fields=True):
    """Our subscribers' location updates on foreign networks, as columns (the roaming feed's
    ``msisdn`` and ``event``; ``at`` in epoch seconds, default now)."""

    msisdn: list[str]
    event: list[str]
    at: list[float] | None = None


class DecisionOut(msgspec.Struct):
    """One decision on the wire."""

    id: str
    outcome: str
    reasons: tuple[str, ...]


class BatchOut(msgspec.Struct):
    """Decisions for a batch, as columns in the order of the request."""

    id: list[str]
    outcome: list[str]
    reasons: list[tuple[str, ...]]


_JSON = [(b"content-type", b"application/json")]
_TEXT = [(b"content-type", b"text/plain; version=0.0.4")]
_STATUS = {InvalidInput: 400, Unavailable: 503}


class ScreeningApp:
    """The ASGI application around one engine."""

    def __init__(
        self, engine: Engine, *, token: str = "", follower: SnapshotFollower | None = None,
        allow_open: bool = False, passon: PassOn | None = None,
    ) -> None:
        if not token and not allow_open:
            raise InvalidInput(
                "the screening HTTP face has no token: set screening.http_token (env "
                "TELSHIELD_SCREENING__HTTP_TOKEN) for the switch to present, or start it open on "
                "purpose (--allow-open, screening.http_allow_open = true)")
        self.engine = engine
        self.open = not token
        if self.open:
            log.warning("screening.http.open", detail="the HTTP face answers anyone who can "
                        "reach it: no token is configured and it was started open on purpose")
        self._token = f"Bearer {token}".encode() if token else b""
        self._follower = follower
        self._passon = passon  # several workers: each call decided by its caller's owner
        self._enc = msgspec.json.Encoder()
        self._call = msgspec.json.Decoder(CallIn)
        self._batch = msgspec.json.Decoder(BatchIn)
        self._updates = msgspec.json.Decoder(LocationUpdatesIn)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request (or the lifespan protocol)."""
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if path == "/livez":
            if method == "POST":
                await _body(receive)
            await _reply(send, 200, b'{"ok":true}')
            return
        if self._token and not self._authorised(scope):
            await _reply(send, 401, b'{"error":"send Authorization: Bearer <screening token>"}')
            return
        try:
            if method == "POST" and path == "/v1/decisions":
                c = self._call.decode(await _body(receive))
                if self._passon is not None:
                    i, o, r = await self._passon.decide([c.caller], [c.callee], c.ingress, c.at,
                                                        [c.caller_imei], [c.carrier])
                    out = DecisionOut(i[0], o[0], r[0])
                else:
                    d = self.engine.decide(c.caller, c.callee, c.ingress, c.at, c.caller_imei,
                                           c.carrier)
                    out = DecisionOut(d.id, d.outcome, d.reasons)
                await _reply(send, 200, self._enc.encode(out))
            elif method == "POST" and path == "/v1/decisions/batch":
                b = self._batch.decode(await _body(receive))
                if self._passon is not None:
                    cols = BatchOut(*await self._passon.decide(b.caller, b.callee, b.ingress,
                                                               b.at, b.caller_imei, b.carrier))
                else:
                    cols = _columns(self.engine.decide_batch(b.caller, b.callee, b.ingress, b.at,
                                                             b.caller_imei, b.carrier))
                await _reply(send, 200, self._enc.encode(cols))
            elif method == "POST" and path == "/v1/location-updates":
                await self._location_updates(await _body(receive), send)
            elif method == "GET" and path == "/metrics":
                await _reply(send, 200, render(self.engine, follower=self._follower,
                                               open_face=self.open, passon=self._passon), _TEXT)
            elif method == "GET" and path == "/readyz":
                await self._ready(send)
            else:
                await _reply(send, 404, b'{"error":"no such endpoint; see docs/screening.md"}')
        except msgspec.ValidationError as e:
            await _reply(send, 400, self._enc.encode({"error": f"bad request body: {e}"}))
        except msgspec.DecodeError as e:
            await _reply(send, 400, self._enc.encode({"error": f"body is not JSON: {e}"}))
        except UnicodeDecodeError as e:  # msgspec decodes strings as it meets them
            await _reply(send, 400, self._enc.encode(
                {"error": f"body is not UTF-8 (byte {e.start}): send JSON encoded as UTF-8"}))
        except TelshieldError as e:
            status = next((s for cls, s in _STATUS.items() if isinstance(e, cls)), 500)
            await _reply(send, status, self._enc.encode({"error": str(e)}))

    async def _location_updates(self, body: bytes, send: Send) -> None:
        """Journal the updates for every face following the snapshot directory, and take
        them into this worker's engine at once (the others read the journal)."""
        u = self._updates.decode(body)
        now = self.engine.now()
        updates = Updates.of(u.msisdn, u.event, u.at if u.at is not None else [now] * len(
            u.msisdn), where="location update")
        if self._follower is not None:
            await asyncio.to_thread(self._follower.journal.append, updates)
        taken = self.engine.location_updates(updates)
        await _reply(send, 202, self._enc.encode({"received": len(updates), "taken": taken,
                                                  "journaled": self._follower is not None}))

    def _authorised(self, scope: Scope) -> bool:
        for name, value in scope["headers"]:
            if name == b"authorization":
                return hmac.compare_digest(value, self._token)
        return False

    async def _ready(self, send: Send) -> None:
        snap = self.engine.snapshot
        age = self.engine.snapshot_age()
        ok = snap is not None and age is not None and age <= self.engine.config.max_age_s
        body = {"ready": ok, "snapshot": snap.version if snap is not None else None, "age_s": age}
        await _reply(send, 200 if ok else 503, self._enc.encode(body))

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        tasks: list[asyncio.Task[None]] = []
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if self.open:
                    log.warning("screening.http.open", detail="serving without a token")
                if self._follower is not None:
                    tasks.append(asyncio.create_task(self._follower.run()))
                tasks.append(asyncio.create_task(flush_forever(self.engine)))
                if self._passon is not None:
                    self._passon.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for task in tasks:
                    task.cancel()
                if self._passon is not None:
                    self._passon.stop()
                if self.engine.decision_log is not None:
                    self.engine.decision_log.flush()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _columns(ds: Decisions) -> BatchOut:
    return BatchOut(ds.ids, [o.value for o in ds.outcomes], ds.reasons)


async def _body(receive: Receive) -> bytes:
    first = await receive()
    if not first.get("more_body"):  # the usual case: one chunk
        body: bytes = first.get("body", b"")
        if len(body) > MAX_BODY:
            raise InvalidInput(f"request body over {MAX_BODY} bytes: send smaller batches")
        return body
    chunks: list[bytes] = [first.get("body", b"")]
    size = len(chunks[0])
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise InvalidInput(f"request body over {MAX_BODY} bytes: send smaller batches")
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _reply(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] = _JSON
) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
