"""Owners who re-verify when asked: their measure is lifted the hours truth gives after it
began, as the BSS would report it; owners who never do (fraud) stay under it."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from telshield.domain.alerts import Alert, Reason, Tier
from telshield.domain.cases import CaseStatus, Policy
from telshield.evaluate.replay_people import ACTOR, Reverifiers, reverify_hours
from telshield.services.cases import CaseService
from telshield.services.store import FixedClock
from telshield.store.sql import SqlStore

T0 = datetime(2026, 11, 5, 9)
HONEST, SLOW, FRAUD = "8613800000001", "8613800000002", "8613800000003"


def _alert(n: str, tier: Tier) -> Alert:
    return Alert(n, 0.95 if tier is Tier.SUSPEND else 0.75, tier, (Reason("rule:test", "t"),),
                 T0, T0)


def test_truth_gives_who_reverifies_and_when(tmp_path: Path) -> None:
    (tmp_path / "truth").mkdir()
    pq.write_table(pa.table({
        "msisdn": [HONEST, SLOW, FRAUD, "8613800000004"],
        "reverifies": pa.array([True, True, False, None], pa.bool_()),
        "reverify_after_h": pa.array([2.0, 30.0, None, None], pa.float64()),
    }), tmp_path / "truth" / "numbers.parquet")
    assert reverify_hours(tmp_path) == {HONEST: 2.0, SLOW: 30.0}


def test_measures_are_lifted_when_the_owner_has_reverified(store: SqlStore) -> None:
    clock = FixedClock(T0)
    cases = CaseService(store, clock, Policy())
    cases.intake([_alert(HONEST, Tier.VERIFY), _alert(SLOW, Tier.SUSPEND),
                  _alert(FRAUD, Tier.SUSPEND)])
    people = Reverifiers(cases, {HONEST: 2.0, SLOW: 30.0})
    assert people.act(T0 + timedelta(hours=1)) == 0
    assert people.act(T0 + timedelta(hours=2)) == 1
    clock.at = T0 + timedelta(hours=30)
    cases.escalate_overdue()  # the fraud number was never re-verified: it is suspended
    assert people.act(T0 + timedelta(hours=30)) == 1
    status = {c.msisdn: c.status for c in cases.find()}
    assert status[HONEST] is CaseStatus.RELEASED and status[SLOW] is CaseStatus.RELEASED
    assert status[FRAUD] in (CaseStatus.RESTRICTED, CaseStatus.SUSPENDED)
    assert {a.actor for a in cases.actions(kind="release")} == {ACTOR}
