"""Caller affinity for the HTTP face's workers: every call decided by the worker that owns its
caller (``workers.owner``), as the SIP workers do, so that velocity counts stay those of one
engine whichever worker the server hands a connection to.

A worker that gets a call it does not own sends it to the owner's inbox (a Unix datagram
socket) and awaits the answer on its own; a batch is split by owner, each part decided in
order by its owner, and the answers put back in the request's order. The owner decides on its
event loop, where its own requests are decided too (the engine keeps state for one thread). An
owner that does not answer within ``timeout_s`` (gone, not started yet) has the call decided
where it landed, counted in ``failed``: the call is answered, its caller's count split while
that lasts.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
from collections.abc import Sequence
from typing import Any

import msgspec
import structlog

from telshield.domain.errors import InvalidInput, TelshieldError, Unavailable
from telshield.screening.engine import Engine
from telshield.screening.workers import owner

log = structlog.get_logger(__name__)
CHUNK = 2000  # calls a message at most (a Unix datagram holds about 200 KB)

Columns = tuple[list[str], list[str], list[tuple[str, ...]]]  # ids, outcomes, reasons


class Ask(msgspec.Struct, array_like=True, tag="q"):
    """Calls passed to their owner: columns, set up at ``at``; answered to ``reply_to``."""

    rid: int
    reply_to: str
    caller: list[str]
    callee: list[str]
    ingress: list[str]
    at: float | None
    caller_imei: list[str | None] | None
    carrier: list[str | None] | None = None


class Answer(msgspec.Struct, array_like=True, tag="a"):
    """The owner's decisions for an ``Ask``, or the error it met (``error``: kind, message)."""

    rid: int
    id: list[str]
    outcome: list[str]
    reasons: list[tuple[str, ...]]
    error: tuple[str, str] | None = None


_ERRORS: dict[str, type[TelshieldError]] = {"invalid": InvalidInput, "unavailable": Unavailable}


