"""Users and API keys: make, authenticate, disable."""

from __future__ import annotations

from dataclasses import replace

import structlog

from telshield.domain.audit import AuditEvent
from telshield.domain.errors import InvalidInput, Unauthenticated
from telshield.domain.users import User, hash_key, new_key, parse_name, parse_role
from telshield.services.store import Clock, Store

log = structlog.get_logger(__name__)


class UserService:
    """User use cases; each change is audited."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store, self.clock = store, clock

    def add(self, name: str, role: str, *, actor: str, unit: str = "") -> tuple[User, str]:
        """Make a user with a fresh API key; returns the user and the key (shown only once)."""
        name = parse_name(name)
        r = parse_role(role)
        if r.value == "police" and not unit.strip():
            raise InvalidInput("a police user needs --unit: the police unit they act for")
        key = new_key()
        at = self.clock.now()
        with self.store.transaction() as tx:
            user = tx.users.add(User(name, r, hash_key(key), at, unit.strip()))
            tx.audit.append([AuditEvent(actor, "user.add", f"user:{name}", at,
                                        {"role": r.value, "unit": user.unit})])
        log.info("users.added", name=name, role=r.value)
        return user, key

    def rotate(self, name: str, *, actor: str) -> str:
        """Give a user a new key (the old one stops working); returns the new key."""
        key = new_key()
        at = self.clock.now()
        with self.store.transaction() as tx:
            user = tx.users.by_name(name)
            tx.users.save(replace(user, key_hash=hash_key(key)))
            tx.audit.append([AuditEvent(actor, "user.rotate", f"user:{name}", at, {})])
        return key

    def disable(self, name: str, *, actor: str) -> None:
        """Stop a user's key from working."""
        at = self.clock.now()
        with self.store.transaction() as tx:
            user = tx.users.by_name(name)
            tx.users.save(replace(user, active=False))
            tx.audit.append([AuditEvent(actor, "user.disable", f"user:{name}", at, {})])

    def authenticate(self, key: str) -> User:
        """The active user holding ``key``; Unauthenticated otherwise."""
        if not key:
            raise Unauthenticated("no API key: send 'Authorization: Bearer <key>' or "
                                  "'X-API-Key: <key>' (make one with `telshield users add`)")
        with self.store.transaction(write=False) as tx:
            user = tx.users.by_key_hash(hash_key(key))
        if user is None or not user.active:
            raise Unauthenticated("unknown or disabled API key; ask an admin for a new one")
        return user

    def by_key_hash(self, key_hash: str) -> User:
        """The active user whose key hashes to ``key_hash`` (a web session keeps the hash, never
        the key); Unauthenticated once the key was rotated or the user disabled."""
        with self.store.transaction(write=False) as tx:
            user = tx.users.by_key_hash(key_hash) if key_hash else None
        if user is None or not user.active:
            raise Unauthenticated("the session's key was rotated or its user disabled; log in "
                                  "again")
        return user

    def all(self) -> list[User]:
        """Every user."""
        with self.store.transaction(write=False) as tx:
            return tx.users.all()
