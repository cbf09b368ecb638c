"""The audit log in SQL: appended after the head row, which serialises writers."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from telshield.domain.audit import AuditEvent, AuditKey, ChainedEvent, chain
from telshield.store.rows import fast_executemany, naive_utc
from telshield.store.tables import audit_events, heads

E = audit_events


def _event(r: Any) -> ChainedEvent:
    return ChainedEvent(
        seq=int(r.seq),
        event=AuditEvent(actor=r.actor, action=r.action, subject=r.subject, at=r.at,
                         detail=json.loads(r.detail)),
        prev_hash=r.prev_hash,
        hash=r.hash,
        detail_text=r.detail,
    )


class SqlAuditRepo:
    """AuditRepo over one connection."""

    def __init__(self, conn: Connection, key: AuditKey | None = None) -> None:
        self.conn = conn
        self.key = key

    def append(self, events: Sequence[AuditEvent]) -> list[ChainedEvent]:
        """Lock the head, chain the events after it, insert them and move the head."""
        if not events:
            return []
        seq, prev = self.conn.execute(
            sa.select(heads.c.n, heads.c.hash).where(heads.c.name == "audit").with_for_update()
        ).one()
        # The store keeps naive UTC times: hash what will be read back.
        events = [AuditEvent(e.actor, e.action, e.subject, naive_utc(e.at) or e.at, e.detail)
                  for e in events]
        linked = chain(int(seq), prev, events, self.key)
        fast_executemany(
            self.conn,
            sa.insert(E),
            [{"seq": c.seq, "actor": c.event.actor, "action": c.event.action,
              "subject": c.event.subject, "at": c.event.at, "detail": c.detail_text,
              "prev_hash": c.prev_hash, "hash": c.hash} for c in linked],
        )
        self.conn.execute(
            sa.update(heads).where(heads.c.name == "audit")
            .values(n=linked[-1].seq, hash=linked[-1].hash)
        )
        return linked

    def head(self) -> tuple[int, str]:
        """(last seq, last hash) as the writers recorded it."""
        n, h = self.conn.execute(
            sa.select(heads.c.n, heads.c.hash).where(heads.c.name == "audit")
        ).one()
        return int(n), str(h)

    def read(self, *, after: int = 0, limit: int = 1000, subject: str = "", actor: str = ""
             ) -> list[ChainedEvent]:
        """Events after ``after`` in seq order, filtered."""
        q = sa.select(E).where(E.c.seq > after)
        if subject:
            q = q.where(E.c.subject == subject)
        if actor:
            q = q.where(E.c.actor == actor)
        q = q.order_by(E.c.seq).limit(limit)
        return [_event(r) for r in self.conn.execute(q)]
