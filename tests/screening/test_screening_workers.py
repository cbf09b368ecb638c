"""Several SIP workers on one port (``telshield screen sip --workers N``): every INVITE answered
(sipp), a published snapshot reaching every worker, a caller's velocity counted by one engine
whichever worker the kernel hands its calls to, and SIGTERM stopping them all with their logs
flushed. The workers are real processes started by the command."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from telshield.screening.decisionlog import read_decisions
from telshield.screening.publish import publish
from telshield.screening.snapshot import BLACK, SnapshotInput
from telshield.screening.workers import invite_caller, owner, pack, unpack

needs_sipp = pytest.mark.skipif(
    shutil.which("sipp") is None and not os.environ.get("CI"),
    reason="sipp (Debian sip-tester) not installed; .ci/run installs it, and in CI this runs",
)


def _invite(
    caller: str, callee: str = "8613900000009", *, call_id: str = "c1", pai: str = ""
) -> bytes:
    return (
        f"INVITE sip:{callee}@127.0.0.1 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-{call_id}\r\n"
        f"From: <sip:{caller}@127.0.0.1>;tag=abc\r\n{pai}"
        f"To: <sip:{callee}@127.0.0.1>\r\n"
        f"Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nX-Ingress: radio\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def test_the_caller_is_read_as_the_redirect_server_reads_it() -> None:
    assert invite_caller(_invite("8618600000001")) == "8618600000001"
    pai = "P-Asserted-Identity: <tel:+8618600000002>\r\n"
    assert invite_caller(_invite("8618600000001", pai=pai)) == "8618600000002"
    compact = _invite("1").replace(b"From: <sip:1@", b"f: <sip:8618600000003@")
    assert invite_caller(compact) == "8618600000003"
    assert invite_caller(b"OPTIONS sip:x SIP/2.0\r\nFrom: <sip:1@x>\r\n\r\n") is None
    assert invite_caller(b"INVITE sip:x SIP/2.0\r\nVia: x\r\n\r\n") is None
    assert invite_caller(b"INVITE sip:x SIP/2.0\r\nFrom: <sip:\xff@x>\r\n\r\n") is None


def test_owners_are_stable_and_spread() -> None:
    callers = [f"86186{i:08d}" for i in range(4000)]
    owners = Counter(owner(c, 4) for c in callers)
    assert set(owners) == {0, 1, 2, 3}
    assert min(owners.values()) > 900  # about a quarter each
    # The same in another interpreter (Python's own hash is salted per process).
    code = (
        "from telshield.screening.workers import owner; "
        f"print([owner(c, 4) for c in {callers[:50]!r}])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "random"},
    ).stdout
    assert out.strip() == str([owner(c, 4) for c in callers[:50]])


def test_a_passed_datagram_keeps_its_sender() -> None:
    data = _invite("8618600000001")
    assert unpack(pack(("127.0.0.1", 40123), data)) == (("127.0.0.1", 40123), data)
    assert unpack(pack(("::1", 5060), data)) == (("::1", 5060), data)


def _free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _metrics(port: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1) as r:
            return str(r.read().decode())
    except OSError:
        return None


@contextlib.contextmanager
def _workers(data_dir: Path, n: int, **settings: str) -> Iterator[tuple[int, list[int]]]:
    """``telshield screen sip --workers n`` on a free port, until every worker serves metrics;
    yields the SIP port and each worker's metrics port; stopped by SIGTERM, which must end
    it cleanly."""
    port = _free_port()
    base = random.randint(21000, 29000)
    env = {
        **os.environ,
        "TELSHIELD_DATA_DIR": str(data_dir),
        "TELSHIELD_SCREENING__SIP_METRICS_PORT": str(base),
        "TELSHIELD_SCREENING__LOG_ALLOWED": "true",
        **{f"TELSHIELD_SCREENING__{k.upper()}": v for k, v in settings.items()},
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "telshield",
            "screen",
            "sip",
            "--workers",
            str(n),
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    metrics = [base + i for i in range(n)]
    try:
        deadline = time.monotonic() + 90
        while any(_metrics(m) is None for m in metrics):
            assert proc.poll() is None, proc.stdout.read().decode()[-3000:]  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the workers did not start in 90 s"
            time.sleep(0.3)
        yield port, metrics
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0, out.decode()[-3000:]


def _same_minute(within_s: float) -> None:
    """Wait for the next minute when fewer than ``within_s`` seconds are left of this one."""
    if time.time() % 60 > 60 - within_s:
        time.sleep(60.5 - time.time() % 60)


def _ask(port: int, message: bytes) -> bytes:
    """Send from a fresh socket (a new source port: the kernel may hand it to any worker)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(10)
        s.sendto(message, ("127.0.0.1", port))
        return s.recv(65535)


def _publish(directory: Path, black: list[int], version: str) -> None:
    publish(
        SnapshotInput(
            list_numbers=np.array(black, np.int64),
            list_flags=np.full(len(black), BLACK, np.uint8),
            as_of=time.time(),
            version=version,
        ),
        directory,
    )


