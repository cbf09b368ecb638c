"""The serving-carrier check on every face: a mobile handed over on interconnect by a carrier
that does not serve it (its segment's carrier, or the one the number-portability database says
it moved to) is refused, with the trunk's carrier from the SIP header or trunk group, the HTTP
field, the CLI option, and the portability database from a CSV file or a published snapshot."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from telshield.cli import screen
from telshield.domain.errors import InvalidInput
from telshield.screening.engine import Engine
from telshield.screening.files import input_from_csv
from telshield.screening.http import ScreeningApp
from telshield.screening.numbering import (
    CARRIER_CODE,
    CARRIER_SHIFT,
    compiled_index,
    plan_from_tuples,
)
from telshield.screening.publish import load_current, publish
from telshield.screening.sip import RedirectServer
from telshield.screening.snapshot import Snapshot, SnapshotInput

UNICOM, PORTED, CALLEE = "8618600000001", "8618600000777", "8613900000009"  # 186: China Unicom
TELECOM = CARRIER_CODE["china_telecom"]


def _input() -> SnapshotInput:
    return SnapshotInput(ported=np.array([int(PORTED)], dtype=np.int64),
                         ported_carriers=np.array([TELECOM], dtype=np.uint8),
                         as_of=time.time(), version="carrier-test")


@pytest.fixture
def engine() -> Engine:
    e = Engine()
    e.swap(Snapshot.build(_input()))
    return e


def test_the_plan_knows_the_carrier_of_mobile_segments_only() -> None:
    plan = compiled_index()
    assert plan.carrier(UNICOM) == CARRIER_CODE["china_unicom"]
    assert plan.carrier("8613812345678") == CARRIER_CODE["china_mobile"]
    assert plan.carrier("8615312345678") == CARRIER_CODE["china_telecom"]
    assert plan.carrier("862584001234") == 0  # a Nanjing landline: no carrier in the plan
    assert plan.carrier("8695588") == 0 and plan.carrier("bad") == 0
    codes = plan.codes_of(np.array([int(UNICOM), 862584001234], dtype=np.int64))
    assert (codes >> CARRIER_SHIFT).tolist() == [CARRIER_CODE["china_unicom"], 0]
    # A snapshot written before carriers were kept (rows of four) knows no carrier.
    old = plan_from_tuples([("86186", 13, 2, 0)])
    assert old.carrier(UNICOM) == 0 and old.kind(UNICOM) == 2


def _invite(call_id: str, uri_params: str = "", extra: str = "") -> bytes:
    return (
        f"INVITE sip:{CALLEE}{uri_params}@10.0.0.1 SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK-1\r\n"
        f"From: <sip:{UNICOM}@10.0.0.9>;tag=abc\r\nTo: <sip:{CALLEE}@10.0.0.1>\r\n"
        f"Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nX-Ingress: interconnect\r\n{extra}"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def test_sip_takes_the_carrier_from_the_header_or_the_trunk_group(engine: Engine) -> None:
    server = RedirectServer(engine, trunk_carriers={"CU-NJ-01": "china_unicom",
                                                    "CT-NJ-02": "china_telecom"})

    def reply(call_id: str, uri_params: str = "", extra: str = "") -> bytes:
        out = server.handle(_invite(call_id, uri_params, extra))
        assert out is not None
        return out

    wrong = reply("c1", ";tgrp=CT-NJ-02;trunk-context=nj.example")
    assert wrong.startswith(b"SIP/2.0 608") and b'text="spoof:wrong_carrier"' in wrong
    assert reply("c2", ";tgrp=CU-NJ-01").startswith(b"SIP/2.0 302")
    assert reply("c3", ";tgrp=UNKNOWN-9").startswith(b"SIP/2.0 302")  # not known: no check
    assert reply("c4").startswith(b"SIP/2.0 302")
    assert reply("c5", extra="X-Ingress-Carrier: china_telecom\r\n").startswith(b"SIP/2.0 608")
    bad = reply("c6", extra="X-Ingress-Carrier: acme\r\n")
    assert bad.startswith(b"SIP/2.0 400") and b"unknown carrier" in bad
    # A forwarded call comes on the forwarding party's carrier's trunk: no check.
    forwarded = "Diversion: <sip:8615312345678@10.0.0.9>;reason=no-answer\r\n"
    assert reply("c7", ";tgrp=CT-NJ-02", forwarded).startswith(b"SIP/2.0 302")
    history = "History-Info: <sip:8615312345678@10.0.0.9>;index=1\r\n"
    assert reply("c8", extra=history + "X-Ingress-Carrier: china_telecom\r\n").startswith(
        b"SIP/2.0 302")


def _post(app: ScreeningApp, path: str, body: dict[str, object]) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.post(path, json=body, headers={"authorization": "Bearer t"})

    return asyncio.run(go())


def test_http_takes_the_carrier_of_one_call_and_of_a_batch(engine: Engine) -> None:
    app = ScreeningApp(engine, token="t")
    r = _post(app, "/v1/decisions", {"caller": UNICOM, "callee": CALLEE,
                                     "carrier": "china_telecom"})
    assert r.status_code == 200 and r.json()["reasons"] == ["spoof:wrong_carrier"]
    r = _post(app, "/v1/decisions/batch", {
        "caller": [UNICOM, UNICOM, PORTED, PORTED], "callee": [CALLEE] * 4,
        "carrier": ["china_unicom", None, "china_telecom", "china_unicom"]})
    assert r.status_code == 200
    assert r.json()["reasons"] == [[], [], [], ["spoof:wrong_carrier"]]
    r = _post(app, "/v1/decisions/batch", {"caller": [UNICOM], "callee": [CALLEE],
                                           "carrier": "china_unicom"})
    assert r.json()["reasons"] == [[]]
    r = _post(app, "/v1/decisions/batch", {"caller": [UNICOM, UNICOM], "callee": [CALLEE] * 2,
                                           "carrier": ["china_unicom"]})
    assert r.status_code == 400 and "trunk carriers" in r.json()["error"]
    r = _post(app, "/v1/decisions", {"caller": UNICOM, "callee": CALLEE, "carrier": "acme"})
    assert r.status_code == 400 and "unknown carrier" in r.json()["error"]


def test_the_portability_database_is_published_with_the_snapshot(tmp_path: Path) -> None:
    d = tmp_path / "snap"
    publish(_input(), d)
    back = load_current(d)
    assert back.ported.tolist() == [int(PORTED)] and back.ported_carriers.tolist() == [TELECOM]


def test_a_portability_csv_builds_into_the_snapshot(tmp_path: Path) -> None:
    f = tmp_path / "ported.csv"
    f.write_text(f"msisdn,carrier,ported_at\n{PORTED},china_telecom,2024-05-17 10:02:44\n"
                 f"{UNICOM},China_Unicom,2023-01-02 00:00:00\n", encoding="utf-8")
    data = input_from_csv(ported=f)
    snap = Snapshot.build(data)
    assert snap.ported_carrier(int(PORTED)) == TELECOM
    assert snap.ported_carrier(int(UNICOM)) == CARRIER_CODE["china_unicom"]
    assert snap.ported_carrier(8613800000000) == 0
    f.write_text(f"msisdn,carrier\n{PORTED},acme\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"ported.csv: unknown carrier \['acme'\]"):
        input_from_csv(ported=f)


def test_a_later_row_of_a_number_wins() -> None:
    data = SnapshotInput(
        ported=np.array([int(PORTED), int(UNICOM), int(PORTED)], dtype=np.int64),
        ported_carriers=np.array([TELECOM, TELECOM, CARRIER_CODE["china_mobile"]], np.uint8))
    snap = Snapshot.build(data)
    assert snap.ported.tolist() == sorted([int(PORTED), int(UNICOM)])
    assert snap.ported_carrier(int(PORTED)) == CARRIER_CODE["china_mobile"]
    assert snap.ported_many(np.array([int(PORTED), int(UNICOM), -1])).tolist() == [
        CARRIER_CODE["china_mobile"], TELECOM, 0]


def test_cli_build_takes_a_portability_file_and_decide_a_carrier(tmp_path: Path) -> None:
    data = tmp_path / "d"
    f = tmp_path / "ported.csv"
    f.write_text(f"msisdn,carrier\n{PORTED},china_telecom\n", encoding="utf-8")
    app = typer.Typer()
    screen.register(app)

    def run(*args: str) -> str:
        r = CliRunner().invoke(app, ["screen", *args, "--data-dir", str(data)],
                               env={"COLUMNS": "200"})
        assert r.exit_code == 0, r.output
        return " ".join(r.output.split())

    assert "1 ported" in run("build", "--ported", str(f), "--no-device-intel")
    assert "reject reasons=spoof:wrong_carrier" in run(
        "decide", PORTED, CALLEE, "--carrier", "china_unicom")
    assert "allow" in run("decide", PORTED, CALLEE, "--carrier", "china_telecom")
    assert "allow" in run("decide", PORTED, CALLEE)


def test_a_large_portability_database_is_probed_then_searched() -> None:
    """Past the probe's threshold, ``ported_many`` rules numbers out with the probe first: the
    same answers as one by one, for ported numbers, near misses and malformed entries."""
    rng = np.random.default_rng(7)
    numbers = rng.choice(np.arange(8613000000000, 8613000400000, dtype=np.int64), 100_000,
                         replace=False)
    carriers = rng.integers(1, 5, numbers.size).astype(np.uint8)
    snap = Snapshot.build(SnapshotInput(ported=numbers, ported_carriers=carriers))
    assert snap.ported_probe is not None
    ask = np.concatenate([numbers[:500], numbers[:500] + 400_000, np.arange(8613000000000,
                          8613000001000, dtype=np.int64), np.array([-1, 0], dtype=np.int64)])
    many = snap.ported_many(ask).tolist()
    assert many == [snap.ported_carrier(int(n)) for n in ask]
    assert many[:500] == carriers[:500].tolist() and not any(many[500:1000])


def test_the_check_can_label_first_instead_of_refusing() -> None:
    """``wrong_carrier = label``: the call is connected with the reason, so an operator can
    watch what the check would refuse before it does."""
    from telshield.screening.engine import EngineConfig
    from telshield.screening.snapshot import Outcome

    e = Engine(EngineConfig(wrong_carrier=Outcome.LABEL))
    e.swap(Snapshot.build(_input()))
    d = e.decide(UNICOM, CALLEE, "interconnect", carrier="china_telecom")
    assert (d.outcome, d.reasons) == (Outcome.LABEL, ("spoof:wrong_carrier",))
    [b] = e.decide_batch([UNICOM], [CALLEE], "interconnect", carriers="china_telecom")
    assert (b.outcome, b.reasons) == (Outcome.LABEL, ("spoof:wrong_carrier",))
