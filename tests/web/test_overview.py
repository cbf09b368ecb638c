"""The overview's figures on SQLite and PostgreSQL: days and months are China Standard Time,
counted in the database."""

from __future__ import annotations

from datetime import datetime, timedelta

from telshield.domain.alerts import Alert, Reason, Tier
from telshield.domain.cases import Action, ActionKind, Appeal, Case, CaseStatus
from telshield.services.overview import OverviewService, day_start, month_start
from telshield.services.store import FixedClock
from telshield.store.sql import SqlStore

NOW = datetime(2026, 3, 10, 9)  # 17:00 on 10 March in China


def test_day_and_month_start_are_cst() -> None:
    assert day_start(NOW) == datetime(2026, 3, 9, 16)
    assert month_start(NOW) == datetime(2026, 2, 28, 16)
    assert day_start(datetime(2026, 3, 9, 16)) == datetime(2026, 3, 9, 16)
    assert day_start(datetime(2026, 3, 9, 15, 59)) == datetime(2026, 3, 8, 16)


def _act(case_id: int, kind: ActionKind, at: datetime) -> Action:
    return Action(case_id, kind, "t", at, "why", CaseStatus.OPEN, kind.target)


def test_overview_counts_per_cst_period(store: SqlStore) -> None:
    r = (Reason("rule:x", "x"),)
    with store.transaction() as tx:
        tx.alerts.upsert([
            Alert("8613800000001", 0.9, Tier.SUSPEND, r, datetime(2026, 3, 9, 16), NOW),  # today
            Alert("8613800000002", 0.6, Tier.VERIFY, r, datetime(2026, 3, 9, 15, 59), NOW),
            Alert("8613800000003", 0.6, Tier.VERIFY, r, datetime(2026, 2, 28, 15), NOW),
        ])
        late = datetime(2026, 3, 10, 8)  # deadline passed an hour ago
        cases = tx.cases.add([
            Case("8613800000001", CaseStatus.VERIFYING, "suspend", NOW, NOW, deadline=late),
            Case("8613800000002", CaseStatus.RESTRICTED, "verify", NOW, NOW,
                 deadline=datetime(2026, 3, 11)),
            Case("8613800000003", CaseStatus.SUSPENDED, "verify", NOW, NOW),
        ])
        a, b, c = (x.id or 0 for x in cases)
        tx.actions.add([
            _act(a, ActionKind.VERIFY, datetime(2026, 3, 9, 16)),  # 10 Mar 00:00 CST: today
            _act(b, ActionKind.RESTRICT, datetime(2026, 3, 9, 15, 59)),  # 9 Mar: this month
            _act(c, ActionKind.SUSPEND, datetime(2026, 2, 28, 15)),  # 28 Feb 23:00 CST
            _act(c, ActionKind.RELEASE, datetime(2026, 3, 1, 1)),  # 1 Mar 09:00 CST
        ])
        tx.appeals.add(Appeal(c, "mine", (), NOW, "t"))
    ov = OverviewService(store, FixedClock(NOW)).overview(trend_days=15)
    assert (ov.today.warned, ov.today.disposed, ov.today.released) == (1, 1, 0)
    assert ov.today.by_tier == {"suspend": 1}
    assert (ov.month.warned, ov.month.disposed, ov.month.released) == (2, 2, 1)
    assert ov.open_by_tier == {"suspend": 1, "verify": 2}
    assert ov.appeals_by_status == {"pending": 1}
    assert ov.sla_breaches == 1
    # the case overdue now is a breach of today and of this month, counted once for the view
    assert (ov.today.sla_breaches, ov.month.sla_breaches) == (1, 1)
    assert ov.today == OverviewService(store, FixedClock(NOW)).figures.period(
        datetime(2026, 3, 9, 16), NOW + timedelta(microseconds=1))
    trend = dict(ov.trend)
    assert len(ov.trend) == 15 and ov.trend[-1][0] == "2026-03-10"
    assert trend["2026-03-10"] == {"verify": 1}
    assert trend["2026-03-09"] == {"restrict": 1}
    assert trend["2026-03-01"] == {"release": 1}
    assert trend["2026-02-28"] == {"suspend": 1}
    assert sum(sum(n.values()) for n in trend.values()) == 4


def test_year_back_keeps_the_cst_calendar_moment() -> None:
    from telshield.services.overview import year_back

    assert year_back(datetime(2026, 2, 28, 16)) == datetime(2025, 2, 28, 16)  # 1 Mar CST
    assert year_back(datetime(2028, 2, 28, 17)) == datetime(2027, 2, 27, 16) + \
        (datetime(2028, 2, 28, 17) - datetime(2028, 2, 28, 16))  # 29 Feb CST -> 28 Feb
    assert year_back(datetime(2026, 3, 10, 9)) == datetime(2025, 3, 10, 9)


def test_the_trends_closed_days_are_kept_and_today_counted_on_every_view(store: SqlStore
                                                                         ) -> None:
    with store.transaction() as tx:
        (c,) = tx.cases.add([Case("8613800000001", CaseStatus.OPEN, "verify", NOW, NOW)])
        tx.actions.add([_act(c.id or 0, ActionKind.RESTRICT, datetime(2026, 3, 8, 1))])
    kept = OverviewService(store, FixedClock(NOW), trend_max_age_s=3600)
    fresh = OverviewService(store, FixedClock(NOW))  # no age: every day counted each view
    assert dict(kept.overview(trend_days=5).trend)["2026-03-08"] == {"restrict": 1}
    with store.transaction() as tx:  # one action today, one written late on a closed day
        tx.actions.add([_act(c.id or 0, ActionKind.VERIFY, datetime(2026, 3, 9, 17)),
                        _act(c.id or 0, ActionKind.SUSPEND, datetime(2026, 3, 8, 2))])
    got, now = dict(kept.overview(trend_days=5).trend), dict(fresh.overview(trend_days=5).trend)
    assert got["2026-03-10"] == now["2026-03-10"] == {"verify": 1}  # today: at once
    assert got["2026-03-08"] == {"restrict": 1}  # the closed day: as kept, within its age
    assert now["2026-03-08"] == {"restrict": 1, "suspend": 1}
    kept.trend_max_age_s = 0.0  # past its age, the closed days are read again
    assert dict(kept.overview(trend_days=5).trend) == now
    assert dict(kept.overview(trend_days=3).trend)["2026-03-08"] == {"restrict": 1,
                                                                      "suspend": 1}
