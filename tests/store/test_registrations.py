"""Contract: registration checks and staff suspensions on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from telshield.domain.errors import InvalidInput, NotFound
from telshield.domain.registrations import (
    CheckRequest,
    Decision,
    Order,
    Reason,
    StaffSuspension,
)
from telshield.store.registrations import lock_key
from telshield.store.sql import SqlStore

T0 = datetime(2026, 3, 1, 9)
H = "9f" * 32


def req(msisdn: str, **order: str) -> CheckRequest:
    return CheckRequest.new(id_hash=H, holder_kind="individual", channel_id="CH-1",
                            staff_id="ST-1", terminal_id="T-1", msisdn=msisdn,
                            order=Order.new(**order))


def test_checks(store: SqlStore) -> None:
    why = [Reason("card_limit", "too many", Decision.REFUSE)]
    with store.transaction() as tx:
        r = tx.registrations
        r.lock_id(H)
        a = r.add(req("8613800000001", ip="10.0.0.1"), Decision.ALLOW, [], actor="s", at=T0)
        r.add(req("8613800000001"), Decision.ALLOW, [], actor="s", at=T0 + timedelta(hours=1))
        r.add(req("8613800000002"), Decision.VERIFY, [], actor="s", at=T0 + timedelta(hours=2))
        r.add(req("8613800000003"), Decision.REFUSE, why, actor="s", at=T0 + timedelta(hours=3))
        assert a >= 1
    with store.transaction() as tx:
        r = tx.registrations
        assert r.granted(H, T0) == {"8613800000001": T0,
                                    "8613800000002": T0 + timedelta(hours=2)}
        assert set(r.granted(H, T0 + timedelta(hours=2))) == {"8613800000002"}
        assert r.granted("ab" * 32, T0) == {}
        assert r.count_since("staff_id", "ST-1", T0) == 4
        assert r.count_since("staff_id", "ST-1", T0 + timedelta(minutes=90)) == 2
        assert r.count_since("ip", "10.0.0.1", T0) == 1
        with pytest.raises(InvalidInput):
            r.count_since("msisdn", "8613800000001", T0)


def test_staff_suspensions(store: SqlStore) -> None:
    with store.transaction() as tx:
        r = tx.registrations
        s = r.suspend(StaffSuspension("ST-1", "bulk opening", "ann", T0))
        assert s.id is not None and r.suspension("ST-1") == s and r.suspension("ST-2") is None
    with store.transaction() as tx:
        lifted = tx.registrations.lift("ST-1", by="bob", at=T0 + timedelta(days=1))
        assert lifted.lifted_by == "bob" and not lifted.active
        with pytest.raises(NotFound):
            tx.registrations.lift("ST-1", by="bob", at=T0)
    with store.transaction(write=False) as tx:
        assert tx.registrations.suspension("ST-1") is None
        assert tx.registrations.suspensions() == []
        (old,) = tx.registrations.suspensions(active_only=False)
        assert old.lifted_at == T0 + timedelta(days=1) and old.reason == "bulk opening"


def test_lock_key_fits_a_signed_bigint() -> None:
    assert lock_key("f" * 64) == -1 and lock_key("0" * 64) == 0
    assert lock_key("7" + "f" * 63) == (1 << 63) - 1
