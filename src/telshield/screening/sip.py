"""The SIP face: a UDP redirect server. A switch sends an INVITE per call set-up and gets
302 Moved Temporarily (route on to the same target) or 608 Rejected (RFC 8688) with a Call-Info
redress URI and a Reason header. OPTIONS is answered; a malformed message gets 400 when it can
be answered and is dropped otherwise, and is counted either way: never a crash.

Caller: the P-Asserted-Identity user part, else the From user part. Callee: the Request-URI user
part. Ingress: the ``X-Ingress`` header (radio / interconnect / international), else the
server's default for the trunk it listens on. Caller IMEI (radio-originated calls): the
``P-Device-IMEI`` header (digits only, e.g. ``P-Device-IMEI: 86123400123456``); absent, the
device-class rule does not apply. The carrier whose trunk handed an interconnect call over: the
``X-Ingress-Carrier`` header (``china_unicom``, ...), else the trunk group of the Request-URI
(RFC 4904 ``tgrp``, e.g. ``sip:8613912345678;tgrp=CU-NJ-01@...``) looked up in the server's
``trunk_carriers``; unknown, or the call forwarded (``Diversion`` / ``History-Info``: it comes on
the forwarding party's carrier's trunk), the serving-carrier check does not apply.

Only configured peers are answered (``peers``: the switches' addresses or networks; by default
loopback): a datagram from anyone else is dropped unanswered and counted, so that nobody who can
reach the port can ask whether a number is listed. Junk is logged at most once per
``LOG_EVERY_S`` with the count since the last line, so a flood cannot flood the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import structlog

from telshield.domain.errors import TelshieldError, Unavailable
from telshield.screening.engine import Engine
from telshield.screening.snapshot import Outcome

log = structlog.get_logger(__name__)

_COMPACT = {
    "v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact", "l": "content-length"
}
_NEEDED = ("via", "from", "to", "call-id", "cseq")
ALLOW_METHODS = "INVITE, ACK, CANCEL, OPTIONS"
LOOPBACK = ("127.0.0.0/8", "::1/128")
LOG_EVERY_S = 10.0
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_peers(peers: Iterable[str]) -> tuple[Network, ...]:
    """The networks of ``peers`` (addresses or CIDRs); ValueError naming a bad one."""
    out = []
    for p in peers:
        try:
            out.append(ipaddress.ip_network(p.strip(), strict=False))
        except ValueError:
            raise ValueError(f"SIP peer {p!r} is not an IP address or network (e.g. "
                             "10.1.2.3 or 10.1.0.0/16)") from None
    return tuple(out)


class Peers:
    """Which source addresses are answered: a look-up per address, cached (a switch sends from
    a handful of addresses; an attacker's many are cached only up to a bound)."""

    def __init__(self, networks: Iterable[Network]) -> None:
        self.networks = tuple(networks)
        self._seen: dict[str, bool] = {}

    def allowed(self, host: str) -> bool:
        """Whether ``host`` (the datagram's source address) is a configured peer."""
        ok = self._seen.get(host)
        if ok is None:
            try:
                ip = ipaddress.ip_address(host.split("%", 1)[0])
            except ValueError:
                ok = False
            else:
                mapped = getattr(ip, "ipv4_mapped", None)
                ip = mapped or ip
                ok = any(ip in n for n in self.networks)
            if len(self._seen) < 4096:
                self._seen[host] = ok
        return ok


class _Throttled:
    """A log line at most every ``every_s`` seconds, with how many were held back."""

    def __init__(self, event: str, every_s: float = LOG_EVERY_S) -> None:
        self.event, self.every_s = event, every_s
        self._last, self._held = 0.0, 0

    def __call__(self, **kw: object) -> None:
        now = time.monotonic()
        if now - self._last < self.every_s:
            self._held += 1
            return
        log.info(self.event, held_back=self._held, **kw)
        self._last, self._held = now, 0


class Malformed(ValueError):
    """A SIP message that cannot be understood."""


@dataclass
class SipRequest:
    """The parts of a SIP request the redirect server uses."""

    method: str
    uri: str
    headers: dict[str, list[str]]

    def first(self, name: str) -> str:
        """The first value of a header ('' when absent)."""
        values = self.headers.get(name)
        return values[0] if values else ""


@dataclass
class SipStats:
    """Counters the metrics endpoint exposes."""

    requests: dict[str, int] = field(default_factory=dict)
    responses: dict[int, int] = field(default_factory=dict)
    malformed: int = 0
    dropped: int = 0
    retransmissions: int = 0
    not_peers: int = 0  # datagrams from addresses that are not configured peers (dropped)
    forwarded: int = 0  # INVITEs passed to the worker that owns their caller (workers.py)
    passed_in: int = 0  # INVITEs other workers passed to this one
    forward_failed: int = 0  # INVITEs decided here because their owner could not take them


def parse_request(data: bytes) -> SipRequest:
    """Parse a SIP request's start line and headers; raise Malformed when it is not one."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise Malformed("not UTF-8") from e
    head = text.split("\r\n\r\n", 1)[0]
    lines = head.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or parts[2] != "SIP/2.0" or not parts[0].isalpha():
        raise Malformed(f"bad request line {lines[0][:80]!r}")
    headers: dict[str, list[str]] = {}
    for line in lines[1:]:
        if not line:
            continue
        if line[0] in " \t" and headers:  # folded continuation line
            last = next(reversed(headers))
            headers[last][-1] += " " + line.strip()
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise Malformed(f"bad header line {line[:80]!r}")
        key = name.strip().lower()
        key = _COMPACT.get(key, key)
        headers.setdefault(key, []).append(value.strip())
    return SipRequest(parts[0], parts[1], headers)


def uri_user(value: str) -> str:
    """The user part of a SIP/tel URI in a header value or Request-URI, without '+'."""
    v = value
    if "<" in v:
        v = v[v.index("<") + 1 : v.index(">") if ">" in v else len(v)]
    for scheme in ("sips:", "sip:", "tel:"):
        if v.startswith(scheme):
            v = v[len(scheme) :]
            break
    else:
        return ""
    user = v.split("@", 1)[0] if "@" in v else v
    return user.split(";", 1)[0].lstrip("+")


def _response(req: SipRequest, code: int, phrase: str, extra: list[str]) -> bytes:
    to = req.first("to")
    if code != 100 and ";tag=" not in to:
        to += ";tag=ts" + req.first("call-id")[:8].replace(";", "").replace(" ", "")
    lines = [f"SIP/2.0 {code} {phrase}"]
    lines += [f"Via: {v}" for v in req.headers.get("via", [])]
    lines += [
        f"From: {req.first('from')}",
        f"To: {to}",
        f"Call-ID: {req.first('call-id')}",
        f"CSeq: {req.first('cseq')}",
        *extra,
        "Server: telshield",
        "Content-Length: 0",
        "",
        "",
    ]
    return "\r\n".join(lines).encode("utf-8")


class RedirectServer(asyncio.DatagramProtocol):
    """Answers INVITEs with the engine's decision; keeps recent answers for retransmissions."""

    def __init__(
        self, engine: Engine, *, default_ingress: str = "interconnect", redress_uri: str = "",
        peers: Iterable[str] = LOOPBACK, trunk_carriers: Mapping[str, str] | None = None,
    ) -> None:
        self.engine = engine
        self.default_ingress = default_ingress
        self.trunk_carriers = dict(trunk_carriers or {})  # RFC 4904 trunk group -> carrier
        self.redress_uri = redress_uri  # where to appeal (the API's /v1/appeals); "" = none
        self.peers = Peers(parse_peers(peers))
        self.stats = SipStats()
        self._log_junk = _Throttled("sip.malformed_dropped")
        self._log_stranger = _Throttled("sip.not_a_peer_dropped")
        self._recent: OrderedDict[tuple[str, str, str], bytes] = OrderedDict()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport to answer on."""
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        """Answer one datagram; whatever happens, the server keeps running."""
        if not self.from_peer(addr[0]):
            return
        try:
            reply = self.handle(data)
        except Exception:  # a bug must not stop call set-ups: count, log, drop
            self.stats.dropped += 1
            log.exception("sip.handle_failed", peer=addr[0])
            return
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)

    def from_peer(self, host: str) -> bool:
        """Whether a datagram from ``host`` is to be answered (else counted and dropped)."""
        if self.peers.allowed(host):
            return True
        self.stats.not_peers += 1
        self._log_stranger(peer=host)
        return False

    def handle(self, data: bytes) -> bytes | None:
        """The reply to one datagram, or None when nothing is to be sent."""
        if data.startswith((b"SIP/2.0 ", b"ACK ")) or not data.strip():
            # A response, an ACK (answered by nothing) or a keep-alive.
            if data.startswith(b"ACK "):
                self.stats.requests["ACK"] = self.stats.requests.get("ACK", 0) + 1
            return None
        try:
            req = parse_request(data)
        except Malformed as e:
            self.stats.malformed += 1
            self.stats.dropped += 1
            self._log_junk(why=str(e))
            return None
        stats = self.stats
        stats.requests[req.method] = stats.requests.get(req.method, 0) + 1
        if any(not req.headers.get(h) for h in _NEEDED):
            stats.malformed += 1
            if req.headers.get("via") and req.headers.get("call-id") and req.headers.get("cseq"):
                missing = [h for h in _NEEDED if not req.headers.get(h)]
                return self._count(_response(req, 400, "Bad Request", [
                    f'Warning: 399 telshield "missing {", ".join(missing)}"']), 400)
            stats.dropped += 1
            return None
        if req.method == "ACK":
            return None
        if req.method == "INVITE":
            return self._invite(req)
        if req.method in ("OPTIONS", "CANCEL"):
            return self._count(_response(req, 200, "OK", [f"Allow: {ALLOW_METHODS}"]), 200)
        return self._count(
            _response(req, 405, "Method Not Allowed", [f"Allow: {ALLOW_METHODS}"]), 405
        )

    def _carrier(self, req: SipRequest) -> str | None:
        """The carrier whose trunk handed the call over: the header, else the trunk group;
        None for a forwarded call (a ``Diversion`` or ``History-Info`` header): it comes on the
        forwarding party's carrier's trunk, presenting the original caller."""
        if req.first("diversion") or req.first("history-info"):
            return None
        named = req.first("x-ingress-carrier")
        if named:
            return named.strip().lower()
        if not self.trunk_carriers or ";tgrp=" not in req.uri:
            return None
        group = req.uri.partition(";tgrp=")[2]
        for end in (";", "@", ">"):
            group = group.split(end, 1)[0]
        return self.trunk_carriers.get(group)

    def _count(self, reply: bytes, code: int) -> bytes:
        self.stats.responses[code] = self.stats.responses.get(code, 0) + 1
        return reply

    def _invite(self, req: SipRequest) -> bytes:
        via = req.first("via")
        branch = via.partition("branch=")[2].split(";", 1)[0]
        key = (req.first("call-id"), req.first("cseq"), branch)
        cached = self._recent.get(key)
        if cached is not None:
            self.stats.retransmissions += 1
            return cached
        caller = uri_user(req.first("p-asserted-identity") or req.first("from"))
        callee = uri_user(req.uri)
        ingress = req.first("x-ingress") or self.default_ingress
        try:
            d = self.engine.decide(caller, callee, ingress,
                                   caller_imei=req.first("p-device-imei") or None,
                                   carrier=self._carrier(req))
        except Unavailable:
            return self._count(_response(req, 503, "Service Unavailable", ["Retry-After: 5"]), 503)
        except TelshieldError as e:
            self.stats.malformed += 1
            warning = str(e).replace('"', "'")[:120]
            return self._count(
                _response(req, 400, "Bad Request", [f'Warning: 399 telshield "{warning}"']), 400
            )
        reasons = ",".join(d.reasons) or "none"
        info = f"X-Telshield-Decision: {d.id};outcome={d.outcome.value};reasons={reasons}"
        if d.outcome is Outcome.REJECT:
            redress = [f"Call-Info: <{self.redress_uri}?decision={d.id}>;purpose=info"] \
                if self.redress_uri else []
            reply = self._count(
                _response(req, 608, "Rejected", [
                    *redress, f'Reason: SIP;cause=608;text="{reasons}"', info]),
                608,
            )
        else:
            contact = f"Contact: <{req.uri}>"
            if d.outcome is not Outcome.ALLOW:
                contact += f";telshield={d.outcome.value}"
            reply = self._count(_response(req, 302, "Moved Temporarily", [contact, info]), 302)
        self._recent[key] = reply
        if len(self._recent) > 10_000:
            self._recent.popitem(last=False)
        return reply


class UdpLoop:
    """A blocking UDP loop in its own thread: ``recvfrom`` → ``RedirectServer.handle`` →
    ``sendto``, with no event-loop callback, future or transport buffer per datagram.

    The engine is only ever called from this thread; the event loop that started it keeps
    reloading snapshots (one atomic reference swap) and flushing the decision log (locked).
    """

    def __init__(self, server: RedirectServer, sock: socket.socket) -> None:
        self.server = server
        self._sock = sock
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="sip-udp", daemon=True)
        self._thread.start()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """Like an asyncio transport's: ``sockname`` is the address listened on."""
        return self._sock.getsockname() if name == "sockname" else default

    def _run(self) -> None:
        sock, handle, stats = self._sock, self.server.handle, self.server.stats
        recv, send, from_peer = sock.recvfrom, sock.sendto, self.server.from_peer
        while not self._closing:
            try:
                data, addr = recv(65535)
            except OSError:  # e.g. an ICMP error reported on the socket: keep serving
                continue
            if self._closing:
                break
            if not from_peer(addr[0]):
                continue
            try:
                reply = handle(data)
            except Exception:  # a bug must not stop call set-ups: count, log, drop
                stats.dropped += 1
                log.exception("sip.handle_failed", peer=str(addr[0]))
                continue
            if reply is not None:
                try:
                    send(reply, addr)
                except OSError:
                    stats.dropped += 1

    def close(self) -> None:
        """Stop the loop (woken by an empty datagram to itself) and close the socket."""
        if self._closing:
            return
        self._closing = True
        host, port = self._sock.getsockname()[:2]
        wake = "127.0.0.1" if host == "0.0.0.0" else "::1" if host == "::" else host
        with contextlib.suppress(OSError), socket.socket(self._sock.family,
                                                         socket.SOCK_DGRAM) as s:
            s.sendto(b"", (wake, port))
        self._thread.join(5)
        self._sock.close()


async def serve_sip(server: RedirectServer, host: str, port: int) -> tuple[UdpLoop, RedirectServer]:
    """Start answering on ``host:port`` (UDP) in a dedicated thread; returns the loop (``close``
    stops it) and the server."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    with contextlib.suppress(OSError):  # a deeper queue absorbs bursts (capped by the kernel)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 2**20)
    sock.bind((host, port))
    loop = UdpLoop(server, sock)
    log.info("sip.listening", host=host, port=sock.getsockname()[1])
    return loop, server
