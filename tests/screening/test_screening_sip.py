"""The SIP face: parsing, answers to odd messages, and a real SIP client (sipp) end to end."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telshield.screening.decisionlog import MemoryDecisionLog
from telshield.screening.engine import Engine
from telshield.screening.metrics import render
from telshield.screening.sip import RedirectServer, UdpLoop, serve_sip, uri_user
from telshield.screening.snapshot import BLACK, Snapshot, SnapshotInput

BLACK_N = 8613800000002
CALLEE = "8613900000009"


def _engine(log: MemoryDecisionLog | None = None) -> Engine:
    e = Engine(decision_log=log)
    e.swap(Snapshot.build(SnapshotInput(
        list_numbers=np.array([BLACK_N]), list_flags=np.array([BLACK], np.uint8),
        as_of=time.time(), version="sip-test")))
    return e


def _invite(caller: str, callee: str = CALLEE, *, ingress: str = "radio", extra: str = "") -> bytes:
    return (
        f"INVITE sip:{callee}@10.0.0.1 SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK-1\r\n"
        "Via: SIP/2.0/UDP 10.0.0.8:5060;branch=z9hG4bK-0\r\n"
        f"From: <sip:{caller}@10.0.0.9>;tag=abc\r\n"
        f"To: <sip:{callee}@10.0.0.1>\r\n"
        "Call-ID: call-1@10.0.0.9\r\n"
        "CSeq: 1 INVITE\r\n"
        f"X-Ingress: {ingress}\r\n{extra}"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def test_uri_user() -> None:
    assert uri_user("<sip:+8613812345678@host;user=phone>;tag=1") == "8613812345678"
    assert uri_user("sip:8613812345678@host") == "8613812345678"
    assert uri_user("<tel:+8613812345678>") == "8613812345678"
    assert uri_user("8613812345678") == ""


def test_invite_answers() -> None:
    server = RedirectServer(_engine(), redress_uri="https://appeal.example/r")
    reject = server.handle(_invite(str(BLACK_N)))
    assert reject is not None
    text = reject.decode()
    assert text.startswith("SIP/2.0 608 Rejected\r\n")
    assert "Call-Info: <https://appeal.example/r?decision=" in text
    assert 'Reason: SIP;cause=608;text="list:black"' in text
    # Both Via headers come back in order; To gets a tag.
    assert text.index("branch=z9hG4bK-1") < text.index("branch=z9hG4bK-0")
    assert "To: <sip:8613900000009@10.0.0.1>;tag=" in text
    ok = server.handle(_invite("8618600000001").replace(b"call-1", b"call-2"))
    assert ok is not None and ok.startswith(b"SIP/2.0 302 Moved Temporarily\r\n")
    assert b"Contact: <sip:8613900000009@10.0.0.1>" in ok
    # P-Asserted-Identity wins over From.
    pai = _invite("8618600000001", extra=f"P-Asserted-Identity: <sip:{BLACK_N}@x>\r\n")
    assert server.handle(pai.replace(b"call-1", b"call-3")).startswith(b"SIP/2.0 608")
    # A retransmission gets the same answer, not a second decision.
    assert server.handle(_invite(str(BLACK_N))) == reject
    assert server.stats.retransmissions == 1


@pytest.mark.parametrize(
    ("data", "answer"),
    [
        (b"", None),
        (b"\x00\xff\xfe garbage", None),
        (b"HELLO\r\n\r\n", None),
        (b"SIP/2.0 200 OK\r\nVia: x\r\n\r\n", None),  # a response: nothing to answer
        (b"INVITE sip:1@x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z\r\nCall-ID: c\r\n"
         b"CSeq: 1 INVITE\r\n\r\n",
         b"SIP/2.0 400 Bad Request"),
        (b"INVITE sip:1@x SIP/2.0\r\nFrom: <sip:1@x>\r\n\r\n", None),  # cannot even answer
        (b"INVITE sip:1@x SIP/2.0\r\nno colon here\r\n\r\n", None),
    ],
)
def test_malformed_messages_are_answered_400_or_dropped(data: bytes, answer: bytes | None) -> None:
    server = RedirectServer(_engine())
    reply = server.handle(data)
    assert (reply[: len(answer)] if reply and answer else reply) == answer
    if data and not data.startswith(b"SIP/2.0"):
        assert server.stats.malformed == 1


def test_options_cancel_ack_and_others() -> None:
    server = RedirectServer(_engine())
    opt = _invite("8618600000001").replace(b"INVITE sip", b"OPTIONS sip", 1)
    assert server.handle(opt).startswith(b"SIP/2.0 200 OK")
    ack = _invite("8618600000001").replace(b"INVITE sip", b"ACK sip", 1)
    assert server.handle(ack) is None
    bye = _invite("8618600000001").replace(b"INVITE sip", b"BYE sip", 1)
    assert server.handle(bye).startswith(b"SIP/2.0 405")
    assert b"telshield_sip_malformed_total 0.0" in render(server.engine, server.stats)


@pytest.fixture
def sip_server() -> Iterator[tuple[RedirectServer, int, MemoryDecisionLog]]:
    log = MemoryDecisionLog()
    server = RedirectServer(_engine(log))
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: dict[str, UdpLoop] = {}

    def run() -> None:
        asyncio.set_event_loop(loop)
        transport, _ = loop.run_until_complete(serve_sip(server, "127.0.0.1", 0))
        holder["t"] = transport
        started.set()
        loop.run_forever()
        transport.close()
        loop.run_until_complete(asyncio.sleep(0))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(10)
    port = holder["t"].get_extra_info("sockname")[1]
    yield server, port, log
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.skipif(
    shutil.which("sipp") is None and not os.environ.get("CI"),
    reason="sipp (Debian sip-tester) not installed; .ci/run installs it, and in CI this runs",
)
def test_sipp_calls_get_302_or_608(
    sip_server: tuple[RedirectServer, int, MemoryDecisionLog], tmp_path: Path
) -> None:
    server, port, log = sip_server
    calls = ["SEQUENTIAL"]
    for i in range(300):
        caller = str(BLACK_N) if i % 3 == 0 else f"86186{i:08d}"
        ingress = "international" if i % 10 == 1 else "radio"  # domestic via intl: spoofed
        calls.append(f"{caller};8613{i:09d};{ingress};")
    inf = tmp_path / "calls.csv"
    inf.write_text("\n".join(calls) + "\n")
    scenario = resources.files("telshield.screening") / "sipp" / "uac.xml"
    proc = subprocess.run(
        ["sipp", f"127.0.0.1:{port}", "-sf", str(scenario), "-inf", str(inf), "-m", "300",
         "-r", "300", "-l", "100", "-p", str(_free_udp_port()), "-i", "127.0.0.1",
         "-timeout", "30s", "-timeout_error", "-nostdin", "-trace_err",
         "-error_file", str(tmp_path / "errors.log")],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    expected_rejects = sum(1 for i in range(300) if i % 3 == 0 or i % 10 == 1)
    assert server.stats.responses.get(608) == expected_rejects
    assert server.stats.responses.get(302) == 300 - expected_rejects
    assert server.stats.malformed == 0
    assert len(log.records) == expected_rejects
    assert {r.reasons for r in log.records} == {
        ("list:black",), ("spoof:domestic_via_international",)
    }


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=600) | st.builds(
    lambda head, tail: head + tail,
    st.sampled_from([b"INVITE sip:8613812345678@x SIP/2.0\r\n", b"OPTIONS sip:x SIP/2.0\r\n",
                     b"INVITE  SIP/2.0\r\n", b"ACK sip:x SIP/2.0\r\n"]),
    st.binary(max_size=400)))
def test_no_datagram_crashes_the_server(data: bytes) -> None:
    server = RedirectServer(_engine())
    reply = server.handle(data)
    assert reply is None or reply.startswith(b"SIP/2.0 ")


def test_udp_loop_answers_over_a_real_socket(
    sip_server: tuple[RedirectServer, int, MemoryDecisionLog],
) -> None:
    server, port, log = sip_server
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.sendto(_invite(str(BLACK_N)), ("127.0.0.1", port))
        reject, _ = s.recvfrom(65535)
        s.sendto(b"\x00\xff garbage", ("127.0.0.1", port))  # dropped, counted, loop goes on
        s.sendto(_invite("8618600000001").replace(b"call-1", b"call-2"), ("127.0.0.1", port))
        allow, _ = s.recvfrom(65535)
    assert reject.startswith(b"SIP/2.0 608 Rejected\r\n")
    assert allow.startswith(b"SIP/2.0 302 Moved Temporarily\r\n")
    decision = reject.split(b"X-Telshield-Decision: ", 1)[1].split(b";", 1)[0].decode()
    assert [r.id for r in log.records] == [decision]
    assert server.stats.malformed == 1


def test_closing_the_udp_loop_stops_its_thread() -> None:
    async def start() -> UdpLoop:
        loop, _ = await serve_sip(RedirectServer(_engine()), "127.0.0.1", 0)
        return loop

    udp = asyncio.run(start())
    names = {t.name for t in threading.enumerate()}
    assert "sip-udp" in names
    udp.close()
    udp.close()  # twice is harmless
    assert not any(t.name == "sip-udp" and t.is_alive() for t in threading.enumerate())


def test_the_608_links_to_the_appeal_route_of_the_api() -> None:
    from telshield.settings import Settings
    from telshield.wiring import screening

    uri = screening.redress_uri(Settings())
    assert uri == "http://127.0.0.1:8080/v1/appeals"
    reply = RedirectServer(_engine(), redress_uri=uri).handle(_invite(str(BLACK_N)))
    assert reply is not None
    decision = reply.split(b"X-Telshield-Decision: ", 1)[1].split(b";", 1)[0].decode()
    assert f"Call-Info: <{uri}?decision={decision}>;purpose=info".encode() in reply


def test_sip_metrics_show_the_snapshot_version_and_reloads(tmp_path: Path) -> None:
    from telshield.screening.follow import SnapshotFollower
    from telshield.screening.publish import publish

    engine = Engine()
    publish(SnapshotInput(as_of=time.time(), version="sip-v1"), tmp_path)
    follower = SnapshotFollower(engine, tmp_path, every_s=1)
    follower.check()
    server = RedirectServer(engine)
    text = render(engine, server.stats, follower).decode()
    assert 'telshield_screening_snapshot_info{version="sip-v1"} 1.0' in text
    assert "telshield_screening_reload_failures_total 0.0" in text
    assert "telshield_screening_fail_open_total 0.0" in text


def _ask(port: int) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(1.0)
        s.sendto(_invite(str(BLACK_N)), ("127.0.0.1", port))
        try:
            return s.recv(65535)
        except TimeoutError:
            return None


def test_only_configured_peers_are_answered() -> None:
    """A datagram from an address that is not a configured switch gets no answer: nobody who
    can reach the port learns whether a number is listed."""
    async def start(peers: tuple[str, ...]) -> tuple[UdpLoop, RedirectServer]:
        return await serve_sip(RedirectServer(_engine(), peers=peers), "127.0.0.1", 0)

    strangers, server = asyncio.run(start(("10.20.0.0/16",)))
    try:
        assert _ask(strangers.get_extra_info("sockname")[1]) is None
        assert server.stats.not_peers == 1 and server.stats.responses == {}
        assert "telshield_sip_not_peers_total 1.0" in render(server.engine, server.stats
                                                             ).decode()
    finally:
        strangers.close()
    loopback, server = asyncio.run(start(("127.0.0.1", "10.20.0.0/16")))
    try:
        reply = _ask(loopback.get_extra_info("sockname")[1])
        assert reply is not None and reply.startswith(b"SIP/2.0 608")
    finally:
        loopback.close()
    allowed = RedirectServer(_engine(), peers=("10.20.0.0/16", "2001:db8::/32"))
    assert allowed.from_peer("10.20.3.4") and allowed.from_peer("::ffff:10.20.3.4")
    assert allowed.from_peer("2001:db8::7") and not allowed.from_peer("10.21.0.1")
    assert not allowed.from_peer("not-an-address")
    with pytest.raises(ValueError, match=r"10\.0\.0\.0/33"):
        RedirectServer(_engine(), peers=("10.0.0.0/33",))


def test_a_junk_flood_is_logged_once_per_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    from telshield.screening import sip

    lines: list[tuple[str, dict[str, object]]] = []
    monkeypatch.setattr(sip.log, "info", lambda event, **kw: lines.append((event, kw)))
    server = RedirectServer(_engine())
    for _ in range(200):
        assert server.handle(b"GARBAGE\r\n\r\n") is None
    assert server.stats.malformed == 200
    assert [e for e, _ in lines] == ["sip.malformed_dropped"]  # one line, not 200
    server._log_junk._last -= sip.LOG_EVERY_S  # the interval has passed
    server.handle(b"GARBAGE\r\n\r\n")
    assert lines[-1] == ("sip.malformed_dropped", {"held_back": 199, "why": lines[-1][1]["why"]})
