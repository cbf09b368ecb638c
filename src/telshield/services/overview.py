"""The panoramic view's figures (全景视图): what was warned and disposed today and this month (and
the same span a year before, where history exists), calls screened and intercepted per route
class, open alerts by tier, appeals, SLA breaches and the daily trend, read from the store and
the screened calls.

The period figures come from ``services.figures``, the query layer the replay's printed figures
and the police monthly report use too, so the three agree for the same period. Days and months
are those of the operator (China Standard Time): store time is UTC, so the boundaries are
computed on the feed clock and converted, and the trend is counted per CST day in the database
(``ActionRepo.per_day``, one range count per day on an index), never by fetching every action.
The closed days of the trend are kept for ``trend_max_age_s`` (actions are only ever added, so a
closed day changes only if an action is written with an earlier time, e.g. by a cycle catching
up on late feeds); today's day is counted on every view.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from telshield.domain.clock import FEED_OFFSET
from telshield.services.figures import DISPOSALS, OVERDUE_STATUSES, Figures, PeriodFigures
from telshield.services.store import Clock, Store, UnitOfWork

__all__ = ["DISPOSALS", "Overview", "OverviewService", "day_start", "month_start", "year_back"]


@dataclass(frozen=True)
class Overview:
    """The overview page's figures at one moment."""

    at: datetime  # store time
    today: PeriodFigures
    month: PeriodFigures  # this CST month up to now
    last_year: PeriodFigures | None  # the same span a year before, where history exists
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


def year_back(at: datetime) -> datetime:
    """The same CST calendar moment a year earlier (29 February becomes the 28th)."""
    local = at + FEED_OFFSET
    try:
        back = local.replace(year=local.year - 1)
    except ValueError:
        back = local.replace(year=local.year - 1, day=28)
    return back - FEED_OFFSET


class OverviewService:
    """Reads the overview's figures; writes nothing."""

    def __init__(self, store: Store, clock: Clock, figures: Figures | None = None, *,
                 trend_max_age_s: float = 0.0) -> None:
        self.store = store
        self.clock = clock
        self.figures = figures if figures is not None else Figures(store, clock)
        self.trend_max_age_s = trend_max_age_s
        # (first day, today's start, when read, the closed days' rows): see the module doc
        self._closed: tuple[datetime, datetime, float, list[tuple[str, str, int]]] | None = None

    def _trend(self, tx: UnitOfWork, since: datetime, today: datetime
               ) -> list[tuple[str, str, int]]:
        """(CST day, kind, count) from ``since`` to now: the closed days kept, today read."""
        kept = self._closed
        if (kept is None or kept[:2] != (since, today)
                or time.monotonic() - kept[2] >= self.trend_max_age_s):
            days = round((today - since) / timedelta(days=1))
            kept = (since, today, time.monotonic(),
                    tx.actions.per_day(since, shift=FEED_OFFSET, days=days))
            self._closed = kept
        return kept[3] + tx.actions.per_day(today, shift=FEED_OFFSET, days=1)

    def overview(self, *, trend_days: int = 30) -> Overview:
        """The figures now: today, this month, open work and the last ``trend_days`` days."""
        now = self.clock.now()
        today, month = day_start(now), month_start(now)
        until = now + timedelta(microseconds=1)  # [start, now]: what is in the store now
        since = today - timedelta(days=trend_days - 1)
        with self.store.transaction(write=False) as tx:
            rows = self._trend(tx, since, today)
            open_tiers = tx.alerts.tier_counts(open_only=True)
            cases = tx.cases.counts()
            appeals = tx.appeals.counts()
            late = tx.cases.count_overdue(now, OVERDUE_STATUSES)
        today_f, month_f, back = self.figures.periods(  # the overdue cases counted once
            [(today, until), (month, until), (year_back(month), year_back(until))],
            overdue=late)
        days: dict[str, dict[str, int]] = {
            (since + FEED_OFFSET + timedelta(days=i)).date().isoformat(): {}
            for i in range(trend_days)}
        for day, kind, n in rows:
            days[day][kind] = days[day].get(kind, 0) + n
        return Overview(at=now, today=today_f, month=month_f,
                        last_year=back if back.has_data else None, open_by_tier=open_tiers,
                        cases_by_status=cases, appeals_by_status=appeals,
                        sla_breaches=late, trend=sorted(days.items()))