class PassOn:
    """One HTTP worker's side of caller affinity: its index, every worker's inbox, its own."""

    def __init__(
        self,
        engine: Engine,
        index: int,
        inboxes: Sequence[str],
        inbox: socket.socket,
        *,
        timeout_s: float = 1.0,
        hold: object = None,
    ) -> None:
        self.engine = engine
        self._hold = hold  # what keeps this worker's claim on its index (a locked file)
        self.index = index
        self.inboxes = list(inboxes)
        self.timeout_s = timeout_s
        self._inbox = inbox
        inbox.setblocking(False)
        self._out = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        with contextlib.suppress(OSError):
            self._out.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * 2**20)
        self._out.setblocking(False)
        self._sending: set[asyncio.Task[None]] = set()
        self._rids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Answer]] = {}
        self._enc = msgspec.msgpack.Encoder()
        self._dec = msgspec.msgpack.Decoder(Ask | Answer)
        self.passed = 0  # calls passed to their owner
        self.passed_in = 0  # calls decided for another worker
        self.failed = 0  # calls decided here because their owner did not answer

    def start(self) -> None:
        """Read the inbox from the running event loop."""
        asyncio.get_running_loop().add_reader(self._inbox.fileno(), self._read)

    def stop(self) -> None:
        """Stop reading the inbox."""
        with contextlib.suppress(Exception):
            asyncio.get_running_loop().remove_reader(self._inbox.fileno())

    async def decide(
        self,
        caller: Sequence[str],
        callee: Sequence[str],
        ingress: Sequence[str] | str,
        at: float | None,
        caller_imei: Sequence[str | None] | None,
        carrier: Sequence[str | None] | str | None = None,
    ) -> Columns:
        """Decide calls (columns, in order), each by the owner of its caller."""
        n = len(caller)
        ing = [ingress] * n if isinstance(ingress, str) else list(ingress)
        if len(callee) != n or len(ing) != n:
            raise InvalidInput("a batch needs as many callees (and ingress values) as callers")
        if caller_imei is not None and len(caller_imei) != n:
            raise InvalidInput(
                "a batch needs as many caller IMEIs (null where unknown) as callers, or none at all"
            )
        carriers = [carrier] * n if carrier is None or isinstance(carrier, str) else list(carrier)
        if len(carriers) != n:
            raise InvalidInput("a batch needs as many trunk carriers (null where unknown) as "
                               "callers, one for all, or none at all")
        parts: dict[int, list[int]] = {}
        for k, c in enumerate(caller):
            parts.setdefault(owner(c, len(self.inboxes)), []).append(k)
        ids, outcomes = [""] * n, [""] * n
        reasons: list[tuple[str, ...]] = [()] * n
        jobs = []
        for who, rows in parts.items():
            for s in range(0, len(rows), CHUNK):
                chunk = rows[s : s + CHUNK]
                jobs.append((chunk, self._part(who, chunk, caller, callee, ing, at, caller_imei,
                                               carriers)))
        results = await asyncio.gather(*(job for _, job in jobs))
        for (rows, _), (i, o, r) in zip(jobs, results, strict=True):
            for k, row in enumerate(rows):
                ids[row], outcomes[row], reasons[row] = i[k], o[k], r[k]
        return ids, outcomes, reasons

    async def _part(
        self,
        who: int,
        rows: list[int],
        caller: Sequence[str],
        callee: Sequence[str],
        ing: list[str],
        at: float | None,
        caller_imei: Sequence[str | None] | None,
        carriers: Sequence[str | None],
    ) -> Columns:
        ask = Ask(
            0,
            self.inboxes[self.index],
            [caller[k] for k in rows],
            [callee[k] for k in rows],
            [ing[k] for k in rows],
            at,
            None if caller_imei is None else [caller_imei[k] for k in rows],
            [carriers[k] for k in rows],
        )
        if who == self.index:
            return self._local(ask)
        ask.rid = rid = next(self._rids)
        fut: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._waiting[rid] = fut
        try:
            async with asyncio.timeout(self.timeout_s):
                await asyncio.get_running_loop().sock_sendto(
                    self._out, self._enc.encode(ask), self.inboxes[who]
                )
                answer = await fut
        except (OSError, TimeoutError):  # the owner is gone or stuck: decide here, counted
            self.failed += len(rows)
            return self._local(ask)
        finally:
            self._waiting.pop(rid, None)
        self.passed += len(rows)
        if answer.error is not None:
            kind, message = answer.error
            raise _ERRORS.get(kind, TelshieldError)(message)
        return answer.id, answer.outcome, answer.reasons

    def _local(self, ask: Ask) -> Columns:
        if len(ask.caller) == 1:
            d = self.engine.decide(
                ask.caller[0],
                ask.callee[0],
                ask.ingress[0],
                ask.at,
                ask.caller_imei[0] if ask.caller_imei else None,
                ask.carrier[0] if ask.carrier else None,
            )
            return [d.id], [d.outcome.value], [d.reasons]
        ds = self.engine.decide_batch(ask.caller, ask.callee, ask.ingress, ask.at, ask.caller_imei,
                                      ask.carrier)
        return ds.ids, [o.value for o in ds.outcomes], ds.reasons

    def _read(self) -> None:
        """Take every message waiting in the inbox: decide asks, resolve answers."""
        while True:
            try:
                data = self._inbox.recv(1 << 22)
            except (BlockingIOError, InterruptedError):
                return
            try:
                message = self._dec.decode(data)
            except msgspec.DecodeError:
                log.error("screening.passon.bad_message", size=len(data))
                continue
            if isinstance(message, Answer):
                fut = self._waiting.get(message.rid)
                if fut is not None and not fut.done():
                    fut.set_result(message)
                continue
            self._answer(message)

    def _answer(self, ask: Ask) -> None:
        answer: Any
        try:
            ids, outcomes, reasons = self._local(ask)
            answer = Answer(ask.rid, ids, outcomes, reasons)
            self.passed_in += len(ask.caller)
        except InvalidInput as e:
            answer = Answer(ask.rid, [], [], [], ("invalid", str(e)))
        except Unavailable as e:
            answer = Answer(ask.rid, [], [], [], ("unavailable", str(e)))
        task = asyncio.get_running_loop().create_task(self._send(answer, ask.reply_to))
        self._sending.add(task)  # kept until sent (the loop holds tasks only weakly)
        task.add_done_callback(self._sending.discard)

    async def _send(self, answer: Answer, to: str) -> None:
        try:
            async with asyncio.timeout(self.timeout_s):
                await asyncio.get_running_loop().sock_sendto(
                    self._out, self._enc.encode(answer), to
                )
        except (OSError, TimeoutError):  # the asker is gone; had it timed out, it decided itself
            log.warning("screening.passon.answer_lost", calls=len(answer.id))
