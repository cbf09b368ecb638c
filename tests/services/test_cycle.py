"""The operating cycle: a tick's steps in order, each committed on its own, idempotent, and
resumable after a failure; detection on schedule, in shadow mode before going live."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from telshield.domain.alerts import Alert, Reason, Tier
from telshield.domain.cases import Policy
from telshield.services.alerts import InMemoryAlertSink
from telshield.services.audit import AuditService
from telshield.services.cases import CaseService
from telshield.services.cycle import Cycle, CycleOptions, CycleState, StateFile
from telshield.services.devices import DeviceBarring
from telshield.services.lakeread import FeedReader
from telshield.services.liaison import Liaison
from telshield.services.lists import ListService
from telshield.services.snapshot import SnapshotService
from telshield.services.store import FixedClock
from telshield.store.sql import SqlStore

from .feeds import write_feed
from .test_snapshot import Keep

T0 = datetime(2026, 11, 3, 0)
FRAUD, CLUED, HONEST = "8613800000001", "8613800000002", "8613900000003"
IMEI = "356938035643809"


@dataclass(frozen=True)
class Run:
    scored: int
    alerts: Sequence[Alert]


@dataclass
class Scripted:
    """Detection that raises the alerts it is given for each moment (a seam's in-memory
    implementation), and fails when told to."""

    alerts: dict[datetime, list[Alert]] = field(default_factory=dict)
    fail: set[datetime] = field(default_factory=set)
    calls: list[tuple[datetime, datetime | None]] = field(default_factory=list)

    def run(self, until: datetime, *, since: datetime | None) -> Run:
        self.calls.append((until, since))
        if until in self.fail:
            self.fail.discard(until)
            raise OSError("the lake went away")
        got = self.alerts.get(until, [])
        return Run(len(got) + 10, got)


def _alert(n: str, tier: Tier, at: datetime) -> Alert:
    return Alert(n, {"watch": 0.55, "verify": 0.75, "suspend": 0.95}[tier.value], tier,
                 (Reason("rule:test", "test"),), at, at)


@dataclass
class Rig:
    cycle: Cycle
    clock: FixedClock
    lists: ListService
    cases: CaseService
    detection: Scripted
    published: Keep
    shadow: InMemoryAlertSink
    state: StateFile


def _rig(store: SqlStore, tmp_path: Path, *, every: int = 1, shadow_until: datetime | None = None,
         stop: list[str] | None = None) -> Rig:
    lake = tmp_path / "lake"
    write_feed(lake, "clues", [{
        "clue_id": "CL1", "reported_at": T0 + timedelta(minutes=30), "msisdn": CLUED,
        "case_ref": "JS-1", "fraud_type": "impersonation", "unit": "Nanjing PSB"}])
    write_feed(lake, "calls", [  # FRAUD's phone: the crew's third SIM in it (it gets barred)
        {"call_id": f"C{i}", "started_at": T0 + timedelta(minutes=10 - i), "duration_s": 20,
         "caller": sim, "callee": HONEST, "ingress": "radio", "caller_imei": IMEI}
        for i, sim in enumerate((FRAUD, "8613900000091", "8613900000092"), start=1)])
    clock = FixedClock(T0)
    lists, cases = ListService(store, clock), CaseService(store, clock, Policy())
    reader = FeedReader(lake)
    keep, shadow = Keep(), InMemoryAlertSink()
    detection = Scripted()
    state = StateFile(tmp_path / "cycle" / "state.json")
    steps = iter(stop or [])
    cycle = Cycle(
        liaison=Liaison(lists, reader), cases=cases, detection=detection,
        snapshots=SnapshotService(lists, cases, reader, keep, plan=()), state=state,
        devices=DeviceBarring(lists, cases, reader), shadow=shadow,
        options=CycleOptions(detect_every=timedelta(hours=every), shadow_until=shadow_until),
        stop=lambda: next(steps, "go") == "stop",
    )
    return Rig(cycle, clock, lists, cases, detection, keep, shadow, state)


def _tick(rig: Rig, hours: int) -> datetime:
    rig.clock.at = at = T0 + timedelta(hours=hours)
    rig.cycle.tick(at)
    return at


def test_a_tick_blocks_clues_detects_disposes_bars_devices_and_publishes(
        store: SqlStore, tmp_path: Path) -> None:
    rig = _rig(store, tmp_path)
    at = T0 + timedelta(hours=1)
    rig.detection.alerts[at] = [_alert(FRAUD, Tier.SUSPEND, at), _alert(HONEST, Tier.WATCH, at)]
    rig.clock.at = at
    r = rig.cycle.tick(at)
    assert r.complete and r.clues == 1 and r.detected and r.alerts == 2 and r.opened == 2
    assert r.acted == {"restrict": 1} and r.devices == 1
    assert list(r.seconds) == ["clues", "escalate", "detect", "devices", "publish"]
    assert rig.detection.calls == [(at, None)]  # the first run scores every active number
    data = rig.published.published[-1]
    assert r.snapshot == data.version
    assert {int(CLUED), int(FRAUD), int(HONEST)} <= set(data.list_numbers.tolist()) | set(
        data.warned.tolist())
    assert IMEI in data.barred_imeis  # the restricted number's phone
    assert rig.state.load() == CycleState(clues_until=at, detected_until=at, last_tick=at)
    assert AuditService(store).verify().ok


def test_ticks_are_idempotent_and_detection_runs_on_schedule(store: SqlStore, tmp_path: Path
                                                            ) -> None:
    rig = _rig(store, tmp_path, every=2)
    rig.state.save(CycleState(detected_until=T0))
    for h in (1, 2, 3, 4):
        _tick(rig, h)
    assert [u for u, _ in rig.detection.calls] == [T0 + timedelta(hours=2),
                                                   T0 + timedelta(hours=4)]
    assert rig.detection.calls[0][1] == T0  # incremental: numbers active since the last run
    assert len(rig.lists.find(source="police")) == 1  # the clue was blocked once
    # The same moment again (a restarted process) changes nothing in the store.
    before = rig.lists.current_version()
    rig.cycle.tick(T0 + timedelta(hours=4), detect=False)
    assert rig.lists.current_version() == before


def test_shadow_mode_keeps_alerts_aside_until_live(store: SqlStore, tmp_path: Path) -> None:
    live = T0 + timedelta(hours=2)
    rig = _rig(store, tmp_path, shadow_until=live)
    for h in (1, 2):
        at = T0 + timedelta(hours=h)
        rig.detection.alerts[at] = [_alert(FRAUD, Tier.VERIFY, at)]
    _tick(rig, 1)
    assert rig.cases.summary()["cases"] == {} and len(rig.shadow.open_alerts()) == 1
    _tick(rig, 2)
    assert sum(rig.cases.summary()["cases"].values()) == 1


def test_a_failed_tick_is_done_again_by_the_next(store: SqlStore, tmp_path: Path) -> None:
    rig = _rig(store, tmp_path)
    one, two = T0 + timedelta(hours=1), T0 + timedelta(hours=2)
    rig.detection.alerts[one] = [_alert(FRAUD, Tier.SUSPEND, one)]
    rig.detection.fail.add(one)
    rig.clock.at = one
    with pytest.raises(OSError):
        rig.cycle.tick(one)
    # The clue step had committed; detection had not: its state did not move.
    assert rig.state.load() == CycleState(clues_until=one)
    assert rig.cases.summary()["cases"] == {}
    rig.detection.alerts[two] = rig.detection.alerts.pop(one)
    rig.clock.at = two
    r = rig.cycle.tick(two)
    assert r.complete and r.opened == 1 and r.clues == 0
    assert rig.detection.calls[-1] == (two, None)  # nothing was lost: all numbers rescored
    assert AuditService(store).verify().ok


def test_a_stop_request_ends_the_tick_between_steps(store: SqlStore, tmp_path: Path) -> None:
    rig = _rig(store, tmp_path, stop=["go", "go", "stop"])
    rig.clock.at = at = T0 + timedelta(hours=1)
    r = rig.cycle.tick(at)
    assert r.stopped and list(r.seconds) == ["clues", "escalate"]
    assert rig.detection.calls == [] and rig.published.published == []
    assert rig.state.load().last_tick is None and rig.state.load().clues_until == at


def _finds(store: SqlStore) -> tuple[int, int, list[tuple[str, str]]]:
    """Dens and gangs stored, and the den and gang audit events (action, actor)."""
    with store.transaction(write=False) as tx:
        events = [e.event for e in tx.audit.read()]
        return len(tx.dens.find()), len(tx.gangs.find()), [
            (e.action, e.actor) for e in events if e.action.split(".")[0] in ("den", "gang")]


def test_the_den_and_gang_steps_record_once_per_moment_and_dispose_of_nothing(
        store: SqlStore, tmp_path: Path) -> None:
    from tests.services import denlake, ganglake

    from telshield.settings import DenSettings, GangSettings, Settings
    from telshield.wiring.cycle import den_finder, gang_finder
    from telshield.wiring.disposal import disposal

    den = denlake.write(tmp_path / "dens")
    ganglake.write(tmp_path / "gangs")
    rig = _rig(store, tmp_path)
    s = Settings(data_dir=tmp_path / "data", dens=DenSettings(in_cycle=True, lookback_hours=120),
                 gangs=GangSettings(in_cycle=True))
    d = disposal(s, store=store, clock=rig.clock, lake=tmp_path / "lake")
    rig.cycle.dens = den_finder(s, d, tmp_path / "dens")
    rig.cycle.gangs = gang_finder(s, d, tmp_path / "gangs")
    at = denlake.T0 + timedelta(days=denlake.DAYS)  # the den's four days; the gangs' cards
    rig.clock.at = at
    r = rig.cycle.tick(at, detect=False)
    assert r.complete and list(r.seconds)[-2:] == ["dens", "gangs"]
    assert (r.dens, r.dens_updated, r.gangs, r.gangs_updated) == (1, 0, 2, 0)
    assert (rig.cycle.state.load().dens_until, rig.cycle.state.load().gangs_until) == (at, at)
    found = [("den.found", "cycle")] + [("gang.found", "cycle")] * 2
    assert _finds(store) == (1, 2, found)
    with store.transaction(write=False) as tx:
        assert set(tx.dens.get(int(tx.dens.find()[0].id or 0)).msisdns) == set(den.den)
    assert rig.cases.summary()["cases"] == {}  # recorded for an analyst, never disposed
    # The same moment again (a restarted process): the finders are not due, nothing is added.
    r = rig.cycle.tick(at, detect=False)
    assert (r.dens, r.dens_updated, r.gangs, r.gangs_updated) == (0, 0, 0, 0)
    assert _finds(store) == (1, 2, found)
    # A tick that died after the finds committed but before their state was saved: the finds
    # run again at the same moment and update the same records in place.
    rig.cycle.state.save(replace(rig.cycle.state.load(), dens_until=None, gangs_until=None))
    r = rig.cycle.tick(at, detect=False)
    assert (r.dens, r.dens_updated, r.gangs, r.gangs_updated) == (0, 1, 0, 2)
    assert _finds(store)[:2] == (1, 2)
    # Each on its own cadence: dens every 6 h, gangs every day (the defaults).
    for hours, want in ((1, (0, 0, 0, 0)), (6, (0, 1, 0, 0)), (24, (0, 1, 0, 2))):
        rig.clock.at = later = at + timedelta(hours=hours)
        r = rig.cycle.tick(later, detect=False)
        assert (r.dens, r.dens_updated, r.gangs, r.gangs_updated) == want, hours
    assert _finds(store)[:2] == (1, 2) and rig.cases.summary()["cases"] == {}
    assert AuditService(store).verify().ok


def test_the_den_and_gang_steps_follow_their_settings_and_stay_out_of_the_replay(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.services import denlake

    from telshield.evaluate.replay_run import ReplayOptions, replay_settings
    from telshield.services import cycle as cycle_module
    from telshield.settings import DenSettings, GangSettings, Settings
    from telshield.wiring.cycle import platform

    root = tmp_path / "lake"
    denlake.write(root)
    ticks: list[dict[str, object]] = []

    class Log:
        def info(self, event: str, **kw: object) -> None:
            if event == "cycle.tick":
                ticks.append(kw)

    monkeypatch.setattr(cycle_module, "log", Log())
    off = platform(Settings(data_dir=tmp_path / "off"), lake=root)
    assert off.cycle.dens is None and off.cycle.gangs is None
    on = Settings(data_dir=tmp_path / "on", allow_placeholder_secret=True,
                  dens=DenSettings(in_cycle=True, every="2h", lookback_hours=120),
                  gangs=GangSettings(in_cycle=True, every="3d"))
    clock = FixedClock(denlake.T0)
    p = platform(on, clock=clock, lake=root)
    assert (p.cycle.options.dens_every, p.cycle.options.gangs_every) == (
        timedelta(hours=2), timedelta(days=3))
    clock.at = at = denlake.T0 + timedelta(days=denlake.DAYS)
    r = p.cycle.tick(at, detect=False)
    assert r.complete and (r.dens, r.gangs) == (1, 0)  # the den lake's cards are no gang
    assert {k: ticks[-1][k] for k in ("dens", "dens_updated", "gangs", "gangs_updated")} == {
        "dens": 1, "dens_updated": 0, "gangs": 0, "gangs_updated": 0}
    # The replay's cycle runs neither, whatever the settings say.
    rs = replay_settings(on, tmp_path / "replay", ReplayOptions())
    assert not rs.dens.in_cycle and not rs.gangs.in_cycle and rs.dens.every == "2h"
    q = platform(rs, clock=clock, lake=root)
    assert q.cycle.dens is None and q.cycle.gangs is None
