"""Gang finding on a hand-built lake, on SQLite and PostgreSQL: both gangs are found with exactly
their cards and evidence, the honest look-alikes (a family's address, an office's NAT, a busy
staff ID, a walk-in customer on a gang's busy day, people with two cards) are not; finding again
updates the same gangs; a gang's cards are disposed of in one action."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.services.ganglake import Lake, write

from telshield.domain.cases import ActionKind, CaseStatus
from telshield.domain.errors import NotFound, Unavailable
from telshield.domain.gangs import LinkKind, gang_ref
from telshield.services.store import FixedClock
from telshield.settings import Settings
from telshield.store.sql import SqlStore
from telshield.wiring.gangs import gangs


@pytest.fixture
def lake(tmp_path: Path) -> tuple[Path, Lake]:
    root = tmp_path / "lake"
    return root, write(root)


def test_two_gangs_found_and_lookalikes_not(store: SqlStore, clock: FixedClock,
                                           lake: tuple[Path, Lake], tmp_path: Path) -> None:
    root, lk = lake
    svc = gangs(Settings(data_dir=tmp_path), store, clock=clock, lake=root)
    r = svc.find(actor="ann")
    assert (r.new, r.updated) == (2, 0)
    found = {frozenset(svc.get(int(g.id or 0)).msisdns) for g in r.gangs}
    assert found == {frozenset(lk.gang_a), frozenset(lk.gang_b)}
    a = next(svc.get(int(g.id or 0)) for g in r.gangs if lk.gang_a[0] in g.msisdns)
    assert a.staff_ids == ("ST-A-01",) and a.channels == ("CH-A",)
    assert a.signals.openers == 4 and a.signals.bulk_share == 1.0
    assert a.signals.staff_hour_max == 2  # an opener's two cards within the hour
    assert set(a.link_counts) == {LinkKind.ID, LinkKind.STAFF, LinkKind.TERMINAL}
    b = next(svc.get(int(g.id or 0)) for g in r.gangs if lk.gang_b[0] in g.msisdns)
    assert b.staff_ids == ()  # e-channel orders: no one at a counter
    assert {LinkKind.CONTACT, LinkKind.DEVICE, LinkKind.IP} <= set(b.link_counts)
    assert all(LinkKind.ID in m.links for m in b.members)
    # Stored with evidence and an audit event each; listed highest score first.
    listed = svc.list()
    assert [g.score for g in listed] == sorted((g.score for g in listed), reverse=True)
    assert {g.id for g in listed} == {a.id, b.id}
    with store.transaction(write=False) as tx:
        events = [e.event for e in tx.audit.read()]
    assert sorted(e.subject for e in events if e.action == "gang.found") == sorted(
        f"gang:{g.id}" for g in listed)
    assert all(e.actor == "ann" for e in events if e.action == "gang.found")


def test_finding_again_updates_the_same_gangs(store: SqlStore, clock: FixedClock,
                                             lake: tuple[Path, Lake], tmp_path: Path) -> None:
    root, _ = lake
    svc = gangs(Settings(data_dir=tmp_path), store, clock=clock, lake=root)
    first = svc.find(actor="ann")
    clock.advance(hours=1)
    again = svc.find(actor="ann")
    assert (again.new, again.updated) == (0, 2)
    assert {g.id for g in again.gangs} == {g.id for g in first.gangs}
    assert len(svc.list()) == 2
    g = svc.get(int(first.gangs[0].id or 0))
    assert g.found_at < g.updated_at  # found once, updated since


def test_a_gang_is_disposed_of_in_one_action(store: SqlStore, clock: FixedClock,
                                            lake: tuple[Path, Lake], tmp_path: Path) -> None:
    root, lk = lake
    svc = gangs(Settings(data_dir=tmp_path), store, clock=clock, lake=root)
    svc.find(actor="ann")
    gid = next(int(g.id or 0) for g in svc.list() if g.signals.cards == len(lk.gang_a))
    done = svc.dispose(gid, ActionKind.RESTRICT, actor="dora", reason="card-trafficking gang")
    assert (done.moved, done.opened) == (len(lk.gang_a), len(lk.gang_a))
    with store.transaction(write=False) as tx:
        cases = tx.cases.open_for(lk.gang_a + lk.honest)
    assert set(cases) == set(lk.gang_a)
    assert {(c.status, c.group_ref) for c in cases.values()} == {
        (CaseStatus.RESTRICTED, gang_ref(gid))}


def test_an_unknown_gang_is_not_found(store: SqlStore, clock: FixedClock,
                                      lake: tuple[Path, Lake], tmp_path: Path) -> None:
    svc = gangs(Settings(data_dir=tmp_path), store, clock=clock, lake=lake[0])
    with pytest.raises(NotFound, match="gangs list"):
        svc.get(99)


def test_later_flags_raise_the_score(store: SqlStore, clock: FixedClock,
                                     lake: tuple[Path, Lake], tmp_path: Path) -> None:
    root, lk = lake
    svc = gangs(Settings(data_dir=tmp_path), store, clock=clock, lake=root)
    before = {g.signals.cards: g.score for g in svc.find(actor="ann").gangs}
    assert svc.cases is not None
    svc.cases.bulk(lk.gang_b[:4], ActionKind.VERIFY, actor="dora", reason="alerted")
    after = svc.find(actor="ann")
    b = next(g for g in after.gangs if g.signals.cards == len(lk.gang_b))
    assert b.signals.flagged_share == 0.5
    assert b.score > before[len(lk.gang_b)]
    assert set(svc.get(int(b.id or 0)).members[0].flags) <= {"case"}


def test_without_subscribers_it_says_what_to_ingest(store: SqlStore, clock: FixedClock,
                                                    tmp_path: Path) -> None:
    svc = gangs(Settings(data_dir=tmp_path), store, clock=clock, lake=tmp_path / "empty")
    with pytest.raises(Unavailable, match="telshield ingest subscribers"):
        svc.find(actor="ann")
