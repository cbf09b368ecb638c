"""Running the SIP face as a long-lived process: its UDP loop, the snapshot follower, the
decision-log flusher and its Prometheus endpoint, until cancelled. (The HTTP face runs the same
follower and flusher from its ASGI lifespan.)"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from socket import socket
from typing import Protocol

from telshield.screening.follow import SnapshotFollower, flush_forever
from telshield.screening.metrics import registry_for
from telshield.screening.sip import RedirectServer, serve_sip
from telshield.screening.workers import WorkerLoop


class _Serving(Protocol):
    def close(self) -> None: ...


async def run_sip(
    server: RedirectServer,
    follower: SnapshotFollower,
    *,
    host: str,
    port: int,
    metrics_port: int = 0,
    say: Callable[[str], None] = lambda _: None,
) -> None:
    """Answer INVITEs on ``host:port`` (UDP) and keep following the published snapshot until
    cancelled; ``say`` is told where it listens."""
    udp, _ = await serve_sip(server, host, port)
    say(f"SIP redirect server on udp://{host}:{udp.get_extra_info('sockname')[1]} (Ctrl-C stops)")
    await _serve(server, follower, udp, host=host, metrics_port=metrics_port, say=say)


async def run_sip_worker(
    server: RedirectServer,
    follower: SnapshotFollower,
    *,
    sock: socket,
    inbox: socket,
    inboxes: Sequence[str],
    index: int,
    host: str,
    metrics_port: int = 0,
    affinity: bool = True,
    say: Callable[[str], None] = lambda _: None,
) -> None:
    """One of several workers on a shared port (``screening.workers``): answer the INVITEs
    of the callers it owns, pass on the others, follow the published snapshot; until
    cancelled."""
    loop = WorkerLoop(server, sock, inbox, inboxes, index, affinity=affinity)
    await _serve(server, follower, loop, host=host, metrics_port=metrics_port, say=say)


async def _serve(
    server: RedirectServer,
    follower: SnapshotFollower,
    serving: _Serving,
    *,
    host: str,
    metrics_port: int,
    say: Callable[[str], None],
) -> None:
    if metrics_port:
        from prometheus_client import start_http_server

        start_http_server(
            metrics_port, addr=host, registry=registry_for(server.engine, server.stats, follower)
        )
        say(f"metrics on http://{host}:{metrics_port}/metrics")
    try:
        await asyncio.gather(follower.run(), flush_forever(server.engine))
    finally:
        serving.close()
        if server.engine.decision_log is not None:
            server.engine.decision_log.flush()