@needs_sipp
def test_sipp_calls_through_two_workers_are_all_answered_each_caller_by_one(tmp_path: Path) -> None:
    black = 8613800000002
    _publish(tmp_path / "screening" / "snapshot", [black], "w-v1")
    callers = [str(black) if i % 5 == 0 else f"86186{i % 40:08d}" for i in range(400)]
    lines = ["SEQUENTIAL", *(f"{c};8613{i:09d};radio;" for i, c in enumerate(callers))]
    (tmp_path / "calls.csv").write_text("\n".join(lines) + "\n")
    scenario = resources.files("telshield.screening") / "sipp" / "uac.xml"
    with _workers(tmp_path, 2) as (port, metrics):
        _same_minute(within_s=15)  # each caller's 10 calls are counted in one minute
        # One socket per call (-t un): the kernel spreads them over both workers.
        proc = subprocess.run(
            [
                "sipp",
                f"127.0.0.1:{port}",
                "-sf",
                str(scenario),
                "-inf",
                "calls.csv",
                "-m",
                "400",
                "-r",
                "200",
                "-l",
                "100",
                "-t",
                "un",
                "-max_socket",
                "500",
                "-i",
                "127.0.0.1",
                "-p",
                str(_free_port()),
                "-timeout",
                "60s",
                "-timeout_error",
                "-nostdin",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        texts = [_metrics(m) or "" for m in metrics]
    assert all("telshield_sip_passed_in_total" in t for t in texts)
    passed_in = [_counter(t, "telshield_sip_passed_in_total") for t in texts]
    assert sum(passed_in) > 0 and all(p > 0 for p in passed_in)  # both received others' calls
    records = list(read_decisions(tmp_path / "screening" / "decisions"))
    assert len(records) == 400  # every decision logged (log_allowed), flushed on SIGTERM
    # The blacklisted caller's 80 calls rejected; each of the 32 others calls 10 callees in
    # the minute: its 6th to 10th calls labelled (6 distinct callees a minute), as one engine
    # counts them, though the kernel spread each caller's calls over both workers.
    assert Counter(r.outcome for r in records) == {"reject": 80, "label": 160, "allow": 160}
    nodes: dict[str, set[str]] = defaultdict(set)
    for r in records:
        nodes[r.caller].add(r.id.split("-", 1)[0])
    assert len({n for ns in nodes.values() for n in ns}) == 2  # both workers decided calls
    assert all(len(ns) == 1 for ns in nodes.values())  # each caller by exactly one


def _counter(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0  # a labelled counter shows no line before its first count


def test_a_published_snapshot_reaches_every_worker(tmp_path: Path) -> None:
    snaps = tmp_path / "screening" / "snapshot"
    _publish(snaps, [], "w-v1")
    # Callers owned by each of the three workers, blacklisted only in the second version.
    by_owner: dict[int, str] = {}
    for i in range(1000):
        by_owner.setdefault(owner(c := f"86187{i:08d}", 3), c)
    with _workers(tmp_path, 3, reload_s="0.3") as (port, metrics):
        for c in by_owner.values():
            assert b" 302 " in _ask(port, _invite(c, call_id=f"a{c}")).split(b"\r\n")[0]
        _publish(snaps, [int(c) for c in by_owner.values()], "w-v2")
        deadline = time.monotonic() + 20
        while not all('snapshot_info{version="w-v2"}' in (_metrics(m) or "") for m in metrics):
            assert time.monotonic() < deadline, "a worker did not take the new snapshot"
            time.sleep(0.2)
        for c in by_owner.values():
            answer = _ask(port, _invite(c, call_id=f"b{c}"))
            assert answer.startswith(b"SIP/2.0 608 "), answer[:200]
            assert b"reasons=list:black" in answer


def test_a_caller_over_the_velocity_limit_is_refused_whichever_worker_gets_the_call(
    tmp_path: Path,
) -> None:
    _publish(tmp_path / "screening" / "snapshot", [], "w-v1")
    limits = {
        "label_calls_per_minute": "3",
        "reject_calls_per_minute": "6",
        "label_callees_per_minute": "30",
        "reject_callees_per_minute": "40",
    }
    with _workers(tmp_path, 2, **limits) as (port, metrics):
        _same_minute(within_s=10)  # the 12 calls must fall in one minute's window
        answers = [_ask(port, _invite("8618612345678", call_id=f"v{k}")) for k in range(12)]
        texts = [_metrics(m) or "" for m in metrics]
    firsts = [a.split(b"\r\n", 1)[0] for a in answers]
    # Calls 1-2 allowed, 3-5 labelled, 6 on rejected: as one engine counts them.
    assert firsts == [b"SIP/2.0 302 Moved Temporarily"] * 5 + [b"SIP/2.0 608 Rejected"] * 7
    assert all(b"velocity:calls_per_minute" in a for a in answers[2:])
    # The calls came from 12 source ports: both workers received some, one decided them all.
    received = [_counter(t, "telshield_sip_forwarded_total") for t in texts]
    decided = [
        _counter(t, 'telshield_sip_responses_total{code="302"}')
        + _counter(t, 'telshield_sip_responses_total{code="608"}')
        for t in texts
    ]
    assert sorted(decided) == [0, 12]
    assert sum(received) > 0


def test_http_workers_decide_each_caller_in_one_engine(tmp_path: Path) -> None:
    """``screen http --workers 2``: calls on fresh connections (granian hands them to either
    worker) and in batches, each caller's decided by its owner, the limits those of one
    engine."""
    import threading

    import httpx

    _publish(tmp_path / "screening" / "snapshot", [], "h-v1")
    port = _free_port(socket.SOCK_STREAM)
    env = {
        **os.environ,
        "TELSHIELD_DATA_DIR": str(tmp_path),
        "TELSHIELD_LOG_LEVEL": "info",
        "TELSHIELD_SCREENING__LABEL_CALLS_PER_MINUTE": "3",
        "TELSHIELD_SCREENING__REJECT_CALLS_PER_MINUTE": "6",
        "TELSHIELD_SCREENING__LABEL_CALLEES_PER_MINUTE": "30",
        "TELSHIELD_SCREENING__REJECT_CALLEES_PER_MINUTE": "40",
    }
    cmd = [
        sys.executable,
        "-m",
        "telshield",
        "screen",
        "http",
        "--workers",
        "2",
        "--allow-open",
        "--port",
        str(port),
    ]
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    ready = threading.Semaphore(0)
    lines: list[str] = []

    def watch() -> None:
        for line in proc.stderr:  # type: ignore[union-attr]
            lines.append(line)
            if "screening.http_worker.index" in line:
                ready.release()

    threading.Thread(target=watch, daemon=True).start()
    try:
        for _ in range(2):
            assert ready.acquire(timeout=90), "".join(lines)[-3000:]
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline
            time.sleep(0.2)
        callers = [
            next(f"86188{i:08d}" for i in range(99) if owner(f"86188{i:08d}", 2) == w)
            for w in (0, 1)
        ]
        _same_minute(within_s=20)
        answers: dict[str, list[dict[str, object]]] = {c: [] for c in callers}
        for k in range(8):
            for c in callers:  # a fresh connection each: either worker may accept it
                r = httpx.post(
                    url + "/v1/decisions",
                    timeout=10,
                    json={"caller": c, "callee": f"86139{k:08d}", "ingress": "radio"},
                )
                answers[c].append(r.json())
        batch = httpx.post(
            url + "/v1/decisions/batch",
            timeout=10,
            json={
                "caller": [callers[0], callers[1], callers[0]],
                "callee": ["8613900000001"] * 3,
                "ingress": "radio",
            },
        ).json()
        # Calls did land on the worker not owning their caller, and were passed on.
        passed = [
            _counter(
                httpx.get(url + "/metrics", timeout=5).text, "telshield_screening_passed_on_total"
            )
            for _ in range(12)
        ]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    for c in callers:
        outcomes = [a["outcome"] for a in answers[c]]
        assert outcomes == ["allow"] * 2 + ["label"] * 3 + ["reject"] * 3, answers[c]
        assert len({str(a["id"]).split("-")[0] for a in answers[c]}) == 1  # one engine each
    assert max(passed) > 0, passed
    nodes = {c: str(answers[c][0]["id"]).split("-")[0] for c in callers}
    assert nodes[callers[0]] != nodes[callers[1]]  # each worker owns one of them
    # The batch goes on counting: these are each caller's 9th and 10th calls.
    assert batch["outcome"] == ["reject"] * 3
    assert [str(i).split("-")[0] for i in batch["id"]] == [
        nodes[callers[0]],
        nodes[callers[1]],
        nodes[callers[0]],
    ]


def test_a_dead_worker_stops_the_face_with_an_error_naming_it(tmp_path: Path) -> None:
    _publish(tmp_path / "screening" / "snapshot", [], "w-v1")
    base = random.randint(29100, 29900)
    env = {
        **os.environ,
        "TELSHIELD_DATA_DIR": str(tmp_path),
        "TELSHIELD_SCREENING__SIP_METRICS_PORT": str(base),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "telshield",
            "screen",
            "sip",
            "--workers",
            "2",
            "--port",
            str(_free_port()),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 90
        while _metrics(base) is None or _metrics(base + 1) is None:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.3)
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        workers = [
            int(c) for c in children if "spawn_main" in Path(f"/proc/{c}/cmdline").read_text()
        ]
        assert len(workers) == 2
        os.kill(workers[1], signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    text = b" ".join(out.split())  # the error as printed may wrap at the terminal's width
    assert b"exited with code -9" in text and b"every worker was" in text
    assert _metrics(base) is None  # the other worker was stopped too


def test_one_sip_process_stops_on_sigterm_with_its_log_flushed(tmp_path: Path) -> None:
    black = 8613800000002
    _publish(tmp_path / "screening" / "snapshot", [black], "w-v1")
    with _workers(tmp_path, 1) as (port, _):
        answer = _ask(port, _invite(str(black)))
    assert answer.startswith(b"SIP/2.0 608 ")
    decision = answer.split(b"X-Telshield-Decision: ", 1)[1].split(b";", 1)[0].decode()
    assert [r.id for r in read_decisions(tmp_path / "screening" / "decisions")] == [decision]
