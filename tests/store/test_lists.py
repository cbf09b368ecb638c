"""Contract: list repository on SQLite and PostgreSQL — versions, removal, coverage, diff."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from telshield.domain.errors import InvalidInput, NotFound
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


def test_paged_diff_equals_the_full_diff(store: SqlStore) -> None:
    """Walking the keyset pages of each side, both ways round, gives the full diff, and the
    totals are the full diff's sizes."""
    with store.transaction() as tx:
        v1 = tx.lists.new_version(actor="t", note="one", at=T0)
        first = tx.lists.add([e(f"86138000{i:05d}") for i in range(23)], v1)
    with store.transaction() as tx:
        v2 = tx.lists.new_version(actor="t", note="two", at=T0)
        tx.lists.add([e(f"86139000{i:05d}", "white") for i in range(17)], v2)
        tx.lists.remove([x.id or 0 for x in first[::3]], v2)
    with store.transaction() as tx:
        v3 = tx.lists.new_version(actor="t", note="three", at=T0)
        tx.lists.add([e("86170", kind="prefix")], v3)
        tx.lists.remove([first[1].id or 0], v3)
    with store.transaction() as tx:
        for lo, hi in ((0, v3), (v1, v2), (v1, v3), (v2, v3), (v3, v1), (v2, v2)):
            full = tx.lists.diff(lo, hi)
            for limit in (1, 4, 500):
                added: list[ListEntry] = []
                removed: list[ListEntry] = []
                after_a = after_r = 0
                while True:
                    p = tx.lists.diff_page(lo, hi, after_added=after_a, after_removed=after_r,
                                           limit=limit)
                    assert (p.added_total, p.removed_total) == (len(full.added),
                                                               len(full.removed))
                    assert len(p.added) <= limit and len(p.removed) <= limit
                    if after_a is not None:
                        added += p.added
                    if after_r is not None:
                        removed += p.removed
                    after_a, after_r = p.next_added, p.next_removed
                    if after_a is None and after_r is None:
                        break
                    after_a = after_a if after_a is not None else 10**9
                    after_r = after_r if after_r is not None else 10**9
                assert tuple(added) == full.added and tuple(removed) == full.removed
        assert len(tx.lists.diff(v1, v3).removed) == 9  # 8 in v2, 1 in v3
        with pytest.raises(InvalidInput, match="limit"):
            tx.lists.diff_page(v1, v2, limit=0)
