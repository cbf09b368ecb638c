"""Contract: one open alert per number, updated in place, every change kept as a version
(SQLite and PostgreSQL); a detection run done again over the same period changes nothing."""

from __future__ import annotations

from datetime import datetime, timedelta

from telshield.domain.alerts import Alert, Reason, Tier
from telshield.store.sql import SqlStore

T0 = datetime(2026, 3, 1, 9)
N1, N2 = "8613800000001", "8613800000002"
R1 = Reason("rule:many_strangers", "calls many strangers", "strangers", 40.0, 0.3)
R2 = Reason("rule:new_sim", "a new SIM", "sim_age_days", 1.0, 0.2)


def _a(n: str, tier: Tier, score: float, at: datetime, *reasons: Reason) -> Alert:
    return Alert(n, score, tier, reasons or (R1,), at, at, rules_version="r1")


def test_the_same_alert_again_changes_nothing(store: SqlStore) -> None:
    with store.transaction() as tx:
        first = tx.alerts.upsert([_a(N1, Tier.VERIFY, 0.75, T0), _a(N2, Tier.WATCH, 0.6, T0)])
    assert [u.changed for u in first] == [True, True] and [u.version for u in first] == [1, 1]
    with store.transaction() as tx:  # detection re-run over the same period
        again = tx.alerts.upsert([_a(N1, Tier.VERIFY, 0.75, T0), _a(N2, Tier.WATCH, 0.6, T0)])
    assert [u.id for u in again] == [u.id for u in first]
    assert [u.changed for u in again] == [False, False]
    with store.transaction(write=False) as tx:
        assert len(tx.alerts.find()) == 2 and len(tx.alerts.find(open_only=True)) == 2
        assert len(tx.alerts.versions(N1)) == 1


def test_a_change_is_a_new_version_of_the_same_alert(store: SqlStore) -> None:
    later = T0 + timedelta(hours=6)
    with store.transaction() as tx:
        (u1,) = tx.alerts.upsert([_a(N1, Tier.VERIFY, 0.75, T0)])
    with store.transaction() as tx:
        (u2,) = tx.alerts.upsert([_a(N1, Tier.SUSPEND, 0.95, later, R1, R2)])
        (u3,) = tx.alerts.upsert([_a(N1, Tier.SUSPEND, 0.95, later + timedelta(hours=6), R2, R1)])
    assert u2.id == u1.id and u2.version == 2 and u2.changed
    assert u3.id == u1.id and u3.version == 2 and not u3.changed  # seen again, same evidence
    with store.transaction(write=False) as tx:
        (row,) = tx.alerts.find(msisdn=N1)
        history = tx.alerts.versions(N1)
    assert row.is_open and row.version == 2 and row.alert.tier is Tier.SUSPEND
    assert row.first_seen == T0 and row.last_seen == later + timedelta(hours=6)
    assert [(v.version, v.alert.tier, v.alert.window_end) for v in history] == [
        (1, Tier.VERIFY, T0), (2, Tier.SUSPEND, later)]
    assert history[1].alert.codes == ("rule:many_strangers", "rule:new_sim")


def test_the_last_alert_of_a_number_in_one_batch_wins(store: SqlStore) -> None:
    with store.transaction() as tx:
        got = tx.alerts.upsert([_a(N1, Tier.WATCH, 0.6, T0), _a(N1, Tier.VERIFY, 0.8, T0)])
    assert got[0].id == got[1].id
    with store.transaction(write=False) as tx:
        (row,) = tx.alerts.find(msisdn=N1)
        assert row.alert.tier is Tier.VERIFY and len(tx.alerts.versions(N1)) == 1
