"""The disposal workflow end to end on a real store: alert -> case -> policy -> escalation ->
appeal -> release, with audit chain and outbox kept in step."""

from __future__ import annotations

from datetime import datetime

import pytest

from telshield.domain.alerts import Alert, Reason, Tier
from telshield.domain.cases import ActionKind, CaseStatus, CommandKind, Evidence, Policy
from telshield.domain.errors import Conflict, InvalidInput
from telshield.domain.paging import Page
from telshield.services.audit import AuditService
from telshield.services.cases import CaseAlertSink, CaseService
from telshield.services.lists import ListService
from telshield.services.store import FixedClock
from telshield.store.sql import SqlStore

N1, N2, N3 = "8613800000001", "8613800000002", "8613800000003"


def alert(n: str, tier: Tier, at: datetime) -> Alert:
    return Alert(n, {"watch": 0.55, "verify": 0.75, "suspend": 0.95}[tier.value], tier,
                 (Reason("rule:many_strangers", "calls many strangers"),), at, at)


@pytest.fixture
def cases(store: SqlStore, clock: FixedClock) -> CaseService:
    return CaseService(store, clock, Policy())


def test_alert_opens_case_and_policy_acts(cases: CaseService, clock: FixedClock,
                                          store: SqlStore) -> None:
    run = cases.intake([alert(N1, Tier.WATCH, clock.at), alert(N2, Tier.VERIFY, clock.at),
                        alert(N3, Tier.SUSPEND, clock.at)])
    assert run.opened == 3 and run.acted == {"verify": 1, "restrict": 1}
    status = {c.msisdn: c.status for c in cases.find()}
    assert status == {N1: CaseStatus.OPEN, N2: CaseStatus.VERIFYING, N3: CaseStatus.RESTRICTED}
    (verify_action,) = cases.actions(kind="verify")
    assert "24 h" in verify_action.notice and verify_action.deadline is not None
    with store.transaction() as tx:
        kinds = sorted(c.kind.value for c in tx.outbox.find(msisdn=N3))
    assert kinds == ["notify", "restrict"]

    # A stronger alert for the verifying number updates its case and escalates it.
    clock.advance(hours=1)
    CaseAlertSink(cases).upsert([alert(N2, Tier.SUSPEND, clock.at)])
    (c2,) = cases.find(msisdn=N2)
    assert c2.status is CaseStatus.RESTRICTED and c2.tier == "suspend"
    assert len(cases.find(msisdn=N2)) == 1  # updated, not a second case
    assert AuditService(store).verify().ok


def test_deadline_escalates_to_suspension(cases: CaseService, clock: FixedClock) -> None:
    cases.intake([alert(N1, Tier.VERIFY, clock.at)])
    clock.advance(hours=23)
    assert cases.escalate_overdue() == {"suspend": 0}
    clock.advance(hours=2)
    assert cases.escalate_overdue() == {"suspend": 1}
    (c,) = cases.find(msisdn=N1)
    assert c.status is CaseStatus.SUSPENDED
    (a,) = cases.actions(kind="suspend")
    assert a.actor == "system" and "deadline" in a.reason and "appeal" in a.notice.lower()


def test_reverification_releases_at_once(cases: CaseService, clock: FixedClock,
                                         store: SqlStore) -> None:
    cases.intake([alert(N1, Tier.SUSPEND, clock.at)])
    (c,) = cases.find(msisdn=N1)
    released = cases.verified(c.id or 0, actor="clerk", note="ID checked in shop")
    assert released.status is CaseStatus.RELEASED
    with store.transaction() as tx:
        kinds = [x.kind for x in tx.outbox.find(msisdn=N1)]
    assert CommandKind.RELEASE in kinds
    with pytest.raises(Conflict, match="closed"):
        cases.act(c.id or 0, ActionKind.SUSPEND, actor="bob", reason="late")


def test_appeal_passed_lifts_confirmed_block(cases: CaseService, clock: FixedClock,
                                             store: SqlStore) -> None:
    lists = ListService(store, clock)
    cases.intake([alert(N1, Tier.SUSPEND, clock.at)])
    (c,) = cases.find(msisdn=N1)
    cases.act(c.id or 0, ActionKind.CONFIRM, actor="bob", reason="police confirmed fraud")
    listed = lists.decide(N1)
    assert listed is not None and listed.source.value == "disposal"
    appeal = cases.file_appeal(c.id or 0, reason="my phone was stolen", documents=["report.pdf"],
                               actor="clerk")
    with pytest.raises(Conflict, match="pending"):
        cases.file_appeal(c.id or 0, reason="again", documents=[], actor="clerk")
    decided = cases.decide_appeal(appeal.id or 0, passed=True, actor="boss",
                                  reason="theft report checks out")
    assert decided.status.value == "passed"
    assert cases.get(c.id or 0).status is CaseStatus.RELEASED
    assert lists.decide(N1) is None  # the disposal's blacklist entry is gone
    assert AuditService(store).verify().ok


def test_rejected_appeal_keeps_the_measure(cases: CaseService, clock: FixedClock) -> None:
    cases.intake([alert(N1, Tier.SUSPEND, clock.at)])
    (c,) = cases.find(msisdn=N1)
    appeal = cases.file_appeal(c.id or 0, reason="no", documents=[], actor="clerk")
    cases.decide_appeal(appeal.id or 0, passed=False, actor="boss", reason="no documents")
    assert cases.get(c.id or 0).status is CaseStatus.RESTRICTED


