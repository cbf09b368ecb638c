"""The panoramic view's figures (全景视图): what was warned and disposed today and this month,
open alerts by tier, appeals, SLA breaches and the daily trend, read from the store.

Days and months are those of the operator (China Standard Time): store time is UTC, so the
boundaries are computed on the feed clock and converted, and the trend is counted per CST day
in the database (``ActionRepo.per_day``), never by fetching every action.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from telshield.domain.cases import ActionKind, CaseStatus
from telshield.domain.clock import FEED_OFFSET
from telshield.services.store import Clock, Store

# Actions that put a measure on a number: "disposed" in the operator's monthly figures.
DISPOSALS = (ActionKind.VERIFY, ActionKind.RESTRICT, ActionKind.SUSPEND, ActionKind.CONFIRM)


@dataclass(frozen=True)
class Period:
    """Figures over one period (today, this month)."""

    since: datetime  # store time (UTC) of the period's start
    warned: int  # alerts detected in the period
    disposed: int  # measures taken (verify, restrict, suspend, confirm)
    released: int
    by_tier: dict[str, int] = field(default_factory=dict)
    by_action: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Overview:
    """The overview page's figures at one moment."""

    at: datetime  # store time
    today: Period
    month: Period
    open_by_tier: dict[str, int]
    cases_by_status: dict[str, int]
    appeals_by_status: dict[str, int]
    sla_breaches: int  # cases past their re-verification or restriction deadline
    trend: list[tuple[str, dict[str, int]]]  # (CST day, actions per kind), oldest first


def day_start(at: datetime) -> datetime:
    """The store time (UTC) at which the CST day holding store time ``at`` began."""
    local = at + FEED_OFFSET
    return local.replace(hour=0, minute=0, second=0, microsecond=0) - FEED_OFFSET


def month_start(at: datetime) -> datetime:
    """The store time (UTC) at which the CST month holding store time ``at`` began."""
    local = at + FEED_OFFSET
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0) - FEED_OFFSET


class OverviewService:
    """Reads the overview's figures; writes nothing."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def overview(self, *, trend_days: int = 30) -> Overview:
        """The figures now: today, this month, open work and the last ``trend_days`` days."""
        now = self.clock.now()
        today, month = day_start(now), month_start(now)
        trend_since = day_start(now) - timedelta(days=trend_days - 1)
        with self.store.transaction(write=False) as tx:
            periods = []
            for since in (today, month):
                actions = tx.actions.counts(since=since)
                tiers = tx.alerts.tier_counts(since=since)
                periods.append(Period(
                    since=since, warned=sum(tiers.values()),
                    disposed=sum(actions.get(k.value, 0) for k in DISPOSALS),
                    released=actions.get(ActionKind.RELEASE.value, 0),
                    by_tier=tiers, by_action=actions))
            open_tiers = tx.alerts.tier_counts(open_only=True)
            cases = tx.cases.counts()
            appeals = tx.appeals.counts()
            late = tx.cases.overdue(now, [CaseStatus.VERIFYING, CaseStatus.RESTRICTED])
            rows = tx.actions.per_day(trend_since, shift=FEED_OFFSET)
        days: dict[str, dict[str, int]] = {}
        for i in range(trend_days):
            days[(trend_since + FEED_OFFSET + timedelta(days=i)).date().isoformat()] = {}
        for day, kind, n in rows:
            days.setdefault(day, {})[kind] = n
        return Overview(at=now, today=periods[0], month=periods[1], open_by_tier=open_tiers,
                        cases_by_status=cases, appeals_by_status=appeals,
                        sla_breaches=len(late), trend=sorted(days.items()))
