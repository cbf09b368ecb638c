"""Contract: users on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest

from telshield.domain.errors import Conflict, NotFound
from telshield.domain.users import Role, User
from telshield.store.sql import SqlStore

T0 = datetime(2026, 3, 1, 9)


def test_users(store: SqlStore) -> None:
    with store.transaction() as tx:
        u = tx.users.add(User("ann", Role.POLICE, "h1", T0, unit="Nanjing PSB"))
        with pytest.raises(Conflict):
            tx.users.add(User("ann", Role.ADMIN, "h2", T0))
    with store.transaction() as tx:
        assert tx.users.by_key_hash("h1") == u and tx.users.by_key_hash("nope") is None
        tx.users.save(replace(u, active=False))
        assert not tx.users.by_name("ann").active
        assert [x.name for x in tx.users.all()] == ["ann"]
        with pytest.raises(NotFound):
            tx.users.by_name("bob")