def test_bad_requests(cases: CaseService, clock: FixedClock) -> None:
    cases.intake([alert(N1, Tier.WATCH, clock.at)])
    (c,) = cases.find(msisdn=N1)
    with pytest.raises(Conflict, match="no measure"):
        cases.file_appeal(c.id or 0, reason="x", documents=[], actor="clerk")
    with pytest.raises(InvalidInput, match="reason"):
        cases.act(c.id or 0, ActionKind.RESTRICT, actor="bob", reason=" ")
    with pytest.raises(InvalidInput, match="status"):
        cases.find(status="gone")


def test_detection_run_again_over_the_same_period_changes_nothing(
        cases: CaseService, clock: FixedClock, store: SqlStore) -> None:
    run = [alert(N1, Tier.VERIFY, clock.at), alert(N2, Tier.WATCH, clock.at)]
    cases.intake(run)
    with store.transaction(write=False) as tx:
        head = tx.audit.head()
    clock.advance(hours=1)
    again = cases.intake(run)
    assert again.opened == 0 and again.acted == {}
    with store.transaction(write=False) as tx:
        assert tx.audit.head() == head  # nothing written, not even an audit event
        assert len(tx.alerts.find(msisdn=N1)) == 1 and len(tx.alerts.find()) == 2
    # A stronger alert is a new version of the same alert, and its case follows it.
    (before,) = cases.alerts(msisdn=N1)
    cases.intake([alert(N1, Tier.SUSPEND, clock.at)])
    (after,) = cases.alerts(msisdn=N1)
    assert after.id == before.id and after.version == 2
    assert [v.alert.tier for v in cases.alert_history(N1)] == [Tier.VERIFY, Tier.SUSPEND]
    (c1,) = cases.find(msisdn=N1)
    assert c1.alert_id == after.id and c1.status is CaseStatus.RESTRICTED


def _released(cases: CaseService, n: str, tier: Tier, at: datetime) -> None:
    cases.intake([alert(n, tier, at)])
    (c,) = cases.find(msisdn=n)
    appeal = cases.file_appeal(c.id or 0, reason="I run a shop", documents=[], actor="clerk")
    cases.decide_appeal(appeal.id or 0, passed=True, actor="bob", reason="licence checks out")
    assert cases.get(c.id or 0).status is CaseStatus.RELEASED


def test_a_release_holds_until_new_evidence(cases: CaseService, clock: FixedClock,
                                            store: SqlStore) -> None:
    _released(cases, N1, Tier.VERIFY, clock.at)
    # The next runs see the same behaviour: a slightly different score is no new evidence.
    for score in (0.76, 0.8):
        clock.advance(hours=6)
        same = Alert(N1, score, Tier.VERIFY,
                     (Reason("rule:many_strangers", "calls many strangers"),), clock.at, clock.at)
        run = cases.intake([same])
        assert run.held == 1 and run.opened == 0 and run.acted == {}
    assert [c.status for c in cases.find(msisdn=N1)] == [CaseStatus.RELEASED]
    with store.transaction(write=False) as tx:
        assert [c.kind.value for c in tx.outbox.find(msisdn=N1, page=Page(100))][-1] == "notify"
    # A reason the release did not see is new evidence: a new case, and the policy acts.
    clock.advance(hours=6)
    new = Alert(N1, 0.8, Tier.VERIFY, (Reason("rule:many_strangers", "x"),
                                       Reason("rule:new_imei", "a new phone")), clock.at, clock.at)
    run = cases.intake([new])
    assert run.held == 0 and run.opened == 1 and run.acted == {"verify": 1}


@pytest.mark.parametrize(("tier", "score", "codes", "new"), [
    (Tier.VERIFY, 0.75, ("rule:a",), False),  # the same
    (Tier.VERIFY, 0.84, ("rule:a",), False),  # within the margin
    (Tier.VERIFY, 0.86, ("rule:a",), True),  # clearly higher
    (Tier.SUSPEND, 0.76, ("rule:a",), True),  # a stronger tier
    (Tier.WATCH, 0.6, ("rule:a", "rule:b"), True),  # a new rule reason
    (Tier.VERIFY, 0.75, ("rule:a", "model:sim_age_days"), False),  # the model's ranking shifts
])
def test_new_evidence_law(tier: Tier, score: float, codes: tuple[str, ...], new: bool) -> None:
    at = datetime(2026, 3, 1)
    before = Evidence.of(Alert(N1, 0.75, Tier.VERIFY, (Reason("rule:a", "a"),), at, at))
    now = Alert(N1, score, tier, tuple(Reason(c, c) for c in codes), at, at)
    assert before.is_new(now, margin=0.1) is new


def test_numbers_by_outcome_are_the_labels_a_model_learns(cases: CaseService,
                                                          clock: FixedClock) -> None:
    """Confirmed and released numbers, read across pages, as ``model train`` takes them."""
    cases.intake([alert(n, Tier.SUSPEND, clock.at) for n in (N1, N2, N3)])
    by = {c.msisdn: c.id for c in cases.find()}
    for n, action in ((N1, ActionKind.CONFIRM), (N2, ActionKind.RELEASE)):
        case_id = by[n]
        assert case_id is not None
        cases.act(case_id, action, actor="ann", reason="decided")
    assert cases.numbers(CaseStatus.CONFIRMED, batch=1) == {N1}
    assert cases.numbers(CaseStatus.RELEASED, batch=1) == {N2}
    assert cases.numbers(CaseStatus.RESTRICTED, batch=1) == {N3}
