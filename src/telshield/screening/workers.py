"""Several SIP screening workers on one host, on one UDP port, with exact velocity counts.

Every worker is a process with its own engine, following the same published snapshot, and its
own socket bound to the shared port with ``SO_REUSEPORT``: the kernel spreads datagrams over
the sockets by a hash of the source address and port. Velocity counts calls per *caller*, and
a switch sends every call from the same address and port, so the kernel's spread says nothing
about callers: left alone, one caller's calls would be counted by several engines, each seeing
a part. So each INVITE has an **owner**, the worker ``crc32(caller) % N``; a worker that
receives an INVITE it does not own passes it, with the sender's address, to the owner's inbox
(a Unix datagram socket), and the owner decides and answers the switch from its own socket on
the shared port. Every call of a caller is decided by one engine: the counts are those of a
single worker. A retransmission takes the same path, so it gets the cached answer again.

Everything but an INVITE (ACK, OPTIONS, CANCEL, junk) is answered where it lands. When an
owner's inbox cannot take a datagram (the worker is gone, its inbox full), the receiver decides
the call itself and counts it (``forward_failed``): the call is answered, its caller's count is
split for as long as that lasts.

The receiving socket and the inbox are read by two threads of the worker; the engine is called
under one lock, as it keeps per-caller state for one thread.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import zlib
from collections.abc import Sequence

import structlog

from telshield.screening.sip import RedirectServer, uri_user

log = structlog.get_logger(__name__)

_CALLER_HEADERS = (b"\r\np-asserted-identity:", b"\r\nfrom:", b"\r\nf:")


def owner(caller: str, workers: int) -> int:
    """The worker (0 .. workers-1) that decides every call of ``caller``: the same in every
    process (``hash`` is salted per process, CRC-32 is not)."""
    return zlib.crc32(caller.encode()) % workers


def invite_caller(data: bytes) -> str | None:
    """The caller of an INVITE datagram as the redirect server reads it (P-Asserted-Identity,
    else From); None for anything else or when no caller can be read (then the datagram is
    handled where it landed)."""
    if not data.startswith(b"INVITE "):
        return None
    head = data.split(b"\r\n\r\n", 1)[0]
    low = head.lower()
    for name in _CALLER_HEADERS:
        i = low.find(name)
        if i < 0:
            continue
        end = low.find(b"\r\n", i + 2)
        value = head[i + len(name) : end if end >= 0 else len(head)].strip()
        if not value:
            continue
        try:
            return uri_user(value.decode("utf-8"))
        except UnicodeDecodeError:
            return None
    return None


def pack(addr: tuple[str, int], data: bytes) -> bytes:
    """A datagram passed to its owner: the sender's address, a newline, the datagram."""
    return f"{addr[0]} {addr[1]}\n".encode() + data


def unpack(message: bytes) -> tuple[tuple[str, int], bytes]:
    """The sender's address and the datagram of a passed datagram (``pack``)."""
    head, _, data = message.partition(b"\n")
    host, _, port = head.decode().rpartition(" ")
    return (host, int(port)), data


class WorkerLoop:
    """One worker's serving threads: the shared port (decide what it owns, pass the rest on)
    and its inbox (decide what was passed to it, answer from the shared port)."""

    def __init__(
        self,
        server: RedirectServer,
        sock: socket.socket,
        inbox: socket.socket,
        inboxes: Sequence[str],
        index: int,
        *,
        affinity: bool = True,
    ) -> None:
        self.server = server
        self.index = index
        # Without affinity (measurement only) every worker decides what the kernel hands it.
        self.workers = len(inboxes) if affinity else 1
        self._sock = sock
        self._inbox = inbox
        self._inboxes = list(inboxes)
        self._out = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        # A full inbox holds the sender back (flow control between workers), for at most a
        # second: a kernel timeout, so that a send costs no poll first.
        self._out.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", 1, 0))
        self._lock = threading.Lock()
        self._closing = False
        self._threads = [
            threading.Thread(target=self._run_port, name=f"sip-port-{index}", daemon=True),
            threading.Thread(target=self._run_inbox, name=f"sip-inbox-{index}", daemon=True),
        ]
        for t in self._threads:
            t.start()

    def get_extra_info(self, name: str, default: object = None) -> object:
        """Like an asyncio transport's: ``sockname`` is the address listened on."""
        return self._sock.getsockname() if name == "sockname" else default

    def _answer(self, data: bytes, addr: tuple[str, int]) -> None:
        stats = self.server.stats
        try:
            with self._lock:
                reply = self.server.handle(data)
        except Exception:  # a bug must not stop call set-ups: count, log, drop
            stats.dropped += 1
            log.exception("sip.handle_failed", peer=str(addr[0]))
            return
        if reply is not None:
            try:
                self._sock.sendto(reply, addr)
            except OSError:
                stats.dropped += 1

    def _run_port(self) -> None:
        recv, from_peer, stats = self._sock.recvfrom, self.server.from_peer, self.server.stats
        me, n, send, inboxes = self.index, self.workers, self._out.sendto, self._inboxes
        while not self._closing:
            try:
                data, addr = recv(65535)
            except OSError:  # e.g. an ICMP error reported on the socket: keep serving
                continue
            if self._closing:
                break
            if not from_peer(addr[0]):
                continue
            caller = invite_caller(data) if n > 1 else None
            if caller:
                to = owner(caller, n)
                if to != me:
                    try:
                        send(pack(addr, data), inboxes[to])
                        stats.forwarded += 1
                        continue
                    except OSError:  # the owner is gone or full: decide here, counted
                        stats.forward_failed += 1
            self._answer(data, addr)

    def _run_inbox(self) -> None:
        recv, stats = self._inbox.recv, self.server.stats
        while not self._closing:
            try:
                message = recv(65535 + 64)
            except OSError:
                continue
            if self._closing:
                break
            try:
                addr, data = unpack(message)
            except (ValueError, UnicodeDecodeError):
                stats.dropped += 1
                continue
            stats.passed_in += 1
            self._answer(data, addr)

    def close(self) -> None:
        """Stop both threads and close the sockets (the shared port's socket is woken by
        shutting its reading side: a datagram to the port could reach another worker)."""
        if self._closing:
            return
        self._closing = True
        with contextlib.suppress(OSError):  # ENOTCONN on UDP, but the reader is woken
            self._sock.shutdown(socket.SHUT_RD)
        with contextlib.suppress(OSError):
            self._out.sendto(b"", self._inboxes[self.index])
        for t in self._threads:
            t.join(5)
        for s in (self._sock, self._inbox, self._out):
            s.close()


def shared_port_socket(host: str, port: int) -> socket.socket:
    """A UDP socket on ``host:port`` with ``SO_REUSEPORT`` (the port is shared by every worker
    that binds it so), with a 4 MiB receive buffer (capped by the kernel)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 2**20)
    sock.bind((host, port))
    return sock


def inbox_socket(path: str) -> socket.socket:
    """A worker's inbox: a Unix datagram socket at ``path``, with a 4 MiB receive buffer."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 2**20)
    sock.bind(path)
    return sock
