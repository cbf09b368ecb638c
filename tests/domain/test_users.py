"""Roles, the permission table and masking."""

from __future__ import annotations

from datetime import datetime

import pytest

from telshield.domain.errors import Forbidden, InvalidInput
from telshield.domain.users import (
    Permission,
    Role,
    User,
    hash_key,
    mask_number,
    new_key,
    parse_name,
    parse_role,
)


def user(role: Role, active: bool = True) -> User:
    return User("u", role, "h", datetime(2026, 1, 1), active=active)


def test_admin_may_everything_and_police_little() -> None:
    assert all(user(Role.ADMIN).may(p) for p in Permission)
    assert user(Role.POLICE).may(Permission.POLICE_BLOCK)
    assert not user(Role.POLICE).may(Permission.CASES_READ)
    assert not user(Role.ANALYST).may(Permission.CASES_ACT)
    assert user(Role.AUDITOR).may(Permission.AUDIT_READ)


def test_disabled_user_may_nothing() -> None:
    with pytest.raises(Forbidden, match="may not"):
        user(Role.ADMIN, active=False).require(Permission.LISTS_READ)


def test_keys_are_random_and_hashed() -> None:
    a, b = new_key(), new_key()
    assert a != b and hash_key(a) != hash_key(b) and len(hash_key(a)) == 64


def test_roles_parse() -> None:
    assert parse_role("police") is Role.POLICE
    with pytest.raises(InvalidInput):
        parse_role("root")


def test_auditor_sees_masked_numbers() -> None:
    assert not user(Role.AUDITOR).sees_numbers and user(Role.DISPOSER).sees_numbers
    assert mask_number("8613812345678") == "138****5678"


@pytest.mark.parametrize(
    "name",
    ["ann\u200b", "a\u200bnn", "\u200dann", "ann\u00ad", "ann\x00", "ann\x1b[0m", "an\u202en",
     "ann\ufeff", "ann\nbob", ""],
)
def test_names_with_invisible_or_control_characters_are_refused(name: str) -> None:
    with pytest.raises(InvalidInput, match="name"):
        parse_name(name)


@pytest.mark.parametrize(
    ("raw", "name"),
    [("ann", "ann"), ("  ann  ", "ann"), ("\uff41\uff4e\uff4e", "ann"), ("王 伟", "王 伟")],
)
def test_names_are_nfkc_normalised(raw: str, name: str) -> None:
    # Full-width 'ａｎｎ' is 'ann': one spelling per person in the audit.
    assert parse_name(raw) == name
