"""Den finding on a hand-built lake, on SQLite and PostgreSQL: the GOIP den is found with exactly
its SIMs over both swaps, its IMEIs and its place; the call centre, the busy shop phone and the
moving crew SIM are not; finding again updates the same den; its numbers that are ours are
disposed of in one action, the others named for the police."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from tests.services.denlake import CELLS, T0, DenLake, write

from telshield.detect.den_groups import km
from telshield.domain.cases import ActionKind, CaseStatus
from telshield.domain.dens import den_ref
from telshield.services.dens import DenService
from telshield.services.store import FixedClock
from telshield.settings import DenSettings, Settings
from telshield.store.sql import SqlStore
from telshield.wiring.dens import dens


@pytest.fixture
def lake(tmp_path: Path) -> tuple[Path, DenLake]:
    root = tmp_path / "lake"
    return root, write(root)


def _svc(store: SqlStore, clock: FixedClock, root: Path, tmp: Path) -> DenService:
    s = Settings(data_dir=tmp, dens=DenSettings(lookback_hours=24 * 5))
    return dens(s, store, clock=clock, lake=root)


def test_the_den_is_found_and_lookalikes_not(store: SqlStore, clock: FixedClock,
                                             lake: tuple[Path, DenLake], tmp_path: Path) -> None:
    root, lk = lake
    svc = _svc(store, clock, root, tmp_path)
    r = svc.find(actor="ann")
    assert (len(r.dens), r.new, r.updated) == (1, 1, 0)
    d = svc.get(int(r.dens[0].id or 0))
    assert set(d.msisdns) == set(lk.den)  # both generations of SIMs, nothing else
    assert d.imeis == tuple(sorted(lk.den_imeis))
    assert d.kind == "goip" and d.county == "Jiangning"
    assert set(d.cells) == {"C-DEN", "C-DEN2"}
    la, lo, _ = CELLS["C-DEN"]
    assert km((d.lat, d.lon), (la, lo)) < 1.0 and d.radius_km < 1.0
    assert d.evidence["ports_parallel"] == 8 and d.evidence["signals"]["device"] == 1.0
    assert d.confidence >= 0.9
    assert d.first_seen >= T0 and d.last_seen < T0 + timedelta(days=4)
    with store.transaction(write=False) as tx:
        events = [e.event for e in tx.audit.read()]
    assert [(e.action, e.subject, e.actor) for e in events if e.action.startswith("den.")] == [
        ("den.found", f"den:{d.id}", "ann")]


def test_finding_again_follows_the_den_through_its_swaps(
        store: SqlStore, clock: FixedClock, lake: tuple[Path, DenLake], tmp_path: Path) -> None:
    root, lk = lake
    svc = _svc(store, clock, root, tmp_path)
    first = svc.find(actor="ann", since=T0, until=T0 + timedelta(days=2))
    assert {m for d in first.dens for m in d.msisdns} == set(lk.den[0::2])  # first SIMs
    again = svc.find(actor="ann", since=T0 + timedelta(days=2), until=T0 + timedelta(days=4))
    assert (again.new, again.updated) == (0, 1)
    assert again.dens[0].id == first.dens[0].id
    assert set(svc.get(int(first.dens[0].id or 0)).msisdns) == set(lk.den)
    assert [d.id for d in svc.list()] == [first.dens[0].id]


def test_a_den_is_disposed_of_in_one_action(store: SqlStore, clock: FixedClock,
                                            lake: tuple[Path, DenLake], tmp_path: Path) -> None:
    root, lk = lake
    svc = _svc(store, clock, root, tmp_path)
    did = int(svc.find(actor="ann").dens[0].id or 0)
    done, others = svc.dispose(did, ActionKind.RESTRICT, actor="dora", reason="GOIP den")
    assert done.moved == len(lk.ours)
    assert set(others) == set(lk.den) - set(lk.ours)
    assert svc.cases is not None
    cases = svc.cases.find(group_ref=den_ref(did))
    assert {c.msisdn for c in cases} == set(lk.ours)
    assert all(c.status == CaseStatus.RESTRICTED for c in cases)
