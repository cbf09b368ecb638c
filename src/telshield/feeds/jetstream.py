"""NATS JetStream: the message bus behind ``services.stream`` (its ``Bus`` protocol).

The client (``nats-py``) is asynchronous; this adapter runs it on an event loop of its own in a
background thread, so that the client keeps answering the server (pings, flow control) while
the caller, synchronous, validates and commits a batch. A durable pull consumer with explicit
acknowledgement holds the position: a message not acknowledged within ``ack_wait`` seconds (the
consumer died) is delivered again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StreamConfig

from telshield.domain.errors import InvalidInput, Unavailable
from telshield.domain.stream import Delivery, Pending

T = TypeVar("T")


class JetStream:
    """A connection to NATS JetStream on a loop thread of its own; close it when done."""

    def __init__(self, url: str, *, connect_timeout: float = 5.0) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="nats", daemon=True)
        self._thread.start()
        try:
            self.nc: Client = self._run(nats.connect(
                url, connect_timeout=connect_timeout, max_reconnect_attempts=-1,
                allow_reconnect=True))
        except Exception as e:
            self._stop()
            raise Unavailable(f"NATS at {url} is unreachable ({e or type(e).__name__}); "
                              "start it or set [stream] url") from e
        self.js: JetStreamContext = self.nc.jetstream()

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def _stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self._loop.close()

    def close(self) -> None:
        """Close the connection (acknowledgements are flushed as they are made) and stop the
        loop thread."""

        async def rest() -> None:
            await self.nc.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(Exception):  # closing: nothing more to save
            self._run(rest(), timeout=10)
        self._stop()

    def __enter__(self) -> JetStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ensure_stream(self, stream: str, subject: str, *, create: bool = True) -> None:
        """Make sure ``stream`` exists and holds ``subject`` (created with it if missing and
        ``create``); InvalidInput when it exists without the subject."""

        async def go() -> None:
            try:
                info = await self.js.stream_info(stream)
            except nats.js.errors.NotFoundError as e:
                if not create:
                    raise InvalidInput(f"no JetStream stream {stream!r}; create it (telshield "
                                       "ingest publish creates it) or set [stream] stream"
                                       ) from e
                await self.js.add_stream(StreamConfig(name=stream, subjects=[subject]))
                return
            subjects = info.config.subjects or []
            if not any(_matches(s, subject) for s in subjects):
                raise InvalidInput(
                    f"JetStream stream {stream!r} holds subjects {', '.join(subjects)}, not "
                    f"{subject!r}; give --subject one of them or another --stream")

        self._run(go())

    def delete_stream(self, stream: str) -> None:
        """Delete a stream and its messages (tests and benchmarks)."""
        self._run(self.js.delete_stream(stream))

    def publish(self, subject: str, data: bytes, msg_id: str | None = None) -> int:
        """Publish one message, acknowledged by the stream; return its stream sequence. With
        ``msg_id`` the stream drops a repeat within its duplicate window."""
        headers = {"Nats-Msg-Id": msg_id} if msg_id else None
        ack = self._run(self.js.publish(subject, data, headers=headers))
        return int(ack.seq)

    @property
    def max_payload(self) -> int:
        """The most bytes one message may carry on this server."""
        return int(self.nc.max_payload)

    def consumer(self, stream: str, subject: str, durable: str, *, ack_wait_s: float,
                 max_ack_pending: int) -> JetStreamConsumer:
        """The durable pull consumer ``durable`` of ``subject`` in ``stream`` (created if
        missing)."""
        config = ConsumerConfig(
            durable_name=durable, ack_policy=AckPolicy.EXPLICIT, ack_wait=ack_wait_s,
            deliver_policy=DeliverPolicy.ALL, max_ack_pending=max_ack_pending,
            filter_subject=subject,
        )
        sub = self._run(self.js.pull_subscribe(subject, durable=durable, stream=stream,
                                               config=config))
        return JetStreamConsumer(self, sub)


class JetStreamConsumer:
    """A durable pull consumer: fetch batches, acknowledge them once committed."""

    def __init__(self, js: JetStream, sub: JetStreamContext.PullSubscription) -> None:
        self._js = js
        self._sub = sub

    def fetch(self, batch: int, max_wait_s: float) -> list[Delivery]:
        """Up to ``batch`` messages, waiting at most ``max_wait_s`` for the first; [] if none."""

        async def go() -> list[Msg]:
            try:
                return await self._sub.fetch(batch, timeout=max_wait_s)
            except (nats.errors.TimeoutError, TimeoutError):
                # nats-py raises its own, or asyncio's when the wait runs out mid-request
                return []

        msgs = self._js._run(go())
        return [
            Delivery(m.subject, int(m.metadata.sequence.stream), m.data,
                     int(m.metadata.num_delivered or 1), m)
            for m in msgs
        ]

    def ack(self, deliveries: list[Delivery]) -> None:
        """Acknowledge messages, and wait until the server has them."""

        async def go() -> None:
            for d in deliveries:
                msg = d.handle
                assert isinstance(msg, Msg)
                await msg.ack()
            await self._js.nc.flush()

        self._js._run(go())

    def pending(self) -> Pending:
        """Messages still to deliver and delivered ones not yet acknowledged."""
        info = self._js._run(self._sub.consumer_info())
        return Pending(int(info.num_pending or 0), int(info.num_ack_pending or 0))


def _matches(pattern: str, subject: str) -> bool:
    """Whether a stream's subject pattern (``*`` one token, ``>`` the rest) covers a subject
    (itself possibly a pattern: then it must be covered token by token)."""
    p, s = pattern.split("."), subject.split(".")
    for i, tok in enumerate(p):
        if tok == ">":
            return len(s) > i
        if i >= len(s) or (tok != "*" and tok != s[i]):
            return False
    return len(p) == len(s)


def csv_chunks(path: Path, rows: int, max_bytes: int) -> Iterator[bytes]:
    """A CSV feed file as messages: each its header line and up to ``rows`` records, at most
    ``max_bytes`` long (InvalidInput naming the line that alone is longer)."""
    with path.open("rb") as f:
        header = f.readline()
        if not header.strip():
            raise InvalidInput(f"{path}: file is empty; a CSV feed starts with a header line")
        if not header.endswith(b"\n"):
            header += b"\n"
        body: list[bytes] = []
        size = len(header)
        for n, line in enumerate(f, start=2):
            if not line.endswith(b"\n"):
                line += b"\n"
            if len(header) + len(line) > max_bytes:
                raise InvalidInput(f"{path}, line {n}: {len(line)} bytes, more than a message "
                                   f"may carry ({max_bytes} with the header)")
            if body and (len(body) >= rows or size + len(line) > max_bytes):
                yield header + b"".join(body)
                body, size = [], len(header)
            body.append(line)
            size += len(line)
        if body:
            yield header + b"".join(body)


def message_id(data: bytes) -> str:
    """A message's de-duplication id: the SHA-256 of its bytes (publishing the same chunk
    twice within the stream's duplicate window stores it once)."""
    return hashlib.sha256(data).hexdigest()
