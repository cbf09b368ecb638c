"""Composition of several SIP screening workers on one host: the shared port's sockets and
the workers' inboxes made here, handed to worker processes that each build their engine from
the settings (``screening.workers`` holds the law: who owns a caller, how a call is passed on),
and a supervisor that stops them all on SIGTERM or Ctrl-C, or when one of them dies."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from socket import socket
from types import FrameType
from typing import TYPE_CHECKING, Any

import structlog

from telshield.domain.errors import InvalidInput, Unavailable
from telshield.screening.engine import Engine
from telshield.screening.workers import inbox_socket, shared_port_socket
from telshield.settings import Settings

if TYPE_CHECKING:
    from telshield.screening.passon import PassOn

log = structlog.get_logger(__name__)
STOP_S = 10.0  # how long a worker has to stop (flush its decision log) before it is killed


async def until_signalled(main: Coroutine[Any, Any, None]) -> None:
    """Run ``main`` until it ends or the process gets SIGTERM or SIGINT, which cancel it (its
    ``finally`` closes the sockets and flushes the decision log)."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(main)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task


def run_sip_workers(
    settings: Settings,
    host: str,
    port: int,
    workers: int,
    *,
    say: Callable[[str], None] = lambda _: None,
    log_setup: Callable[[], None] | None = None,
) -> None:
    """Serve the SIP face from ``workers`` processes sharing ``host:port`` (UDP) until SIGTERM
    or Ctrl-C (every worker is stopped, each flushing its decision log) or until a worker dies
    (the others are stopped too and Unavailable says which: a supervisor restarts the whole)."""
    from telshield.screening.sip import parse_peers

    if workers < 1:
        raise InvalidInput(f"--workers {workers}: give 1 or more")
    try:
        parse_peers(settings.screening.sip_peers)
    except ValueError as e:
        raise InvalidInput(f"screening.sip_peers: {e}") from None
    first = shared_port_socket(host, port)
    port = first.getsockname()[1]
    socks = [first, *(shared_port_socket(host, port) for _ in range(workers - 1))]
    rundir = Path(tempfile.mkdtemp(prefix="telshield-sip-"))
    paths = [str(rundir / f"{i}.sock") for i in range(workers)]
    inboxes = [inbox_socket(p) for p in paths]
    ctx = multiprocessing.get_context("spawn")  # fresh interpreters: no threads forked
    procs = [
        ctx.Process(
            target=sip_worker,
            name=f"telshield-sip-{i}",
            args=(settings, i, socks[i], inboxes[i], paths, host, log_setup),
        )
        for i in range(workers)
    ]
    stop = threading.Event()

    def on_signal(_sig: int, _frame: FrameType | None) -> None:
        stop.set()

    old = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    dead: list[multiprocessing.process.BaseProcess] = []
    try:
        for p in procs:
            p.start()
        for s in (*socks, *inboxes):
            s.close()  # the workers hold them now
        say(
            f"SIP redirect server on udp://{host}:{port}, {workers} workers, each caller's "
            "calls decided by one of them (Ctrl-C stops)"
        )
        while not stop.is_set():
            dead = [p for p in procs if not p.is_alive()]
            if dead:
                break
            stop.wait(0.5)
    finally:
        _stop_all(procs)
        for sig, handler in old.items():
            signal.signal(sig, handler)
        shutil.rmtree(rundir, ignore_errors=True)
    if dead:
        raise Unavailable(
            f"SIP worker {dead[0].name} exited with code {dead[0].exitcode}: every worker was "
            "stopped (see its log above); start the face again"
        )


def _stop_all(procs: Sequence[multiprocessing.process.BaseProcess]) -> None:
    for p in procs:
        if p.is_alive():
            p.terminate()  # SIGTERM: the worker stops serving and flushes its log
    for p in procs:
        if p.pid is None:
            continue
        p.join(STOP_S)
        if p.is_alive():
            log.error("screening.sip_worker.killed", worker=p.name, after_s=STOP_S)
            p.kill()
            p.join()


def sip_worker(
    settings: Settings,
    index: int,
    sock: socket,
    inbox: socket,
    paths: list[str],
    host: str,
    log_setup: Callable[[], None] | None,
) -> None:
    """One worker process: an engine on the published snapshot, its own decision log, metrics
    on ``sip_metrics_port + index``; serves until SIGTERM."""
    from telshield.screening.faces import run_sip_worker
    from telshield.screening.sip import RedirectServer
    from telshield.wiring.process import settle
    from telshield.wiring.screening import open_engine, redress_uri

    if log_setup is not None:
        log_setup()
    s = settings.screening
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C reaches the workers too
        engine, follower = open_engine(settings)
        server = RedirectServer(
            engine,
            default_ingress=s.default_ingress,
            peers=s.sip_peers,
            redress_uri=redress_uri(settings),
            trunk_carriers=s.trunk_carriers,
        )
        metrics = s.sip_metrics_port + index if s.sip_metrics_port else 0
        settle()
        asyncio.run(
            until_signalled(
                run_sip_worker(
                    server,
                    follower,
                    sock=sock,
                    inbox=inbox,
                    inboxes=paths,
                    index=index,
                    host=host,
                    metrics_port=metrics,
                    affinity=s.sip_affinity,
                )
            )
        )
        log.info(
            "screening.sip_worker.stopped",
            worker=index,
            decisions=sum(engine.outcomes.values()),
            forwarded=server.stats.forwarded,
            passed_in=server.stats.passed_in,
        )


def http_passon(engine: Engine, run_dir: Path, workers: int) -> PassOn:
    """Caller affinity for one HTTP worker: it claims the first free index (a lock held for
    its life: a worker the server restarts takes the index its predecessor left) and binds
    that index's inbox in ``run_dir``."""
    import fcntl

    from telshield.screening.passon import PassOn

    for i in range(workers):
        lock = (run_dir / f"{i}.lock").open("a")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        path = run_dir / f"{i}.sock"
        path.unlink(missing_ok=True)  # a dead predecessor's
        paths = [str(run_dir / f"{k}.sock") for k in range(workers)]
        passon = PassOn(engine, i, paths, inbox_socket(str(path)), hold=lock)
        log.info("screening.http_worker.index", worker=i, workers=workers)
        return passon
    raise Unavailable(
        f"every one of the {workers} HTTP worker indexes is taken in {run_dir}: "
        "more workers than screening.http_workers"
    )
