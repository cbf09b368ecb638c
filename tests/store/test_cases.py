"""Contract: cases, actions and appeals on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from telshield.domain.cases import Action, ActionKind, Appeal, Case, CaseStatus
from telshield.domain.errors import Conflict, NotFound
from telshield.store.sql import SqlStore

T0 = datetime(2026, 3, 1, 9)


def test_cases_round_trip_and_one_open_case_per_number(store: SqlStore) -> None:
    with store.transaction() as tx:
        a, b = tx.cases.add([Case.open("8613800000001", tier="verify", at=T0),
                             Case.open("8613800000002", tier="suspend", at=T0)])
        moved = a.move_to(CaseStatus.VERIFYING, at=T0, deadline=T0 + timedelta(hours=24))
        tx.cases.save([moved])
    with store.transaction() as tx:
        assert tx.cases.get(a.id or 0) == moved
        assert set(tx.cases.open_for(["8613800000001", "8613800000002", "1"])) == {
            "8613800000001", "8613800000002"}
        assert tx.cases.overdue(T0 + timedelta(hours=25), [CaseStatus.VERIFYING]) == [moved]
        assert tx.cases.overdue(T0 + timedelta(hours=23), [CaseStatus.VERIFYING]) == []
        for hours, n in ((25, 1), (23, 0)):  # the overview's count, done in SQL
            at = T0 + timedelta(hours=hours)
            assert tx.cases.count_overdue(at, [CaseStatus.VERIFYING, CaseStatus.RESTRICTED]) == n
        assert tx.cases.count_overdue(T0 + timedelta(hours=25), [CaseStatus.RESTRICTED]) == 0
        assert [c.id for c in tx.cases.find(status="open")] == [b.id]
    with pytest.raises(Conflict), store.transaction() as tx:
        tx.cases.add([Case.open("8613800000001", tier="verify", at=T0)])
    with store.transaction() as tx:  # once released, the number may get a new case
        tx.cases.save([moved.move_to(CaseStatus.RELEASED, at=T0)])
        (c,) = tx.cases.add([Case.open("8613800000001", tier="verify", at=T0)])
        assert tx.cases.open_for(["8613800000001"])["8613800000001"].id == c.id


def test_actions_and_appeals(store: SqlStore) -> None:
    with store.transaction() as tx:
        (c,) = tx.cases.add([Case.open("8613800000001", tier="verify", at=T0)])
        n = tx.actions.add([Action(c.id or 0, ActionKind.RESTRICT, "bob", T0, "why",
                                     CaseStatus.OPEN, CaseStatus.RESTRICTED, None, "told")])
        ap = tx.appeals.add(Appeal(c.id or 0, "mine", ("id.jpg", "bill.pdf"), T0, "clerk"))
    with store.transaction() as tx:
        (act,) = tx.actions.find(case_id=c.id)
        assert n == 1 and act.notice == "told" and act.to_status is CaseStatus.RESTRICTED
        got = tx.appeals.get(ap.id or 0)
        assert got == ap and got.documents == ("id.jpg", "bill.pdf")
        tx.appeals.save(got.decide(True, by="boss", at=T0, reason="ok"))
    with store.transaction() as tx:
        assert tx.appeals.find(status="passed")[0].decided_by == "boss"
        with pytest.raises(NotFound):
            tx.cases.get(999)
        with pytest.raises(NotFound):
            tx.appeals.get(999)
