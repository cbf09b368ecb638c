"""Location updates between snapshots: a subscriber who has just landed abroad may call home
over the international gateway before the next snapshot knows (screening.roaming)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from telshield.cli import screen
from telshield.domain.errors import InvalidInput
from telshield.screening.engine import Engine, EngineConfig
from telshield.screening.follow import SnapshotFollower
from telshield.screening.http import ScreeningApp
from telshield.screening.publish import publish
from telshield.screening.roaming import FOLDER, HOUR, KEEP_S, LiveRoaming, LocationJournal, Updates
from telshield.screening.snapshot import Snapshot, SnapshotInput

AS_OF = 1_790_000_000.0  # the snapshot's data time (epoch seconds)
TRAVELLER = "8613812340001"  # ours; lands abroad after the snapshot was built
ABROAD = "8613812340002"  # ours; abroad in the snapshot, comes home after it
HOME = "8613812340003"  # ours; never leaves
CALLEE = "8613900000009"
SPOOF = ("spoof:domestic_via_international",)


def _input(as_of: float = AS_OF, roaming: tuple[str, ...] = (ABROAD,),
           version: str = "roam-1") -> SnapshotInput:
    return SnapshotInput(roaming=np.array([int(n) for n in roaming], dtype=np.int64),
                         as_of=as_of, version=version)


def _engine(as_of: float = AS_OF) -> Engine:
    e = Engine(EngineConfig(max_age_s=10 * HOUR), clock=lambda: as_of + 600)
    e.swap(Snapshot.build(_input(as_of)))
    return e


def _home_call(e: Engine, caller: str, at: float) -> tuple[str, ...]:
    """Reasons of a call from ``caller`` over the international gateway, one by one and in a
    batch (which must agree)."""
    one = e.decide(caller, CALLEE, "international", at).reasons
    many = e.decide_batch([caller, HOME], [CALLEE] * 2, "international", at)
    assert many[0].reasons == one
    assert many[1].reasons == SPOOF  # a subscriber at home calling from abroad is a spoof
    return one


def test_an_attach_after_the_snapshot_lets_the_traveller_call_home() -> None:
    e = _engine()
    assert _home_call(e, TRAVELLER, AS_OF + 120) == SPOOF  # the snapshot does not know yet
    taken = e.location_updates(Updates.of([TRAVELLER], ["attach"], [AS_OF + 60]))
    assert taken == 1
    assert _home_call(e, TRAVELLER, AS_OF + 120) == ()
    assert _home_call(e, ABROAD, AS_OF + 120) == ()  # the snapshot's roamer, unchanged


def test_a_detach_after_the_snapshot_ends_the_snapshots_roaming() -> None:
    e = _engine()
    assert _home_call(e, ABROAD, AS_OF + 120) == ()
    e.location_updates(Updates.of([ABROAD], ["detach"], [AS_OF + 60]))
    assert _home_call(e, ABROAD, AS_OF + 120) == SPOOF


def test_the_latest_update_wins_and_old_ones_are_in_the_snapshot_already() -> None:
    e = _engine()
    # Out of order in one delivery: the later attach wins over the earlier detach.
    e.location_updates(Updates.of([TRAVELLER, TRAVELLER], ["attach", "detach"],
                                  [AS_OF + 90, AS_OF + 30]))
    assert _home_call(e, TRAVELLER, AS_OF + 120) == ()
    # A stale update arriving late changes nothing.
    assert e.location_updates(Updates.of([TRAVELLER], ["detach"], [AS_OF + 50])) == 0
    # One older than the snapshot is in it already (the snapshot says who is abroad at as_of).
    assert e.location_updates(Updates.of([ABROAD], ["detach"], [AS_OF - 10])) == 0
    assert _home_call(e, ABROAD, AS_OF + 120) == ()
    assert len(e.roaming) == 1


def test_a_newer_snapshot_takes_over_what_it_reflects() -> None:
    e = _engine()
    e.location_updates(Updates.of([TRAVELLER, ABROAD], ["attach", "detach"],
                                  [AS_OF + 60, AS_OF + 4000]))
    assert len(e.roaming) == 2
    # The next snapshot (built at as_of + 1 h) has the traveller abroad, and ABROAD still
    # abroad: it was built before ABROAD came home, so that update stays live.
    e.swap(Snapshot.build(_input(AS_OF + HOUR, (TRAVELLER, ABROAD), "roam-2")))
    assert len(e.roaming) == 1
    assert _home_call(e, TRAVELLER, AS_OF + 4100) == ()
    assert _home_call(e, ABROAD, AS_OF + 4100) == SPOOF
    e.swap(Snapshot.build(_input(AS_OF + 2 * HOUR, (TRAVELLER,), "roam-3")))
    assert len(e.roaming) == 0
    assert _home_call(e, ABROAD, AS_OF + 7300) == SPOOF


def test_live_roaming_columns_follow_each_change() -> None:
    live = LiveRoaming()
    nums = np.array([int(TRAVELLER), int(ABROAD), int(HOME)], dtype=np.int64)
    base = np.array([False, True, False])
    assert live.abroad_many(nums, base) is base  # nothing live: the snapshot's answer
    live.apply(Updates.of([TRAVELLER], ["attach"], [AS_OF + 1]))
    assert live.abroad_many(nums, base).tolist() == [True, True, False]
    live.apply(Updates.of([TRAVELLER, ABROAD], ["detach", "detach"], [AS_OF + 2, AS_OF + 2]))
    assert live.abroad_many(nums, base).tolist() == [False, False, False]
    assert base.tolist() == [False, True, False]  # the snapshot's column is not changed


@pytest.mark.parametrize(("msisdn", "event", "at", "field"), [
    ("08613812340001", "attach", AS_OF, "msisdn"),
    ("+8613812340001", "attach", AS_OF, "msisdn"),
    (TRAVELLER, "landed", AS_OF, "event"),
    (TRAVELLER, "attach", float("nan"), "at"),
])
def test_a_bad_update_names_its_row_and_field(msisdn: str, event: str, at: float,
                                              field: str) -> None:
    with pytest.raises(InvalidInput, match=rf"update 2: {field}"):
        Updates.of([HOME, msisdn], ["attach", event], [AS_OF, at])


def test_the_journal_is_read_incrementally_by_each_reader(tmp_path: Path) -> None:
    writer, reader = LocationJournal(tmp_path), LocationJournal(tmp_path)
    assert len(reader.read_new()) == 0  # no folder yet
    writer.append(Updates.of([TRAVELLER, ABROAD], ["attach", "detach"],
                             [AS_OF + 10, AS_OF + HOUR + 10]))
    got = reader.read_new()
    assert got.numbers.tolist() == [int(TRAVELLER), int(ABROAD)]
    assert got.abroad.tolist() == [True, False]
    assert got.at.tolist() == [AS_OF + 10, AS_OF + HOUR + 10]
    assert len(reader.read_new()) == 0  # read once
    # A line still being written (no newline yet) waits; a garbled line is counted, skipped.
    hour = tmp_path / FOLDER / f"{int((AS_OF + 10) // HOUR)}.csv"
    with hour.open("a") as f:
        f.write(f"{AS_OF + 20:.3f},{HOME},attach\nnot,a,line\n{AS_OF + 30:.3f},{HOME},det")
    got = reader.read_new()
    assert got.numbers.tolist() == [int(HOME)] and reader.bad_lines == 1
    with hour.open("a") as f:
        f.write("ach\n")
    got = reader.read_new()
    assert got.numbers.tolist() == [int(HOME)] and got.abroad.tolist() == [False]
    # Hours before a reader's horizon are not read at all.
    late = LocationJournal(tmp_path)
    assert late.read_new(since=AS_OF + HOUR).numbers.tolist() == [int(ABROAD)]


def test_the_publisher_prunes_old_hours(tmp_path: Path) -> None:
    j = LocationJournal(tmp_path)
    j.append(Updates.of([TRAVELLER, ABROAD], ["attach", "attach"],
                        [AS_OF - KEEP_S - 2 * HOUR, AS_OF - 10]))
    assert len(list((tmp_path / FOLDER).glob("*.csv"))) == 2
    assert j.prune(AS_OF) == 1
    assert LocationJournal(tmp_path).read_new().numbers.tolist() == [int(ABROAD)]


def test_the_follower_applies_journaled_updates_between_snapshots(tmp_path: Path) -> None:
    publish(_input(), tmp_path)
    e = Engine(EngineConfig(max_age_s=10 * HOUR), clock=lambda: AS_OF + 600)
    follower = SnapshotFollower(e, tmp_path, every_s=30.0, updates_every_s=1.0)
    assert follower.check() and follower.updates_every_s == 1.0
    assert _home_call(e, TRAVELLER, AS_OF + 120) == SPOOF
    LocationJournal(tmp_path).append(Updates.of([TRAVELLER], ["attach"], [AS_OF + 60]))
    assert follower.follow_updates() == 1 and follower.location_updates == 1
    assert _home_call(e, TRAVELLER, AS_OF + 120) == ()
    # The next published snapshot reflects the attach: the live entry goes, the answer stays.
    publish(_input(AS_OF + HOUR, (ABROAD, TRAVELLER), "roam-2"), tmp_path)
    assert follower.check()
    assert len(e.roaming) == 0
    assert _home_call(e, TRAVELLER, AS_OF + HOUR + 60) == ()


def _post(app: ScreeningApp, path: str, body: dict[str, Any]) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.post(path, json=body, headers={"Authorization": "Bearer s3"})

    return asyncio.run(go())


def test_the_http_face_takes_and_journals_updates(tmp_path: Path) -> None:
    now = time.time()
    publish(_input(now - 60), tmp_path)
    e = Engine(EngineConfig())
    follower = SnapshotFollower(e, tmp_path, every_s=30.0)
    follower.check()
    app = ScreeningApp(e, token="s3", follower=follower)
    call = {"caller": TRAVELLER, "callee": CALLEE, "ingress": "international"}
    assert _post(app, "/v1/decisions", call).json()["reasons"] == list(SPOOF)
    r = _post(app, "/v1/location-updates", {"msisdn": [TRAVELLER], "event": ["attach"]})
    assert r.status_code == 202, r.text
    assert r.json() == {"received": 1, "taken": 1, "journaled": True}
    assert _post(app, "/v1/decisions", call).json()["reasons"] == []
    # Another worker following the same folder reads it from the journal.
    other = Engine(EngineConfig())
    SnapshotFollower(other, tmp_path, every_s=30.0).check()
    assert other.decide(TRAVELLER, CALLEE, "international").reasons == ()
    bad = _post(app, "/v1/location-updates", {"msisdn": ["13812340001x"], "event": ["attach"]})
    assert bad.status_code == 400 and "msisdn '13812340001x'" in bad.json()["error"]
    unauthorised = asyncio.run(_anonymous(app))
    assert unauthorised.status_code == 401


async def _anonymous(app: ScreeningApp) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.post("/v1/location-updates",
                                 json={"msisdn": [TRAVELLER], "event": ["attach"]})


def _cli(*args: str, data: Path) -> Any:
    app = typer.Typer()
    screen.register(app)
    return CliRunner().invoke(app, ["screen", *args, "--data-dir", str(data)],
                              env={"COLUMNS": "200"})


def test_the_cli_journals_a_roaming_feed_file(tmp_path: Path) -> None:
    data = tmp_path / "d"
    assert _cli("build", "--no-device-intel", data=data).exit_code == 0
    decide = ("decide", TRAVELLER, CALLEE, "--ingress", "international")
    assert "spoof:domestic_via_international" in _cli(*decide, data=data).output
    updates = tmp_path / "roaming.csv"
    # A second after the snapshot was built (feed time: China Standard Time).
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(time.time() + 2 + 8 * HOUR))
    updates.write_text("msisdn,at,visited_country,visited_network,event\n"
                       f"{TRAVELLER},{stamp},TH,52001,attach\n")
    r = _cli("location-updates", str(updates), data=data)
    assert r.exit_code == 0, r.output
    assert "journaled 1 location update" in r.output
    assert "allow  reasons=-" in _cli(*decide, data=data).output
    bad = tmp_path / "bad.csv"
    bad.write_text(f"msisdn,at,event\n{TRAVELLER},{stamp},attach\n{HOME},yesterday,attach\n")
    r = _cli("location-updates", str(bad), data=data)
    assert r.exit_code != 0
    assert isinstance(r.exception, InvalidInput)
    assert "line 3, field at" in str(r.exception)
