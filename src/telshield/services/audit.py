"""Reading and verifying the hash-chained audit log."""

from __future__ import annotations

from collections.abc import Iterator

from telshield.domain.audit import ChainedEvent, ChainReport, verify
from telshield.services.store import Store, UnitOfWork


def _all(tx: UnitOfWork, batch: int) -> Iterator[ChainedEvent]:
    after = 0
    while True:
        events = tx.audit.read(after=after, limit=batch)
        if not events:
            return
        yield from events
        after = events[-1].seq


class AuditService:
    """Audit use cases: list events, verify the chain."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def events(self, *, after: int = 0, limit: int = 100, subject: str = "", actor: str = ""
               ) -> list[ChainedEvent]:
        """Events after seq ``after``, in order, filtered."""
        with self.store.transaction(write=False) as tx:
            return tx.audit.read(after=after, limit=limit, subject=subject, actor=actor)

    def verify(self, *, batch: int = 10_000) -> ChainReport:
        """Re-hash the whole chain and compare with the head: finds any edited, inserted or
        deleted event and says where."""
        with self.store.transaction(write=False) as tx:
            head = tx.audit.head()
            return verify(_all(tx, batch), head)
