"""Contract: cases, actions and appeals on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from telshield.domain.alerts import Alert, Reason, Tier
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


def test_span_counts_equal_one_count_per_span(store: SqlStore) -> None:
    """The overview's one-query counts (``span_counts``) give what one ``counts`` per span and
    condition gives: overlapping, disjoint, empty and zero-length spans, edges half-open."""
    kinds = [ActionKind.VERIFY, ActionKind.RESTRICT, ActionKind.SUSPEND, ActionKind.RELEASE]
    tiers = [Tier.WATCH, Tier.VERIFY, Tier.SUSPEND]
    why = (Reason("rule:x", "x", "distinct_callees", 1.0),)
    with store.transaction() as tx:
        cs = tx.cases.add([Case.open(f"86138000{i:05d}", tier="verify", at=T0)
                           for i in range(40)])
        tx.actions.add([Action(c.id or 0, kinds[i % 4], "bob", T0 + timedelta(hours=5 * i),
                               "escalation" if i % 3 == 0 else "why", CaseStatus.OPEN,
                               CaseStatus.RESTRICTED, None, "")
                        for i, c in enumerate(cs)])
        for i, c in enumerate(cs[:20]):
            tx.appeals.add(Appeal(c.id or 0, "mine", (), T0 + timedelta(hours=7 * i), "clerk"))
        tx.alerts.upsert([Alert(f"86139000{i:05d}", 0.7, tiers[i % 3], why,
                                T0 + timedelta(hours=3 * i), T0 + timedelta(hours=3 * i))
                          for i in range(50)])
    def h(n: int) -> datetime:
        return T0 + timedelta(hours=n)

    spans = [(h(0), h(24)), (h(10), h(100)), (h(150), h(160)), (h(500), h(600)),
             (h(35), h(35)), (h(-50), h(0)), (h(0), h(1000))]
    with store.transaction(write=False) as tx:
        acts = tx.actions.span_counts(spans, reason="escalation")
        assert [a for a, _ in acts] == [tx.actions.counts(since=s, until=e) for s, e in spans]
        assert [e for _, e in acts] == [tx.actions.counts(since=s, until=e, reason="escalation")
                                        for s, e in spans]
        assert [e for _, e in tx.actions.span_counts(spans)] == [{}] * len(spans)
        assert tx.appeals.span_counts(spans) == [tx.appeals.counts(since=s, until=e)
                                                 for s, e in spans]
        assert tx.alerts.span_tier_counts(spans) == [tx.alerts.tier_counts(since=s, until=e)
                                                     for s, e in spans]
        assert sum(acts[-1][0].values()) == 40 and acts[3] == ({}, {})  # not vacuous
        assert tx.actions.span_counts([]) == []
