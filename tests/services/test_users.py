"""API keys: made, authenticated, rotated, disabled — each change audited."""

from __future__ import annotations

import pytest

from telshield.domain.errors import Conflict, InvalidInput, Unauthenticated
from telshield.services.audit import AuditService
from telshield.services.store import FixedClock
from telshield.services.users import UserService
from telshield.store.sql import SqlStore


def test_user_keys(store: SqlStore, clock: FixedClock) -> None:
    users = UserService(store, clock)
    ann, key = users.add("ann", "disposer", actor="root")
    assert users.authenticate(key) == ann
    with pytest.raises(Conflict):
        users.add("ann", "admin", actor="root")
    with pytest.raises(InvalidInput, match="unit"):
        users.add("cop", "police", actor="root")
    with pytest.raises(InvalidInput, match="role"):
        users.add("x", "root", actor="root")
    new = users.rotate("ann", actor="root")
    with pytest.raises(Unauthenticated):
        users.authenticate(key)
    assert users.authenticate(new).name == "ann"
    users.disable("ann", actor="root")
    with pytest.raises(Unauthenticated):
        users.authenticate(new)
    with pytest.raises(Unauthenticated, match="Bearer"):
        users.authenticate("")
    actions = [e.event.action for e in AuditService(store).events()]
    assert actions == ["user.add", "user.rotate", "user.disable"]
    assert AuditService(store).verify().ok
