"""The operating cycle: a tick's steps in order, each committed on its own, idempotent, and
resumable after a failure; detection on schedule, in shadow mode before going live."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
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
