"""Contract: list repository on SQLite and PostgreSQL — versions, removal, coverage, diff."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from telshield.domain.errors import NotFound
from telshield.domain.lists import ListEntry
from telshield.domain.paging import Page
from telshield.store.sql import SqlStore

T0 = datetime(2026, 3, 1, 9)


def e(value: str, colour: str = "black", kind: str = "number", end: str = "",
      expires: datetime | None = None) -> ListEntry:
    return ListEntry.new(kind, value, colour, source="manual", reason="r", actor="t", at=T0,
                         value_end=end, expires_at=expires)


def test_versions_remove_and_diff(store: SqlStore) -> None:
    with store.transaction() as tx:
        assert tx.lists.current_version() == 0
        v1 = tx.lists.new_version(actor="t", note="first", at=T0)
        a, b = tx.lists.add([e("8613800000001"), e("8613800000002", "white")], v1)
    with store.transaction() as tx:
        v2 = tx.lists.new_version(actor="t", note="second", at=T0)
        (c,) = tx.lists.add([e("86170", kind="prefix")], v2)
        assert tx.lists.remove([a.id or 0], v2) == 1
        assert tx.lists.remove([a.id or 0], v2) == 0  # already gone
    with store.transaction() as tx:
        assert (v1, v2, tx.lists.current_version()) == (1, 2, 2)
        at1 = [x.value for batch in tx.lists.at_version(1) for x in batch]
        at2 = [x.value for batch in tx.lists.at_version(2, batch=1) for x in batch]
        assert at1 == ["8613800000001", "8613800000002"]
        assert at2 == ["8613800000002", "86170"]
        d = tx.lists.diff(1, 2)
        assert [x.id for x in d.added] == [c.id] and [x.id for x in d.removed] == [a.id]
        back = tx.lists.diff(2, 1)
        assert back.added == d.removed and back.removed == d.added
        assert tx.lists.get(a.id or 0).value == "8613800000001"  # history stays readable
        assert [x.value for x in tx.lists.find(colour="white")] == ["8613800000002"]
        assert b.id is not None


def test_covering_number_prefix_and_range(store: SqlStore) -> None:
    with store.transaction() as tx:
        v = tx.lists.new_version(actor="t", note="n", at=T0)
        tx.lists.add([
            e("8613812345678"), e("861381", kind="prefix"),
            e("8613800000000", kind="range", end="8613899999999", colour="grey"),
            e("8613912345678"), e("123456789012345", kind="imei"),
        ], v)
    with store.transaction() as tx:
        got = sorted(x.kind.value for x in tx.lists.covering("8613812345678"))
        assert got == ["number", "prefix", "range"]
        assert tx.lists.covering("8615000000000") == []


def test_expired_and_paging(store: SqlStore) -> None:
    with store.transaction() as tx:
        v = tx.lists.new_version(actor="t", note="n", at=T0)
        tx.lists.add([e(f"86138000000{i:02d}", expires=T0 + timedelta(hours=i + 1))
                      for i in range(10)], v)
    with store.transaction() as tx:
        assert len(tx.lists.expired(T0 + timedelta(hours=3))) == 3
        first = tx.lists.find(page=Page(limit=4))
        second = tx.lists.find(page=Page(limit=4, offset=4))
        assert len(first) == 4 and not {x.id for x in first} & {x.id for x in second}


def test_missing_entry(store: SqlStore) -> None:
    with store.transaction() as tx, pytest.raises(NotFound):
        tx.lists.get(424242)


def test_a_failed_transaction_leaves_no_version(store: SqlStore) -> None:
    with pytest.raises(RuntimeError), store.transaction() as tx:
        v = tx.lists.new_version(actor="t", note="n", at=T0)
        tx.lists.add([e("8613800000001")], v)
        raise RuntimeError("boom")
    with store.transaction() as tx:
        assert tx.lists.current_version() == 0 and tx.lists.find() == []
