"""`telshield run` end to end, as an operator runs it: a province's first days dropped into the
watched folder, the cycle ticking on a simulated clock, `telshield screen sip` serving beside it.
After the tick that restricts a fraud number, sipp gets 608 for that number's next INVITE with
no restart of the SIP face; a SIGKILL mid-tick leaves the store consistent and the audit chain
valid, and the next tick completes."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from telshield.world.config import load_config
from telshield.world.generate import generate

FEEDS = ("cells", "subscribers", "orders", "device_intel", "sanctions", "calls", "sms", "clues")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("sipp") is None and not os.environ.get("CI"),
                       reason="sipp (Debian sip-tester) not installed; .ci/run installs it, "
                       "and in CI this runs"),
]


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _telshield(*args: str) -> list[str]:
    return [sys.executable, "-m", "telshield", *args]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = dict(os.environ)
    e.update({
        "TELSHIELD_DATA_DIR": str(tmp_path / "data"),
        # The simulated province lives in November 2026: its snapshots are "old" by the wall
        # clock, which must not make the face fail open here.
        "TELSHIELD_SCREENING__MAX_AGE_S": str(10 * 365 * 86400.0),
        "TELSHIELD_SCREENING__RELOAD_S": "0.2",
        "TELSHIELD_SCREENING__SIP_METRICS_PORT": "0",
        "TELSHIELD_CYCLE__METRICS_PORT": "0",
        "TELSHIELD_CYCLE__SETTLE_SECONDS": "0",
    })
    return e


@pytest.fixture
def sip(env: dict[str, str], tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = _free_udp_port()
    proc = subprocess.Popen(_telshield("screen", "sip", "--port", str(port)), env=env,
                            stdout=subprocess.DEVNULL, stderr=(tmp_path / "sip.log").open("wb"))
    time.sleep(3)  # import and bind
    assert proc.poll() is None, (tmp_path / "sip.log").read_text()
    yield proc, port
    proc.terminate()
    proc.wait(10)


def _sipp(port: int, callers: list[str], tmp_path: Path, tag: str) -> dict[str, int]:
    """One INVITE from each caller over a real SIP client; the response code each one got."""
    inf = tmp_path / f"{tag}.csv"
    inf.write_text("SEQUENTIAL\n" + "".join(f"{c};8613900000099;radio;\n" for c in callers))
    trace = tmp_path / f"{tag}.msgs"
    scenario = resources.files("telshield.screening") / "sipp" / "uac.xml"
    proc = subprocess.run(
        ["sipp", f"127.0.0.1:{port}", "-sf", str(scenario), "-inf", str(inf),
         "-m", str(len(callers)), "-r", "50", "-p", str(_free_udp_port()), "-i", "127.0.0.1",
         "-timeout", "30s", "-timeout_error", "-nostdin", "-trace_msg", "-message_file",
         str(trace)], capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    got: dict[str, int] = {}
    for block in trace.read_text().split("----------------------------------------------"):
        if "SIP/2.0 302" in block or "SIP/2.0 608" in block:
            caller = block.split("From: <sip:", 1)[1].split("@", 1)[0]
            got[caller] = 608 if "SIP/2.0 608" in block else 302
    return got


def _run(env: dict[str, str], drop: Path, start: str, ticks: int, every: str = "12h",
         init: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _telshield("run", "--watch", str(drop), "--start", start, "--every", every,
                   "--ticks", str(ticks), *(["--init"] if init else [])),
        env=env, capture_output=True, text=True, timeout=600, check=False)


def test_run_feeds_the_sip_face_and_survives_sigkill(
        env: dict[str, str], sip: tuple[subprocess.Popen[bytes], int], tmp_path: Path) -> None:
    world = tmp_path / "world"
    generate(load_config(None, subscribers=2000, days=3, start="2026-11-01 00:00:00"), 3, world)
    drop = tmp_path / "drop"
    for feed in FEEDS:
        shutil.copytree(world / feed, drop / feed)
    roles = pq.read_table(world / "truth" / "numbers.parquet").to_pandas()
    fraud = sorted(roles.loc[roles["first_fraud_call_at"].notna(), "msisdn"].astype(str))
    assert fraud
    proc, port = sip
    # No snapshot yet: the face fails open, every fraud number is routed on.
    assert set(_sipp(port, fraud, tmp_path, "before").values()) == {302}

    first = _run(env, drop, "2026-11-01 12:00", ticks=4, init=True)  # to 2026-11-03 00:00
    assert first.returncode == 0, first.stdout + first.stderr
    left = [p for f in FEEDS for p in (drop / f).glob("*.parquet")]
    assert left == []  # all ingested and moved out of the way

    # The next tick, killed with SIGKILL once it is past the police clues.
    env_info = dict(env, TELSHIELD_LOG_LEVEL="info")
    killed = subprocess.Popen(
        _telshield("run", "--watch", str(drop), "--start", "2026-11-03 12:00", "--ticks", "1"),
        env=env_info, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert killed.stderr is not None
    for line in killed.stderr:
        if "liaison.clues" in line or "cases.escalated" in line:
            killed.send_signal(signal.SIGKILL)
            break
    killed.wait(60)
    assert killed.returncode == -signal.SIGKILL
    db = tmp_path / "data" / "telshield.db"
    with sqlite3.connect(db) as c:
        assert c.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    verify = subprocess.run(_telshield("audit", "verify"), env=env, capture_output=True,
                            text=True, timeout=120, check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr

    again = _run(env, drop, "2026-11-03 12:00", ticks=1)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "snapshot 20261103T120000" in " ".join(again.stdout.split())
    with sqlite3.connect(db) as c:
        restricted = {r[0] for r in c.execute(
            "SELECT msisdn FROM cases WHERE status IN ('restricted', 'suspended')")}
    barred = sorted(restricted & set(fraud))
    assert barred, "the tick restricted no fraud number"

    # The face follows the published snapshot by itself: the same process now rejects.
    deadline = time.monotonic() + 30
    while True:
        got = _sipp(port, barred, tmp_path, "after")
        if set(got.values()) == {608} or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert got == dict.fromkeys(barred, 608)
    assert proc.poll() is None  # never restarted
