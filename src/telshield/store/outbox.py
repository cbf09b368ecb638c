"""The outbox of provisioning commands in SQL (at-least-once, idempotent by key)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from telshield.domain.cases import Command, CommandKind
from telshield.domain.paging import Page
from telshield.store.rows import chunks, fast_executemany, naive_utc
from telshield.store.tables import outbox

OUT = outbox


def _command(r: Any) -> Command:
    return Command(
        kind=CommandKind(r.kind), msisdn=r.msisdn, key=r.key, created_at=r.created_at,
        text=r.text, id=int(r.id), delivered_at=r.delivered_at, attempts=int(r.attempts),
    )


class SqlOutboxRepo:
    """OutboxRepo over one connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, commands: Sequence[Command]) -> int:
        """Queue commands whose key is new; return how many were queued."""
        fresh = list({c.key: c for c in commands}.values())
        if not fresh:
            return 0
        seen: set[str] = set()
        for part in chunks([c.key for c in fresh], 5000):
            seen.update(self.conn.execute(sa.select(OUT.c.key).where(OUT.c.key.in_(part))).scalars())
        rows = [
            {"kind": c.kind.value, "msisdn": c.msisdn, "key": c.key, "text": c.text,
             "created_at": naive_utc(c.created_at), "delivered_at": None, "attempts": 0}
            for c in fresh if c.key not in seen
        ]
        fast_executemany(self.conn, sa.insert(OUT), rows)
        return len(rows)

    def pending(self, limit: int) -> list[Command]:
        """Undelivered commands, oldest first."""
        q = sa.select(OUT).where(OUT.c.delivered_at.is_(None)).order_by(OUT.c.id).limit(limit)
        return [_command(r) for r in self.conn.execute(q)]

    def attempted(self, ids: Sequence[int]) -> None:
        """Count one more delivery attempt."""
        for part in chunks(ids, 5000):
            self.conn.execute(
                sa.update(OUT).where(OUT.c.id.in_(part)).values(attempts=OUT.c.attempts + 1)
            )

    def delivered(self, ids: Sequence[int], at: datetime) -> int:
        """Mark commands delivered; return how many were still pending."""
        n = 0
        for part in chunks(ids, 5000):
            n += self.conn.execute(
                sa.update(OUT).where(OUT.c.id.in_(part), OUT.c.delivered_at.is_(None))
                .values(delivered_at=naive_utc(at))
            ).rowcount
        return n

    def find(self, *, msisdn: str = "", pending_only: bool = False, page: Page = Page()
             ) -> list[Command]:
        """Commands, oldest first, filtered and paginated."""
        q = sa.select(OUT)
        if msisdn:
            q = q.where(OUT.c.msisdn == msisdn)
        if pending_only:
            q = q.where(OUT.c.delivered_at.is_(None))
        q = q.order_by(OUT.c.id).limit(page.limit).offset(page.offset)
        return [_command(r) for r in self.conn.execute(q)]
