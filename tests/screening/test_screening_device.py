"""The device-class rule: calls from GOIP / SIM-bank IMEI TACs are rejected, after the police
block and the whitelist and before the blacklist, in the single and batch paths and on the
HTTP, SIP and CLI faces."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from telshield.cli import screen
from telshield.domain.errors import InvalidInput
from telshield.screening.engine import Engine
from telshield.screening.files import barred_tacs_from_parquet
from telshield.screening.http import ScreeningApp
from telshield.screening.publish import load_current, publish
from telshield.screening.sip import RedirectServer
from telshield.screening.snapshot import (
    BLACK,
    POLICE,
    SUSPEND,
    WHITE,
    Outcome,
    Snapshot,
    SnapshotInput,
    imei_tacs,
)

GOIP_TAC, SIMBANK_TAC, PHONE_TAC = "86123400", "35999901", "86000001"
GOIP = GOIP_TAC + "123456"  # 14 digits
GOIP_15 = GOIP_TAC + "1234567"
SIMBANK = SIMBANK_TAC + "654321"
PHONE = PHONE_TAC + "111111"
WHITE_N, BLACK_N, POLICE_N, SUSPEND_N = (
    "8613800000001", "8613800000002", "8613800000003", "8613800000005"
)
PLAIN, CALLEE = "8618600000001", "8613900000009"


def _input() -> SnapshotInput:
    return SnapshotInput(
        list_numbers=np.array([int(WHITE_N), int(BLACK_N), int(POLICE_N)], dtype=np.int64),
        list_flags=np.array([WHITE, BLACK, POLICE], dtype=np.uint8),
        warned=np.array([int(SUSPEND_N)], dtype=np.int64),
        warned_tiers=np.array([SUSPEND], dtype=np.uint8),
        barred_tacs=((GOIP_TAC, "goip"), (SIMBANK_TAC, "simbank")),
        as_of=time.time(), version="device-test",
    )


@pytest.fixture
def engine() -> Engine:
    e = Engine()
    e.swap(Snapshot.build(_input()))
    return e


@pytest.mark.parametrize(
    ("caller", "imei", "ingress", "outcome", "reasons"),
    [
        (PLAIN, GOIP, "radio", Outcome.REJECT, ("device:goip",)),
        (PLAIN, GOIP_15, "radio", Outcome.REJECT, ("device:goip",)),  # IMEI with check digit
        (PLAIN, SIMBANK, "radio", Outcome.REJECT, ("device:simbank",)),
        (PLAIN, PHONE, "radio", Outcome.ALLOW, ()),  # a TAC not barred
        (PLAIN, None, "radio", Outcome.ALLOW, ()),  # no IMEI: the rule does not apply
        (PLAIN, "", "radio", Outcome.ALLOW, ()),
        (PLAIN, "8612340012", "radio", Outcome.ALLOW, ()),  # too short to be an IMEI
        (PLAIN, "86123400abcdef", "radio", Outcome.ALLOW, ()),  # not digits
        (WHITE_N, GOIP, "radio", Outcome.ALLOW, ("list:white",)),  # an approved gateway
        (POLICE_N, GOIP, "radio", Outcome.REJECT, ("list:police",)),  # police order first
        (BLACK_N, GOIP, "radio", Outcome.REJECT, ("device:goip",)),  # before the blacklist
        (BLACK_N, PHONE, "radio", Outcome.REJECT, ("list:black",)),
        (SUSPEND_N, GOIP, "radio", Outcome.REJECT, ("device:goip",)),  # before warnings
        ("8614012345678", GOIP, "radio", Outcome.REJECT, ("device:goip",)),  # before spoof
        ("86-138", GOIP, "radio", Outcome.REJECT, ("spoof:malformed",)),
        ("8613812345678", GOIP, "interconnect", Outcome.REJECT, ("device:goip",)),
    ],
)
def test_device_rule(
    engine: Engine, caller: str, imei: str | None, ingress: str, outcome: Outcome,
    reasons: tuple[str, ...],
) -> None:
    d = engine.decide(caller, CALLEE, ingress, caller_imei=imei)
    assert (d.outcome, d.reasons) == (outcome, reasons)
    [b] = engine.decide_batch([caller], [CALLEE], [ingress], caller_imeis=[imei])
    assert (b.outcome, b.reasons) == (outcome, reasons)


def test_batch_mixes_known_and_unknown_imeis(engine: Engine) -> None:
    callers = [PLAIN, PLAIN, PLAIN, WHITE_N, BLACK_N]
    imeis = [GOIP, None, SIMBANK, GOIP, None]
    ds = engine.decide_batch(callers, [CALLEE] * 5, "radio", caller_imeis=imeis)
    assert [d.reasons for d in ds] == [("device:goip",), (), ("device:simbank",),
                                       ("list:white",), ("list:black",)]
    assert engine.reasons["device:goip"] == 1
    with pytest.raises(InvalidInput, match="IMEI"):
        engine.decide_batch(callers, [CALLEE] * 5, "radio", caller_imeis=imeis[:2])
    # Without IMEIs the batch decides as before.
    ds = engine.decide_batch(callers, [CALLEE] * 5, "radio")
    assert [d.outcome for d in ds].count(Outcome.REJECT) == 1


CALLERS = [WHITE_N, BLACK_N, POLICE_N, SUSPEND_N, PLAIN, "8613812345678", "bad"]
IMEIS = [GOIP, GOIP_15, SIMBANK, PHONE, None, "", "123"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(CALLERS), st.sampled_from(IMEIS),
                          st.sampled_from(["radio", "interconnect", "international"])),
                min_size=1, max_size=60))
def test_batch_equals_one_by_one_with_imeis(calls: list[tuple[str, str | None, str]]) -> None:
    snap = Snapshot.build(_input())
    one, many = Engine(), Engine()
    one.swap(snap)
    many.swap(snap)
    singles = [one.decide(c, CALLEE, i, caller_imei=m) for c, m, i in calls]
    batch = many.decide_batch([c[0] for c in calls], [CALLEE] * len(calls),
                              [c[2] for c in calls], caller_imeis=[c[1] for c in calls])
    assert [(d.outcome, d.reasons) for d in singles] == [(d.outcome, d.reasons) for d in batch]


def test_snapshot_tacs_are_sorted_unique_and_checked() -> None:
    snap = Snapshot.build(SnapshotInput(barred_tacs=(
        ("99999999", "simbank"), ("11111111", "goip"), ("11111111", "goip"), ("123", "goip"),
    )))
    assert snap.tacs.tolist() == [11111111, 99999999]  # a malformed TAC is left out
    assert snap.tac_reasons == ("device:goip", "device:simbank")
    assert snap.tac_codes(imei_tacs(["11111111000000", "99999999000000", None, "1"])).tolist() \
        == [0, 1, -1, -1]
    assert Snapshot.build(SnapshotInput()).tac_reason(11111111) == ""


def test_tacs_survive_the_snapshot_files(tmp_path: Path) -> None:
    publish(_input(), tmp_path / "snap")
    again = load_current(tmp_path / "snap")
    assert again.barred_tacs == _input().barred_tacs


def _intel(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({
        "tac": [GOIP_TAC, SIMBANK_TAC, PHONE_TAC, "86777700"],
        "kind": ["goip", "simbank", "phone", "modem"],
        "vendor": [None, None, None, None], "model": [None, None, None, None],
    }), path)


def test_barred_tacs_come_from_device_intel_goip_and_simbank_only(tmp_path: Path) -> None:
    _intel(tmp_path / "device_intel" / "part-0.parquet")
    files = sorted((tmp_path / "device_intel").glob("*.parquet"))
    assert barred_tacs_from_parquet(files) == ((SIMBANK_TAC, "simbank"), (GOIP_TAC, "goip"))


def test_cli_build_takes_tacs_from_the_lake_and_decide_takes_an_imei(tmp_path: Path) -> None:
    data = tmp_path / "d"
    _intel(data / "lake" / "device_intel" / "part-0.parquet")
    app = typer.Typer()
    screen.register(app)

    def run(*args: str) -> str:
        r = CliRunner().invoke(app, ["screen", *args, "--data-dir", str(data)],
                               env={"COLUMNS": "200"})
        assert r.exit_code == 0, r.output
        return " ".join(r.output.split())  # Rich may wrap long lines anywhere

    assert "2 barred device TACs" in run("build")
    assert "reject reasons=device:goip" in run(
        "decide", PLAIN, CALLEE, "--ingress", "radio", "--caller-imei", GOIP)
    assert "allow" in run("decide", PLAIN, CALLEE, "--ingress", "radio")
    assert "0 barred device TACs" in run("build", "--no-device-intel")


def _post(app: ScreeningApp, path: str, body: dict[str, object]) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.post(path, json=body, headers={"authorization": "Bearer t"})

    return asyncio.run(go())


def test_http_accepts_caller_imei(engine: Engine) -> None:
    app = ScreeningApp(engine, token="t")
    r = _post(app, "/v1/decisions", {"caller": PLAIN, "callee": CALLEE, "ingress": "radio",
                                     "caller_imei": GOIP})
    assert r.status_code == 200 and r.json()["reasons"] == ["device:goip"]
    r = _post(app, "/v1/decisions", {"caller": PLAIN, "callee": CALLEE, "ingress": "radio"})
    assert r.json()["outcome"] == "allow"
    r = _post(app, "/v1/decisions/batch", {"caller": [PLAIN, PLAIN], "callee": [CALLEE] * 2,
                                           "ingress": "radio", "caller_imei": [None, SIMBANK]})
    assert r.json()["reasons"] == [[], ["device:simbank"]]
    r = _post(app, "/v1/decisions/batch", {"caller": [PLAIN, PLAIN], "callee": [CALLEE] * 2,
                                           "caller_imei": [GOIP]})
    assert r.status_code == 400 and "IMEI" in r.json()["error"]


def test_sip_reads_the_p_device_imei_header(engine: Engine) -> None:
    server = RedirectServer(engine)

    def invite(call_id: str, extra: str = "") -> bytes:
        return (
            f"INVITE sip:{CALLEE}@10.0.0.1 SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK-1\r\n"
            f"From: <sip:{PLAIN}@10.0.0.9>;tag=abc\r\nTo: <sip:{CALLEE}@10.0.0.1>\r\n"
            f"Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nX-Ingress: radio\r\n{extra}"
            "Content-Length: 0\r\n\r\n"
        ).encode()

    reject = server.handle(invite("c1", f"P-Device-IMEI: {GOIP}\r\n"))
    assert reject is not None and reject.startswith(b"SIP/2.0 608")
    assert b'text="device:goip"' in reject
    ok = server.handle(invite("c2"))
    assert ok is not None and ok.startswith(b"SIP/2.0 302")
