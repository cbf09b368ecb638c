"""Clue bundles on the trace's hand-built lake, on SQLite and PostgreSQL: a clue on a den SIM
proposes the den's other ports, a clue on a gang card its ID-mates, once per clue, audited;
an analyst confirms a subset (cases opened by bulk disposal, the rest rejected) or rejects, once;
a confirmation whose disposal is illegal changes nothing; a den the store holds adds its SIMs."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.services.feeds import write_feed
from tests.services.ganglake import Lake, write
from tests.services.test_trace import NEXT, PASSER, PORTS, _calls

from telshield.domain.bundles import BundleStatus, MemberDecision
from telshield.domain.cases import ActionKind, CaseStatus, Policy
from telshield.domain.dens import Den, DenMember
from telshield.domain.errors import Conflict, InvalidInput, NotFound
from telshield.services.audit import AuditService
from telshield.services.bundles import BundleService, members_of
from telshield.services.cases import CaseService
from telshield.services.lakeread import FeedReader
from telshield.services.store import FixedClock
from telshield.services.trace import Evidence, Link
from telshield.settings import Settings
from telshield.store.sql import SqlStore
from telshield.wiring.trace import tracer

T0 = datetime(2026, 10, 28, 9, 0)


@pytest.fixture
def lake(tmp_path: Path) -> tuple[Path, Lake]:
    """The trace tests' lake: the gang lake plus a small den's calls."""
    root = tmp_path / "lake"
    lk = write(root)
    write_feed(root, "calls", _calls())
    return root, lk


def _service(store: SqlStore, clock: FixedClock, root: Path, tmp_path: Path,
             **kw: Any) -> BundleService:
    cases = CaseService(store, clock, Policy())
    return BundleService(cases, tracer(Settings(data_dir=tmp_path), store, clock=clock,
                                       lake=root), FeedReader(root), **kw)


def _clues(root: Path, lk: Lake) -> None:
    write_feed(root, "clues", [
        {"clue_id": "CL-DEN", "reported_at": T0, "msisdn": PORTS[0], "case_ref": "JS-1",
         "fraud_type": "impersonation", "unit": "Nanjing PSB"},
        {"clue_id": "CL-GANG", "reported_at": T0 + timedelta(hours=1), "msisdn": lk.gang_a[0],
         "case_ref": "JS-2", "fraud_type": "loan", "unit": "Nanjing PSB"},
        {"clue_id": "CL-BAD", "reported_at": T0 + timedelta(hours=2), "msisdn": "+86 138",
         "case_ref": "", "fraud_type": "loan", "unit": "Nanjing PSB"},
    ])


def test_members_keep_the_strong_links_strongest_first_up_to_the_limit() -> None:
    ev = (Evidence("imei", "860000", 0.9), Evidence("colocated", "CELL", 0.5))
    links = (Link("1", 0.95, ev), Link("2", 0.7, ev[1:]), Link("3", 0.4, ev[1:]))
    got = members_of(links, min_strength=0.5, limit=5)
    assert [m.msisdn for m in got] == ["1", "2"]
    assert got[0].kinds == ("colocated", "imei") and got[0].evidence[0]["kind"] == "imei"
    assert [m.msisdn for m in members_of(links, min_strength=0.0, limit=1)] == ["1"]


def test_each_clue_gets_one_audited_bundle_of_its_related_numbers(
        store: SqlStore, clock: FixedClock, lake: tuple[Path, Lake], tmp_path: Path) -> None:
    root, lk = lake
    _clues(root, lk)
    svc = _service(store, clock, root, tmp_path)
    r = svc.propose_clues(None, T0 + timedelta(days=1), actor="police-liaison")
    assert (r.clues, r.proposed, r.already, r.invalid) == (3, 2, 0, 1)
    listed = {b.clue_id: (b, n) for b, n in svc.list()}
    den, n_den = listed["CL-DEN"]
    got = svc.get(int(den.id or 0))
    assert got.status is BundleStatus.PROPOSED and got.msisdn == PORTS[0] and got.case_ref == "JS-1"
    numbers = {m.msisdn for m in got.members}
    assert set(PORTS[1:]) | {NEXT} <= numbers and PASSER not in numbers
    assert n_den == len(got.members) and all(m.strength >= 0.5 for m in got.members)
    assert all(m.decision is MemberDecision.PENDING and m.kinds for m in got.members)
    gang = svc.get(int(listed["CL-GANG"][0].id or 0))
    assert set(lk.gang_a[1:3]) <= {m.msisdn for m in gang.members}
    again = svc.propose_clues(None, T0 + timedelta(days=1), actor="police-liaison")
    assert (again.proposed, again.already) == (0, 2)
    assert svc.propose("CL-DEN", actor="ann").id == den.id  # on demand: the stored one
    with pytest.raises(NotFound, match="CL-NONE"):
        svc.propose("CL-NONE", actor="ann")
    with store.transaction(write=False) as tx:
        ev = [e.event for e in tx.audit.read() if e.event.action == "bundle.propose"]
    assert sorted(e.detail["clue_id"] for e in ev) == ["CL-DEN", "CL-GANG"]
    assert {e.actor for e in ev} == {"police-liaison"}


def test_confirming_a_subset_disposes_it_and_rejects_the_rest_once(
        store: SqlStore, clock: FixedClock, lake: tuple[Path, Lake], tmp_path: Path) -> None:
    root, lk = lake
    _clues(root, lk)
    svc = _service(store, clock, root, tmp_path)
    svc.propose_clues(None, T0 + timedelta(days=1), actor="police-liaison")
    b = svc.propose("CL-DEN", actor="ann")
    bid = int(b.id or 0)
    chosen = [PORTS[1], PORTS[2]]
    with pytest.raises(InvalidInput, match="not members"):
        svc.confirm(bid, actor="ann", reason="same den", members=[PASSER])
    d = svc.confirm(bid, actor="ann", reason="same den", members=chosen)
    assert d.bundle.status is BundleStatus.PARTLY_CONFIRMED and d.others == ()
    assert d.disposal is not None and (d.disposal.moved, d.disposal.opened) == (2, 2)
    stored = svc.get(bid)
    assert stored.status is BundleStatus.PARTLY_CONFIRMED and stored.decided_by == "ann"
    assert stored.decided_at == clock.now() and stored.note == "same den"
    assert {m.msisdn for m in stored.members if m.decision is MemberDecision.CONFIRMED} == set(
        chosen)
    assert all(m.decision is MemberDecision.REJECTED for m in stored.members
               if m.msisdn not in chosen)
    with store.transaction(write=False) as tx:
        open_ = tx.cases.open_for(chosen)
        ev = [e.event for e in tx.audit.read() if e.event.action.startswith(("bundle.", "case."))]
    assert {c.status for c in open_.values()} == {CaseStatus.VERIFYING}
    assert {c.group_ref for c in open_.values()} == {f"bundle-{bid}"}
    assert [e.action for e in ev if e.actor == "ann"] == ["case.verify", "case.verify",
                                                          "bundle.confirm"]
    with pytest.raises(Conflict, match="decided once"):
        svc.reject(bid, actor="bob", reason="changed my mind")
    assert AuditService(store).verify().ok


def test_an_illegal_disposal_leaves_the_bundle_proposed_and_reject_disposes_nothing(
        store: SqlStore, clock: FixedClock, lake: tuple[Path, Lake], tmp_path: Path) -> None:
    root, lk = lake
    _clues(root, lk)
    svc = _service(store, clock, root, tmp_path)
    svc.propose_clues(None, T0 + timedelta(days=1), actor="police-liaison")
    bid = int(svc.propose("CL-GANG", actor="ann").id or 0)
    mate = lk.gang_a[1]
    svc.cases.bulk([mate], ActionKind.SUSPEND, actor="dora", reason="suspended already")
    with pytest.raises(Conflict):  # a suspended case cannot go back to verification
        svc.confirm(bid, actor="ann", reason="gang", kind=ActionKind.VERIFY)
    assert svc.get(bid).status is BundleStatus.PROPOSED
    with store.transaction(write=False) as tx:
        assert len(tx.cases.open_for([m.msisdn for m in svc.get(bid).members])) == 1
    r = svc.reject(bid, actor="ann", reason="the ID-mates are a family")
    assert r.status is BundleStatus.REJECTED and r.confirmed == ()
    assert svc.list(status=BundleStatus.REJECTED)[0][0].id == bid


def test_a_stored_den_adds_its_other_sims_to_the_bundle(
        store: SqlStore, clock: FixedClock, lake: tuple[Path, Lake], tmp_path: Path) -> None:
    root, lk = lake
    _clues(root, lk)
    far = "8617799990001"  # a SIM of the den seen on another day, not in these calls
    at = T0 - timedelta(days=5)
    members = tuple(DenMember(msisdn=m, role="port", imei="", cell="CELL-DEN", first_at=at,
                              last_at=at, calls=10) for m in (*PORTS, far))
    den = Den(kind="goip", confidence=0.9, cells=("CELL-DEN",), county="Jiangning", lat=31.9,
              lon=118.8, radius_km=0.5, members=members, first_seen=at, last_seen=at,
              found_at=at, updated_at=at, evidence={})
    with store.transaction() as tx:
        tx.dens.save(den)
    svc = _service(store, clock, root, tmp_path)
    b = svc.propose("CL-DEN", actor="ann")
    got = {m.msisdn: m for m in b.members}
    assert far in got and got[far].kinds == ("den",)
    assert "den" in got[PORTS[1]].kinds


def test_the_cycle_proposes_a_bundle_per_new_clue_once_and_can_be_turned_off(
        clock: FixedClock, lake: tuple[Path, Lake], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from telshield.services import cycle as cycle_module
    from telshield.settings import ClueSettings
    from telshield.wiring.cycle import platform

    root, lk = lake
    _clues(root, lk)
    ticks: list[dict[str, object]] = []

    class Log:
        def info(self, event: str, **kw: object) -> None:
            if event == "cycle.tick":
                ticks.append(kw)

    monkeypatch.setattr(cycle_module, "log", Log())
    settings = Settings(data_dir=tmp_path / "data", allow_placeholder_secret=True)
    p = platform(settings, clock=clock, lake=root)
    at = T0 + timedelta(days=1)
    clock.at = at
    r = p.cycle.tick(at, detect=False)
    assert r.complete and r.clues == 2 and r.bundles == 2  # CL-BAD: neither blockable nor traced
    assert list(r.seconds)[:3] == ["clues", "bundles", "escalate"]
    assert ticks[-1]["bundles"] == 2
    with p.disposal.store.transaction(write=False) as tx:
        got = {b.clue_id: tx.bundles.get(int(b.id or 0)) for b in tx.bundles.find()}
    assert set(got) == {"CL-DEN", "CL-GANG"}
    assert set(PORTS[1:]) <= {m.msisdn for m in got["CL-DEN"].members}
    assert p.cycle.state.load().bundles_until == at
    later = at + timedelta(hours=1)
    clock.at = later
    assert p.cycle.tick(later, detect=False).bundles == 0  # each clue once
    off = Settings(data_dir=tmp_path / "off", clues=ClueSettings(bundles_in_cycle=False))
    q = platform(off, clock=clock, lake=root)
    assert "bundles" not in q.cycle.tick(later, detect=False).seconds
