"""Users and their API key hashes in SQL."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from telshield.domain.errors import Conflict, NotFound
from telshield.domain.users import Role, User
from telshield.store.rows import naive_utc
from telshield.store.tables import users

U = users


def _user(r: Any) -> User:
    return User(name=r.name, role=Role(r.role), key_hash=r.key_hash, created_at=r.created_at,
                unit=r.unit, active=bool(r.active), id=int(r.id))


class SqlUserRepo:
    """UserRepo over one connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, user: User) -> User:
        """Insert a user; Conflict if the name is taken."""
        if self.conn.execute(sa.select(U.c.id).where(U.c.name == user.name)).first():
            raise Conflict(f"a user called {user.name!r} exists; pick another name")
        i = self.conn.execute(
            sa.insert(U).returning(U.c.id).values(
                name=user.name, role=user.role.value, key_hash=user.key_hash, unit=user.unit,
                created_at=naive_utc(user.created_at), active=user.active,
            )
        ).scalar_one()
        return User(user.name, user.role, user.key_hash, user.created_at, user.unit, user.active,
                    int(i))

    def by_key_hash(self, key_hash: str) -> User | None:
        """The user holding a key."""
        r = self.conn.execute(sa.select(U).where(U.c.key_hash == key_hash)).first()
        return None if r is None else _user(r)

    def by_name(self, name: str) -> User:
        """One user by name."""
        r = self.conn.execute(sa.select(U).where(U.c.name == name)).first()
        if r is None:
            raise NotFound(f"no user called {name!r}; see `telshield users list`")
        return _user(r)

    def save(self, user: User) -> None:
        """Write back role, unit, active flag and key hash."""
        self.conn.execute(
            sa.update(U).where(U.c.id == user.id).values(
                role=user.role.value, unit=user.unit, active=user.active, key_hash=user.key_hash
            )
        )

    def all(self) -> list[User]:
        """Every user, by name."""
        return [_user(r) for r in self.conn.execute(sa.select(U).order_by(U.c.name))]
