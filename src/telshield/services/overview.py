"""The panoramic view's figures (全景视图): what was warned and disposed today and this month,
open alerts by tier, appeals, SLA breaches and the daily trend, read from the store.

Days and months are those of the operator (China Standard Time): store time is UTC, so the
boundaries are computed on the feed clock and converted, and the trend is counted per CST day
in the database (``ActionRepo.per_day``, one range count per day on an index), never by
fetching every action.
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
        # The actions are counted per day once, over a window that holds the whole month too
        # (a month starts at most 30 days before today): today's, the month's and the trend's
        # figures are sums of the same rows.
        since = min(today - timedelta(days=trend_days - 1), month)
        n_days = (today - since).days + 1
        with self.store.transaction(write=False) as tx:
            rows = tx.actions.per_day(since, shift=FEED_OFFSET, days=n_days)
            tiers = {at: tx.alerts.tier_counts(since=at) for at in (today, month)}
            open_tiers = tx.alerts.tier_counts(open_only=True)
            cases = tx.cases.counts()
            appeals = tx.appeals.counts()
            late = tx.cases.count_overdue(now, [CaseStatus.VERIFYING, CaseStatus.RESTRICTED])
        days: dict[str, dict[str, int]] = {
            (since + FEED_OFFSET + timedelta(days=i)).date().isoformat(): {}
            for i in range(n_days)}
        for day, kind, n in rows:
            days[day][kind] = days[day].get(kind, 0) + n
        periods = []
        for start in (today, month):
            first = (start + FEED_OFFSET).date().isoformat()
            actions: dict[str, int] = {}
            for day, counts in days.items():
                if day >= first:
                    for kind, n in counts.items():
                        actions[kind] = actions.get(kind, 0) + n
            periods.append(Period(
                since=start, warned=sum(tiers[start].values()),
                disposed=sum(actions.get(k.value, 0) for k in DISPOSALS),
                released=actions.get(ActionKind.RELEASE.value, 0),
                by_tier=tiers[start], by_action=actions))
        trend = sorted(days.items())[-trend_days:]
        return Overview(at=now, today=periods[0], month=periods[1], open_by_tier=open_tiers,
                        cases_by_status=cases, appeals_by_status=appeals,
                        sla_breaches=late, trend=trend)
