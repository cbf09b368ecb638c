"""Alerts in SQL: one open alert per number, older versions kept as history."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from telshield.domain.alerts import Alert, AlertVersion, Reason, StoredAlert, Tier, Upserted
from telshield.domain.paging import Page
from telshield.store.rows import Span, chunks, fast_executemany, naive_utc, span_counts
from telshield.store.tables import alert_versions, alerts

T = alerts
V = alert_versions


def _alert(r: Any) -> Alert:
    return Alert(
        msisdn=r.msisdn,
        score=r.score,
        tier=Tier(r.tier),
        reasons=tuple(Reason(**x) for x in r.reasons),
        detected_at=r.detected_at,
        window_end=r.window_end,
        model_version=r.model_version,
        rules_version=r.rules_version,
        features=dict(r.features),
    )


def _finite(v: float | None) -> float | None:
    return float(v) if v is not None and math.isfinite(v) else None


def _row(a: Alert) -> dict[str, Any]:
    return {
        "msisdn": a.msisdn,
        "score": float(a.score),
        "tier": a.tier.value,
        "reasons": [
            {"code": x.code, "text": x.text, "feature": x.feature, "value": _finite(x.value),
             "contribution": _finite(x.contribution)}
            for x in a.reasons
        ],
        # JSON has no NaN or infinity (PostgreSQL refuses them): such values are left out.
        "features": {k: float(v) for k, v in a.features.items() if math.isfinite(v)},
        "detected_at": naive_utc(a.detected_at),
        "window_end": naive_utc(a.window_end),
        "model_version": a.model_version,
        "rules_version": a.rules_version,
        "is_open": True,
    }


class SqlAlertRepo:
    """AlertRepo over one connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def upsert(self, alerts_: Sequence[Alert]) -> list[Upserted]:
        """Open an alert for each number without one, make a changed alert a new version of
        the number's open alert (updated in place), and only note the sighting of an unchanged
        one. Returns, in order, what happened to each alert (the last of a number wins)."""
        latest = {a.msisdn: a for a in alerts_}
        if not latest:
            return []
        numbers = list(latest)
        open_rows: dict[str, Any] = {}
        for part in chunks(numbers, 5000):
            q = sa.select(T).where(T.c.msisdn.in_(part), T.c.is_open.is_(True))
            open_rows.update((r.msisdn, r) for r in self.conn.execute(q))
        fresh = [m for m in numbers if m not in open_rows]
        done: dict[str, Upserted] = {}
        if fresh:
            rows = [{**_row(latest[m]), "version": 1, "first_seen": naive_utc(latest[m].window_end),
                     "last_seen": naive_utc(latest[m].window_end)} for m in fresh]
            ids = self.conn.execute(
                sa.insert(T).returning(T.c.id, sort_by_parameter_order=True), rows
            ).scalars().all()
            done.update((m, Upserted(int(i), 1, True)) for m, i in zip(fresh, ids, strict=True))
        changed: list[dict[str, Any]] = []
        seen: list[dict[str, Any]] = []
        for m, r in open_rows.items():
            a = latest[m]
            last = max(r.last_seen or r.window_end, naive_utc(a.window_end) or r.window_end)
            if a.differs_from(_alert(r)):
                changed.append({**_row(a), "_id": r.id, "version": r.version + 1,
                                "last_seen": last})
                done[m] = Upserted(int(r.id), int(r.version) + 1, True)
            else:
                if last != r.last_seen:
                    seen.append({"_id": r.id, "last_seen": last})
                done[m] = Upserted(int(r.id), int(r.version), False)
        # The SET clause comes from each row's column keys; ``_id`` names the row.
        by_id = sa.update(T).where(T.c.id == sa.bindparam("_id"))
        for rows in (changed, seen):
            fast_executemany(self.conn, by_id, rows)
        versions = [_version(latest[m], done[m]) for m in numbers if done[m].changed]
        fast_executemany(self.conn, sa.insert(V), versions)
        return [done[a.msisdn] for a in alerts_]

    def open_alerts(self) -> list[Alert]:
        """The open alert of every number."""
        q = sa.select(T).where(T.c.is_open.is_(True)).order_by(T.c.id)
        return [_alert(r) for r in self.conn.execute(q)]

    def find(
        self, *, msisdn: str = "", tier: str = "", open_only: bool = False, page: Page = Page(),
        before: int | None = None,
    ) -> list[StoredAlert]:
        """Alerts, newest first, filtered and paginated: by ``page.offset``, or deep pages by
        ``before`` (only ids below it: keyset pagination, a range on the primary key)."""
        q = sa.select(T)
        if before is not None:
            q = q.where(T.c.id < before)
        if msisdn:
            q = q.where(T.c.msisdn == msisdn)
        if tier:
            q = q.where(T.c.tier == tier)
        if open_only:
            q = q.where(T.c.is_open.is_(True))
        q = q.order_by(T.c.id.desc()).limit(page.limit).offset(page.offset)
        return [StoredAlert(int(r.id), _alert(r), bool(r.is_open), int(r.version), r.first_seen,
                            r.last_seen) for r in self.conn.execute(q)]

    def tier_counts(self, *, since: datetime | None = None, until: datetime | None = None,
                    open_only: bool = False) -> dict[str, int]:
        """How many alerts of each tier were detected (at or after ``since``, before
        ``until``)."""
        q = sa.select(T.c.tier, sa.func.count()).group_by(T.c.tier)
        if since is not None:
            q = q.where(T.c.detected_at >= naive_utc(since))
        if until is not None:
            q = q.where(T.c.detected_at < naive_utc(until))
        if open_only:
            q = q.where(T.c.is_open.is_(True))
        return {str(k): int(n) for k, n in self.conn.execute(q)}

    def span_tier_counts(self, spans: Sequence[Span]) -> list[dict[str, int]]:
        """Per span: alerts detected in it, per tier (one query)."""
        return [n for n, _ in span_counts(self.conn, T.c.tier, T.c.detected_at, spans)]

    def versions(self, msisdn: str) -> list[AlertVersion]:
        """Every version of the number's alerts, oldest first."""
        q = sa.select(V).where(V.c.msisdn == msisdn).order_by(V.c.alert_id, V.c.version)
        return [AlertVersion(int(r.alert_id), int(r.version), _alert(r))
                for r in self.conn.execute(q)]


def _version(a: Alert, u: Upserted) -> dict[str, Any]:
    row = _row(a)
    del row["is_open"]
    return {**row, "alert_id": u.id, "version": u.version}
