"""Alerts in SQL: one open alert per number, older versions kept as history."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from telshield.domain.alerts import Alert, Reason, StoredAlert, Tier
from telshield.domain.paging import Page
from telshield.store.sql import SqlStore, chunks, naive_utc
from telshield.store.tables import alerts

T = alerts


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

    def upsert(self, alerts_: Sequence[Alert]) -> list[int]:
        """Close each number's open alert, then insert the new ones as open."""
        latest = {a.msisdn: a for a in alerts_}  # the last alert of a number in one batch wins
        numbers = list(latest)
        for part in chunks(numbers, 5000):
            self.conn.execute(
                sa.update(T).where(T.c.msisdn.in_(part), T.c.is_open.is_(True))
                .values(is_open=False)
            )
        if not numbers:
            return []
        ids = self.conn.execute(
            sa.insert(T).returning(T.c.id, sort_by_parameter_order=True),
            [_row(latest[m]) for m in numbers],
        ).scalars().all()
        by_number = dict(zip(numbers, ids, strict=True))
        return [int(by_number[a.msisdn]) for a in alerts_]

    def open_alerts(self) -> list[Alert]:
        """The open alert of every number."""
        q = sa.select(T).where(T.c.is_open.is_(True)).order_by(T.c.id)
        return [_alert(r) for r in self.conn.execute(q)]

    def find(
        self, *, msisdn: str = "", tier: str = "", open_only: bool = False, page: Page = Page()
    ) -> list[StoredAlert]:
        """Alerts, newest first, filtered and paginated."""
        q = sa.select(T)
        if msisdn:
            q = q.where(T.c.msisdn == msisdn)
        if tier:
            q = q.where(T.c.tier == tier)
        if open_only:
            q = q.where(T.c.is_open.is_(True))
        q = q.order_by(T.c.id.desc()).limit(page.limit).offset(page.offset)
        return [StoredAlert(int(r.id), _alert(r), bool(r.is_open)) for r in self.conn.execute(q)]


class SqlAlertSink:
    """The AlertSink seam over the SQL store, one transaction per batch (no cases opened:
    use the cases service's intake for that)."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store

    def upsert(self, alerts_: Sequence[Alert]) -> None:
        """Open or update each number's alert."""
        with self.store.transaction() as tx:
            tx.alerts.upsert(alerts_)

    def open_alerts(self) -> list[Alert]:
        """The open alert of every number."""
        with self.store.transaction() as tx:
            return tx.alerts.open_alerts()
