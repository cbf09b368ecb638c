"""The chain checked from its last checkpoint (the web's verify page): only the events after
it are re-hashed, a rewrite through a checkpoint and an edit after it are still found, and the
report says how much was re-hashed."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from tests.conftest import Target

from telshield.domain.audit import AuditEvent, AuditKey
from telshield.services.audit import AuditService, verify_from_checkpoint, write_checkpoint
from telshield.store.sql import open_store
from telshield.store.tables import audit_events

T0 = datetime(2026, 3, 1, 9)
KEY = AuditKey.from_secret("quick-secret-0123456789")


def _events(n: int, start: int = 0) -> list[AuditEvent]:
    return [AuditEvent("alice", "case.verify", f"case:{i}", T0 + timedelta(seconds=i), {"i": i})
            for i in range(start, start + n)]


def test_verify_from_the_last_checkpoint(db: Target, tmp_path: Path) -> None:
    store = open_store(db.url, schema=db.schema, audit_key=KEY)
    service = AuditService(store, [KEY])
    path = tmp_path / "checkpoints.jsonl"
    with store.transaction() as tx:
        tx.audit.append(_events(30))
    none = verify_from_checkpoint(service, path)  # no checkpoint yet: the whole chain
    assert none.chain.ok and none.chain.checked == 30 and none.held_to == 0
    write_checkpoint(service, path, T0)
    with store.transaction() as tx:
        tx.audit.append(_events(5, 30))
    quick = verify_from_checkpoint(service, path)
    assert quick.chain.ok and quick.held_to == 30 and quick.chain.checked == 5
    assert quick.checkpoints.checked == 1 and quick.stamp == "2026-03-01T09:00:00"
    assert quick.chain.keyed == {KEY.kid: 5}
    write_checkpoint(service, path, T0 + timedelta(hours=1))  # at the head: nothing after it
    at_head = verify_from_checkpoint(service, path)
    assert at_head.chain.ok and at_head.chain.checked == 0 and at_head.held_to == 35

    # An event after the last checkpoint edited in place is found by the quick check.
    with store.transaction() as tx:
        tx.audit.append(_events(3, 35))
    with store.engine.begin() as c:
        c.execute(sa.update(audit_events).where(audit_events.c.seq == 37)
                  .values(detail='{"i":0}'))
    bad = verify_from_checkpoint(service, path)
    assert not bad.chain.ok and bad.chain.seq == 37 and "edited" in bad.chain.problem

    # A rewrite through a checkpoint is found by its link, before any re-hash.
    with store.engine.begin() as c:
        c.execute(sa.update(audit_events).where(audit_events.c.seq == 30)
                  .values(hash="0" * 64))
    cut = verify_from_checkpoint(service, path)
    assert not cut.chain.ok and not cut.checkpoints.ok and "rewritten" in cut.chain.problem
    store.dispose()


def test_an_edit_before_the_checkpoint_needs_the_full_rehash(db: Target, tmp_path: Path) -> None:
    """What the quick check does not cover, and the page says so: an event before the last
    checkpoint edited under the hash it had is found only by re-hashing the whole chain."""
    store = open_store(db.url, schema=db.schema, audit_key=KEY)
    service = AuditService(store, [KEY])
    path = tmp_path / "checkpoints.jsonl"
    with store.transaction() as tx:
        tx.audit.append(_events(10))
    write_checkpoint(service, path, T0)
    with store.engine.begin() as c:
        c.execute(sa.update(audit_events).where(audit_events.c.seq == 4)
                  .values(actor="mallory"))
    assert verify_from_checkpoint(service, path).held_to == 10
    full = service.verify()
    assert not full.ok and full.seq == 4
    store.dispose()
