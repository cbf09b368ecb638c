"""Users, roles and the one table of what each role may do."""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from telshield.domain.errors import Forbidden, InvalidInput
from telshield.domain.numbers import mask


class Role(StrEnum):
    """What a user is there for."""

    ADMIN = "admin"
    ANALYST = "analyst"
    DISPOSER = "disposer"
    POLICE = "police"
    AUDITOR = "auditor"
    SALES = "sales"  # the sales system, asking the registration check (入网核验)


class Permission(StrEnum):
    """Something a route or command does that a role may or may not do."""

    LISTS_READ = "lists.read"
    LISTS_WRITE = "lists.write"
    POLICE_BLOCK = "lists.police_block"
    ALERTS_READ = "alerts.read"
    CASES_READ = "cases.read"
    CASES_ACT = "cases.act"
    OFFNET_EXPORT = "offnet.export"  # report lines with numbers in full, for their operators
    APPEALS_READ = "appeals.read"
    APPEALS_FILE = "appeals.file"
    APPEALS_DECIDE = "appeals.decide"
    AUDIT_READ = "audit.read"
    OUTBOX = "outbox"
    USERS_MANAGE = "users.manage"
    REGISTRATIONS_CHECK = "registrations.check"
    REGISTRATIONS_NUMBERS = "registrations.numbers"  # the numbers under an ID, masked
    REGISTRATIONS_STAFF = "registrations.staff"  # suspend and lift staff IDs
    LISTS_WIDE_WHITE = "lists.wide_white"  # white prefixes/ranges wider than the bound (admin)
    GANGS_READ = "gangs.read"  # card-trafficking gangs and their cards
    REGISTRATIONS_RISK = "registrations.risk"  # risk ranking and batch audit
    HOTSPOTS_READ = "hotspots.read"  # out-of-town concentration hotspots and their numbers
    DENS_READ = "dens.read"  # GOIP dens, their place and numbers
    TRACE = "trace"  # trace a number (溯源): the numbers linked to it
    POLICE_REQUEST = "police.request"  # a unit's requests and clues, scoped to the unit
    POLICE_HANDLE = "police.handle"  # the operator's side: prepare, approve, feedback, SLA
    BUNDLES_READ = "bundles.read"  # clue bundles: a police clue's related numbers
    BUNDLES_DECIDE = "bundles.decide"  # propose, confirm (disposing) or reject a clue bundle
    RULES_READ = "rules.read"  # the rules in force and their backtest figures (web)


_P, _R = Permission, Role
GRANTS: dict[Role, frozenset[Permission]] = {
    _R.ADMIN: frozenset(Permission),
    _R.ANALYST: frozenset(
        {_P.LISTS_READ, _P.LISTS_WRITE, _P.ALERTS_READ, _P.CASES_READ, _P.APPEALS_READ,
         _P.OFFNET_EXPORT, _P.REGISTRATIONS_STAFF, _P.GANGS_READ,
         _P.REGISTRATIONS_RISK, _P.HOTSPOTS_READ, _P.DENS_READ, _P.TRACE, _P.POLICE_HANDLE,
         _P.BUNDLES_READ, _P.BUNDLES_DECIDE, _P.RULES_READ}
    ),
    _R.DISPOSER: frozenset(
        {
            _P.LISTS_READ,
            _P.LISTS_WRITE,
            _P.ALERTS_READ,
            _P.CASES_READ,
            _P.CASES_ACT,
            _P.OFFNET_EXPORT,
            _P.APPEALS_READ,
            _P.APPEALS_FILE,
            _P.APPEALS_DECIDE,
            _P.POLICE_HANDLE,
        }
    ),
    _R.POLICE: frozenset({_P.LISTS_READ, _P.POLICE_BLOCK, _P.TRACE, _P.POLICE_REQUEST}),
    _R.AUDITOR: frozenset(
        {_P.LISTS_READ, _P.ALERTS_READ, _P.CASES_READ, _P.APPEALS_READ, _P.AUDIT_READ,
         _P.GANGS_READ, _P.HOTSPOTS_READ, _P.DENS_READ,
         _P.BUNDLES_READ}  # auditors: numbers masked
    ),
    _R.SALES: frozenset({_P.REGISTRATIONS_CHECK, _P.REGISTRATIONS_NUMBERS}),
}

# Roles that see numbers in full; the others see them masked.
SEES_NUMBERS = frozenset({Role.ADMIN, Role.ANALYST, Role.DISPOSER, Role.POLICE})


def parse_role(value: str) -> Role:
    """The role called ``value`` (raises InvalidInput listing the valid ones)."""
    try:
        return Role(value)
    except ValueError:
        raise InvalidInput(
            f"unknown role {value!r}; use one of {[r.value for r in Role]}"
        ) from None


NAME_MAX = 128
# Unicode categories a name may not hold: controls (Cc), format characters such as the
# zero-width space and the right-to-left override (Cf), line and paragraph separators,
# private-use, surrogate and unassigned code points. Each makes one name look like another.
_INVISIBLE = frozenset({"Cc", "Cf", "Zl", "Zp", "Co", "Cs", "Cn"})


def parse_name(value: str) -> str:
    """A user's name in its one spelling (NFKC, trimmed); InvalidInput for an empty or long
    name, or one with invisible or control characters, which would pass in the audit for
    another user's."""
    name = unicodedata.normalize("NFKC", value).strip()
    if not 1 <= len(name) <= NAME_MAX:
        raise InvalidInput(f"a user needs a name of 1-{NAME_MAX} characters")
    bad = next((c for c in name if unicodedata.category(c) in _INVISIBLE), None)
    if bad is not None:
        raise InvalidInput(
            f"user name {name!r} holds the invisible or control character U+{ord(bad):04X} "
            f"({unicodedata.name(bad, unicodedata.category(bad))}): use visible characters only")
    return name


@dataclass(frozen=True)
class User:
    """Someone (or some system) holding an API key."""

    name: str
    role: Role
    key_hash: str
    created_at: datetime
    unit: str = ""  # the police unit, for police users
    active: bool = True
    id: int | None = None

    def may(self, permission: Permission) -> bool:
        """Whether this user's role grants ``permission``."""
        return self.active and permission in GRANTS[self.role]

    def require(self, permission: Permission) -> None:
        """Raise Forbidden unless this user may do ``permission``."""
        if not self.may(permission):
            raise Forbidden(
                f"user {self.name!r} (role {self.role.value}) may not {permission.value}; "
                "ask an admin for a key with a role that may"
            )

    @property
    def sees_numbers(self) -> bool:
        """Whether numbers are shown to this user in full."""
        return self.role in SEES_NUMBERS


def new_key() -> str:
    """A fresh API key (shown once; only its hash is kept)."""
    return "tsk_" + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """The stored form of an API key."""
    return hashlib.sha256(key.encode()).hexdigest()


def mask_number(number: str) -> str:
    """A number as shown to roles that need not see it (8613812345678 -> 138****5678)."""
    if len(number) == 13 and number[:3] == "861" and number[3] in "3456789" and number.isdigit():
        # Chinese mobiles, nearly every number a bulk disposal notifies: same as ``mask``.
        return number[2:5] + "****" + number[-4:]
    return mask(number)
