"""Police coordination on a hand-built lake, on SQLite and PostgreSQL: a unit's query is
answered only after two different people prepare and approve it, with the subscriber record
(identity masked), channel, recent cells, IMEIs and the numbers under the same ID, sealed with
a SHA-256 that the store keeps; a control blocks or suspends through the list and disposal
services; another unit sees nothing; SLA breaches are escalated once; every read is audited;
a clue sent over the service lands in the clues feed and gets feedback."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.services.feeds import write_feed

from telshield.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from telshield.domain.police import sha256
from telshield.domain.users import Role, User
from telshield.services.police import PoliceService
from telshield.services.store import FixedClock
from telshield.settings import Settings
from telshield.store.sql import SqlStore
from telshield.store.tables import police_responses
from telshield.wiring.police import police

ID_A, ID_B = "a" * 64, "b" * 64
A1, A2, A3, B1 = "8613800000001", "8613800000002", "8613800000003", "8613900000001"
T0 = datetime(2026, 2, 20, 10, 0)


def _sub(msisdn: str, id_hash: str, day: int, channel: str) -> dict[str, Any]:
    return {"msisdn": msisdn, "imsi": "460001234567890", "id_hash": id_hash,
            "holder_kind": "person", "registered_at": T0 + timedelta(days=day),
            "channel_id": channel, "staff_id": "ST-1", "terminal_id": "TM-1",
            "order_id": None, "status": "active"}


def _calls() -> list[dict[str, Any]]:
    rows = []
    for i in range(5):
        rows.append({"call_id": f"C{i}", "started_at": T0 + timedelta(days=5, hours=i),
                     "duration_s": 30, "caller": A1, "callee": f"861360000000{i}",
                     "ingress": "radio", "caller_cell": "CELL-1" if i < 3 else "CELL-2",
                     "caller_imei": "86000000000001"})
    return rows


@pytest.fixture
def svc(store: SqlStore, clock: FixedClock, tmp_path: Path) -> PoliceService:
    root = tmp_path / "lake"
    write_feed(root, "subscribers", [_sub(A1, ID_A, 0, "CH-SHOP"), _sub(A2, ID_A, 1, "CH-WEB"),
                                     _sub(A3, ID_A, 2, "CH-WEB"), _sub(B1, ID_B, 0, "CH-X")])
    write_feed(root, "calls", _calls())
    s = police(Settings(data_dir=tmp_path), store, clock=clock, lake=root)
    s.add_unit("NJ-FZ", "Nanjing anti-fraud centre", actor="root")
    s.add_unit("SZ-FZ", "Suzhou anti-fraud centre", actor="root")
    return s


def _cop(unit: str = "NJ-FZ", name: str = "cop") -> User:
    return User(name, Role.POLICE, "h" * 64, T0, unit)


def _audit(store: SqlStore) -> list[Any]:
    with store.transaction(write=False) as tx:
        return tx.audit.read(limit=10_000)


def _query(svc: PoliceService, target: str = A1, kind: str = "number") -> int:
    q = svc.submit(_cop(), kind="query", target_kind=kind, target=target, action="",
                   legal_doc="调证通知书 NJ-2026-17", case_ref="NJ-2026-03-0042",
                   reason="phone used in a fake police call")
    return int(q.id or 0)


def test_a_query_is_answered_only_after_two_people_and_sealed(
        svc: PoliceService, store: SqlStore) -> None:
    rid = _query(svc)
    with pytest.raises(Conflict, match="approved"):
        svc.response(_cop(), rid)  # nothing to read before approval
    with pytest.raises(Conflict, match="prepared"):
        svc.approve(rid, actor="bob")  # not prepared: no approval
    svc.prepare(rid, actor="ann", note="legal document checked")
    with pytest.raises(Conflict, match="maker-checker"):
        svc.approve(rid, actor="ann")
    q, resp = svc.approve(rid, actor="bob")
    assert (q.status.value, q.prepared_by, q.decided_by) == ("answered", "ann", "bob")
    pkg = json.loads(resp.package)
    (sub,) = pkg["result"]["subscribers"]
    assert sub["msisdn"] == A1 and sub["channel_id"] == "CH-SHOP"
    assert sub["id"] == "aaaaaa…aaaa" and ID_A not in resp.package  # identity masked
    assert "imsi" not in sub
    assert [c["value"] for c in pkg["result"]["recent"]["cells"]] == ["CELL-1", "CELL-2"]
    assert pkg["result"]["recent"]["cells"][0]["calls"] == "3"
    assert [i["value"] for i in pkg["result"]["recent"]["imeis"]] == ["86000000000001"]
    assert [s["msisdn"] for s in pkg["result"]["same_id"]] == [A1, A2, A3]
    assert resp.sha256 == sha256(resp.package) and resp.sha256 in resp.html
    assert svc.verify(rid) == (True, resp.sha256)
    with store.transaction() as tx:  # tampering with the stored package is caught
        tx.conn.execute(sa.update(police_responses).values(package=resp.package + " "))
    assert svc.verify(rid)[0] is False


def test_every_read_of_a_response_is_an_audit_event(svc: PoliceService,
                                                    store: SqlStore) -> None:
    rid = _query(svc)
    svc.prepare(rid, actor="ann")
    svc.approve(rid, actor="bob")
    before = len(_audit(store))
    svc.response(_cop(name="cop2"), rid)
    (ev,) = [e.event for e in _audit(store)[before:]]
    assert (ev.actor, ev.action, ev.subject) == ("cop2", "police.read", f"police_request:{rid}")
    assert ev.detail["what"] == "response" and ev.detail["request"] == rid
    assert ev.detail["number"] == A1 and "NJ-2026-03-0042" in ev.detail["why"]
    svc.package(rid, actor="ops")
    assert _audit(store)[-1].event.actor == "ops"


def test_another_unit_sees_nothing(svc: PoliceService) -> None:
    rid = _query(svc)
    svc.prepare(rid, actor="ann")
    svc.approve(rid, actor="bob")
    other = _cop("SZ-FZ", "sz")
    for read in (lambda: svc.get(other, rid), lambda: svc.response(other, rid)):
        with pytest.raises(NotFound):
            read()
    assert svc.mine(other) == [] and [q.id for q in svc.mine(_cop())] == [rid]
    with pytest.raises(Forbidden, match="not registered"):
        _query_as(svc, _cop("XX-NONE"))


def _query_as(svc: PoliceService, user: User) -> None:
    svc.submit(user, kind="query", target_kind="number", target=A1, action="",
               legal_doc="d", case_ref="c", reason="r")


def test_a_block_control_on_an_id_blocks_each_of_its_numbers(svc: PoliceService,
                                                             store: SqlStore) -> None:
    q = svc.submit(_cop(), kind="control", target_kind="id", target=ID_A, action="block",
                   legal_doc="冻结通知书 7", case_ref="NJ-9", reason="cards of a fraud ring")
    svc.prepare(int(q.id or 0), actor="ann")
    _, resp = svc.approve(int(q.id or 0), actor="bob")
    assert json.loads(resp.package)["result"]["blocked"] == [A1, A2, A3]
    with store.transaction(write=False) as tx:
        for n in (A1, A2, A3):
            (e,) = tx.lists.covering(n)
            assert e.police_ordered and e.colour.value == "black" and "NJ-9" in e.reason
        assert tx.lists.covering(B1) == []


def test_a_suspend_control_suspends_through_disposal(svc: PoliceService,
                                                      store: SqlStore) -> None:
    q = svc.submit(_cop(), kind="control", target_kind="number", target=A2, action="suspend",
                   legal_doc="doc", case_ref="NJ-10", reason="used in a scam")
    svc.prepare(int(q.id or 0), actor="ann")
    _, resp = svc.approve(int(q.id or 0), actor="bob")
    assert json.loads(resp.package)["result"]["suspended"] == [A2]
    with store.transaction(write=False) as tx:
        (case,) = tx.cases.open_for([A2]).values()
        assert case.status.value == "suspended" and case.group_ref == f"police:{q.id}"
        assert any(c.msisdn == A2 for c in tx.outbox.pending(100))


def test_sla_breaches_are_escalated_once(svc: PoliceService, clock: FixedClock,
                                         store: SqlStore) -> None:
    ctl = svc.submit(_cop(), kind="control", target_kind="number", target=A3, action="block",
                     legal_doc="d", case_ref="c", reason="r")  # 2 h
    qry = _query(svc)  # 24 h
    clock.advance(hours=3)
    assert [q.id for q in svc.escalate()] == [ctl.id]
    assert svc.escalate() == []  # once each
    assert [q.id for q in svc.breaches()] == [ctl.id]
    svc.prepare(qry, actor="ann")
    svc.approve(qry, actor="bob")  # within its 24 h
    clock.advance(hours=30)
    assert [q.id for q in svc.breaches()] == [ctl.id]
    assert [e.event.subject for e in _audit(store) if e.event.action == "police.escalate"] \
        == [f"police_request:{ctl.id}"]


def test_bad_requests_name_the_field(svc: PoliceService) -> None:
    cases = [({"target": "+86 138"}, "target"), ({"kind": "wiretap"}, "kind"),
             ({"target_kind": "id", "target": "110101199001011234"}, "raw ID"),
             ({"legal_doc": " "}, "legal_doc"), ({"action": "block"}, "action")]
    for change, message in cases:
        args = {"kind": "query", "target_kind": "number", "target": A1, "action": "",
                "legal_doc": "d", "case_ref": "c", "reason": "r", **change}
        with pytest.raises(InvalidInput, match=message):
            svc.submit(_cop(), **args)


def test_a_clue_goes_into_the_feed_and_gets_feedback(svc: PoliceService,
                                                     store: SqlStore) -> None:
    cid = svc.submit_clue(_cop(), msisdn=B1, case_ref="NJ-11",
                          fraud_type="impersonation_police", clue_id="NJ-C-1")
    assert cid == "NJ-C-1"
    with pytest.raises(InvalidInput, match="clues feed"):
        svc.submit_clue(_cop(), msisdn="12ab", case_ref="x", fraud_type="investment")
    (clue,) = svc.clues(_cop())
    assert (clue.msisdn, clue.unit, clue.blocked, clue.feedback) == (B1, "NJ-FZ", False, ())
    assert svc.clues(_cop("SZ-FZ", "sz")) == []
    svc.feedback("NJ-C-1", outcome="traced", note="linked to 3 numbers", actor="ann")
    (clue,) = svc.clues(_cop())
    assert [f.outcome for f in clue.feedback] == ["traced"]
    reads = [e.event for e in _audit(store) if e.event.action == "police.read"]
    assert len(reads) == 3 and reads[-1].detail["what"] == "clues"
    with pytest.raises(NotFound):
        svc.feedback("NOPE", outcome="traced", note="", actor="ann")


def test_the_monthly_report_counts_and_is_sealed(svc: PoliceService, clock: FixedClock,
                                                 store: SqlStore) -> None:
    late = svc.submit(_cop(), kind="control", target_kind="number", target=A3, action="block",
                      legal_doc="d", case_ref="c", reason="r")
    rid = _query(svc)
    svc.prepare(rid, actor="ann")
    svc.approve(rid, actor="bob")
    clock.advance(hours=3)
    svc.escalate()
    r = svc.monthly("2026-03", actor="ann")
    body = json.loads(r.package)
    assert body["requests"] == {"received": 2, "by_kind": {"control/block": 1, "query": 1},
                                "answered": 1, "rejected": 0, "open": 1,
                                "answered_within_sla": 1, "breached": 1, "escalated": 1}
    assert body["by_unit"] == {"NJ-FZ": {"answered": 1, "received": 2, "submitted": 1}}
    assert r.sha256 == sha256(r.package) and A3 not in r.package
    assert svc.monthly("2026-02", actor="ann").package.count('"received":0') == 2
    assert _audit(store)[-1].event.action == "police.report" and late.id
    with pytest.raises(InvalidInput, match="YYYY-MM"):
        svc.monthly("2026-13", actor="ann")


def test_each_cycle_tick_escalates_police_requests_past_their_sla(tmp_path: Path) -> None:
    from telshield.wiring.cycle import platform
    from telshield.wiring.datadir import init_data_dir

    settings = Settings(data_dir=tmp_path / "data")
    init_data_dir(settings)
    root = tmp_path / "lake"
    write_feed(root, "subscribers", [_sub(A1, ID_A, 0, "CH-SHOP")])
    clock = FixedClock(datetime(2026, 3, 1, 9))
    p = platform(settings, clock=clock, lake=root)
    svc = police(settings, p.disposal.store, clock=clock, lake=root)
    svc.add_unit("NJ-FZ", "Nanjing", actor="root")
    q = svc.submit(_cop(), kind="control", target_kind="number", target=A1, action="block",
                   legal_doc="d", case_ref="c", reason="r")
    assert p.cycle.tick(datetime(2026, 3, 1, 17), detect=False).police_escalated == 0
    clock.advance(hours=3)  # past the 2-hour SLA of a control
    assert p.cycle.tick(datetime(2026, 3, 1, 20), detect=False).police_escalated == 1
    assert p.cycle.tick(datetime(2026, 3, 1, 21), detect=False).police_escalated == 0
    assert svc.get(_cop(), int(q.id or 0)).escalated_at == clock.now()
