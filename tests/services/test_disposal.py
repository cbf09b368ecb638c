"""Bulk disposal (all or nothing, even under SIGKILL) and the outbox relay to the BSS."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from telshield.domain.cases import ActionKind, CaseStatus, Command, CommandKind, Policy
from telshield.domain.errors import Conflict, InvalidInput
from telshield.domain.paging import Page
from telshield.services.audit import AuditService
from telshield.services.cases import CaseService
from telshield.services.disposal import InMemoryBss, relay
from telshield.services.store import FixedClock
from telshield.store.sql import SqlStore, open_store

DEN = [f"86138{i:08d}" for i in range(300)]


@pytest.fixture
def cases(store: SqlStore, clock: FixedClock) -> CaseService:
    return CaseService(store, clock, Policy())


def test_bulk_disposal_of_a_den(cases: CaseService, store: SqlStore) -> None:
    r = cases.bulk(DEN[:200], ActionKind.SUSPEND, actor="bob", reason="GOIP den, Jiangning",
                   group_ref="den:17")
    assert (r.moved, r.opened, r.unchanged) == (200, 200, 0)
    r = cases.bulk(DEN, ActionKind.SUSPEND, actor="bob", reason="GOIP den, Jiangning",
                   group_ref="den:17")
    assert (r.moved, r.opened, r.unchanged) == (100, 100, 200)
    assert len(cases.find(group_ref="den:17", page=_page(1000))) == 300
    assert {c.status for c in cases.find(page=_page(1000))} == {CaseStatus.SUSPENDED}
    assert AuditService(store).verify().ok


def test_bulk_is_all_or_nothing_on_an_illegal_move(cases: CaseService, store: SqlStore) -> None:
    cases.bulk(DEN[:1], ActionKind.SUSPEND, actor="bob", reason="den")
    with store.transaction() as tx:
        before = (tx.audit.head(), len(tx.outbox.find(page=_page(10_000))))
    with pytest.raises(Conflict, match="Nothing was changed"):
        cases.bulk(DEN[:50], ActionKind.VERIFY, actor="bob", reason="den")  # suspended -> verify
    assert len(cases.find(page=_page(1000))) == 1
    with store.transaction() as tx:
        assert (tx.audit.head(), len(tx.outbox.find(page=_page(10_000)))) == before
    with pytest.raises(InvalidInput):
        cases.bulk(["+86 138"], ActionKind.SUSPEND, actor="bob", reason="den")


def _page(n: int) -> Page:
    return Page(limit=n)


class FlakyBss(InMemoryBss):
    """A BSS that fails the first time it sees each suspend command."""

    def __init__(self) -> None:
        super().__init__()
        self.failed: set[str] = set()

    def send(self, command: Command) -> None:
        if command.kind is CommandKind.SUSPEND and command.key not in self.failed:
            self.failed.add(command.key)
            raise ConnectionError("BSS timeout")
        super().send(command)


def test_relay_delivers_at_least_once_and_replays_idempotently(
    cases: CaseService, store: SqlStore, clock: FixedClock
) -> None:
    cases.bulk(DEN[:10], ActionKind.SUSPEND, actor="bob", reason="den")
    bss = FlakyBss()
    first = relay(store, clock, bss)
    assert (first.delivered, first.failed) == (10, 10)  # notices went, suspends failed
    second = relay(store, clock, bss)
    assert (second.delivered, second.failed) == (10, 0)
    assert relay(store, clock, bss).delivered == 0
    assert set(bss.state.values()) == {"suspended"} and len(bss.state) == 10
    # A crash after sending but before marking delivered means a re-send: the key dedupes.
    with store.transaction() as tx:
        sent = tx.outbox.find(page=_page(100))
    for c in sent:
        bss.send(c)
    assert len(bss.seen) == 20 and all(len(v) == 1 for v in bss.notices.values())
    with store.transaction() as tx:
        assert {c.attempts for c in tx.outbox.find(page=_page(100))} <= {1, 2}


CHILD = textwrap.dedent("""
    import sys, time
    from contextlib import contextmanager
    from telshield.domain.cases import ActionKind, Policy
    from telshield.services.disposal import dispose_bulk
    from telshield.services.store import SystemClock
    from telshield.store.sql import open_store

    url, schema, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    inner = open_store(url, schema=schema)

    class PausingStore:
        # Pauses inside the transaction once every row of the bulk is written, not committed.
        @contextmanager
        def transaction(self, write=True):
            with inner.transaction(write=write) as tx:
                real = tx.audit.append
                def append(events):
                    out = real(events)
                    if events and events[0].action == "case.suspend":
                        print("mid", flush=True)
                        time.sleep(120)
                    return out
                tx.audit.append = append
                yield tx

    numbers = [f"86139{i:08d}" for i in range(n)]
    dispose_bulk(PausingStore(), SystemClock(), Policy(), numbers, ActionKind.SUSPEND,
                 actor="bob", reason="den", group_ref="den:9")
""")


def test_sigkill_mid_bulk_leaves_the_store_consistent(db: Any, clock: FixedClock) -> None:
    store = open_store(db.url, schema=db.schema)
    cases = CaseService(store, clock, Policy())
    cases.bulk(DEN[:5], ActionKind.RESTRICT, actor="bob", reason="earlier den")
    with store.transaction() as tx:
        head = tx.audit.head()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, db.url, db.schema or "", "2000"],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert child.stdout is not None
        for line in child.stdout:  # logs come first; "mid" once every row is written
            if line.strip() == "mid":
                break
        else:
            pytest.fail("the child ended before reaching the middle of the bulk")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL
    # Nothing of the killed bulk is visible: no cases, actions, commands or audit events.
    with store.transaction() as tx:
        assert tx.audit.head() == head
        assert tx.cases.find(group_ref="den:9") == []
        assert len(tx.cases.find(page=_page(10_000))) == 5
        assert len(tx.actions.find(page=_page(10_000))) == 5
        assert len(tx.outbox.find(page=_page(10_000))) == 10
    assert AuditService(store).verify().ok
    # And the store takes the same bulk afterwards, whole.
    r = cases.bulk([f"86139{i:08d}" for i in range(2000)], ActionKind.SUSPEND, actor="bob",
                   reason="den", group_ref="den:9")
    assert r.moved == 2000
    report = AuditService(store).verify()
    assert report.ok and report.checked == head[0] + 2000  # one event per case
    store.dispose()
