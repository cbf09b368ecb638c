"""Off-net report lines in SQL: one per suspected number we do not hold, updated in place."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from telshield.domain.cases import OffnetReport
from telshield.domain.paging import Page
from telshield.store.rows import chunks, naive_utc
from telshield.store.tables import offnet_reports

T = offnet_reports


def _report(r: Any) -> OffnetReport:
    return OffnetReport(
        msisdn=r.msisdn, party=r.party, kind=r.kind, region=r.region, tier=r.tier,
        score=float(r.score), reasons=tuple(r.reasons), first_at=r.first_at,
        updated_at=r.updated_at, alert_id=r.alert_id, list_entry_id=r.list_entry_id,
        label=r.label, id=int(r.id),
    )


def _row(x: OffnetReport) -> dict[str, Any]:
    return {
        "msisdn": x.msisdn, "party": x.party, "kind": x.kind, "region": x.region,
        "label": x.label, "tier": x.tier, "score": float(x.score), "reasons": list(x.reasons),
        "first_at": naive_utc(x.first_at), "updated_at": naive_utc(x.updated_at),
        "alert_id": x.alert_id, "list_entry_id": x.list_entry_id,
    }


class SqlOffnetRepo:
    """OffnetRepo over one connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def for_numbers(self, msisdns: Sequence[str]) -> dict[str, OffnetReport]:
        """The report line of each number that has one."""
        out: dict[str, OffnetReport] = {}
        for part in chunks(list(msisdns), 5000):
            for r in self.conn.execute(sa.select(T).where(T.c.msisdn.in_(part))):
                out[r.msisdn] = _report(r)
        return out

    def save(self, reports: Sequence[OffnetReport]) -> None:
        """Insert new lines (no id) and write back changed ones (with an id)."""
        new = [_row(x) for x in reports if x.id is None]
        if new:
            self.conn.execute(sa.insert(T), new)
        for x in reports:
            if x.id is not None:
                self.conn.execute(sa.update(T).where(T.c.id == x.id).values(**_row(x)))

    def find(self, *, party: str = "", since: datetime | None = None, page: Page = Page()
             ) -> list[OffnetReport]:
        """Report lines, most recently updated first, filtered and paginated."""
        q = sa.select(T)
        if party:
            q = q.where(T.c.party == party)
        if since is not None:
            q = q.where(T.c.updated_at >= naive_utc(since))
        q = q.order_by(T.c.updated_at.desc(), T.c.id.desc()).limit(page.limit).offset(page.offset)
        return [_report(r) for r in self.conn.execute(q)]
