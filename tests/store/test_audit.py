"""Contract: the audit log on SQLite and PostgreSQL — chained across transactions, tamper found."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from telshield.domain.audit import AuditEvent, verify
from telshield.store.sql import SqlStore
from telshield.store.tables import audit_events

T0 = datetime(2026, 3, 1, 9, 0, 0, 123456)


def fill(store: SqlStore, n: int) -> None:
    for i in range(n):
        with store.transaction() as tx:
            tx.audit.append([AuditEvent("alice", "case.verify", f"case:{i}", T0,
                                        {"i": i, "note": "中文", "x": 1.5})])


def check(store: SqlStore) -> tuple[bool, int | None]:
    with store.transaction() as tx:
        r = verify(tx.audit.read(limit=10_000), tx.audit.head())
    return r.ok, r.seq


def test_chain_survives_round_trip(store: SqlStore) -> None:
    fill(store, 5)
    assert check(store) == (True, None)
    with store.transaction() as tx:
        assert [c.seq for c in tx.audit.read(after=2, limit=2)] == [3, 4]
        assert [c.event.subject for c in tx.audit.read(subject="case:4")] == ["case:4"]


def test_edit_insert_delete_are_found(store: SqlStore) -> None:
    fill(store, 6)
    with store.engine.begin() as c:
        c.execute(sa.update(audit_events).where(audit_events.c.seq == 3).values(actor="mallory"))
    assert check(store) == (False, 3)
    with store.engine.begin() as c:
        c.execute(sa.update(audit_events).where(audit_events.c.seq == 3).values(actor="alice"))
        c.execute(sa.delete(audit_events).where(audit_events.c.seq == 5))
    assert check(store) == (False, 6)
    with store.engine.begin() as c:
        c.execute(sa.delete(audit_events).where(audit_events.c.seq == 6))
    ok, _ = check(store)
    assert not ok  # the head still says 6


def test_rolled_back_events_leave_no_gap(store: SqlStore) -> None:
    fill(store, 2)
    try:
        with store.transaction() as tx:
            tx.audit.append([AuditEvent("a", "x", "y", T0)])
            raise ValueError
    except ValueError:
        pass
    fill(store, 1)
    assert check(store) == (True, None)
    with store.transaction() as tx:
        assert tx.audit.head()[0] == 3


def test_concurrent_writers_keep_one_chain(store: SqlStore) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def write(worker: int) -> None:
        for i in range(15):
            with store.transaction() as tx:
                tx.audit.append([AuditEvent(f"w{worker}", "x", f"s:{i}", T0, {"i": i})] * 2)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(write, range(4)))
    assert check(store) == (True, None)
    with store.transaction() as tx:
        assert tx.audit.head()[0] == 120
