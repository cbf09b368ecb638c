"""List entries in SQL, versioned by the versions that added and removed them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from telshield.domain.errors import InvalidInput, NotFound
from telshield.domain.lists import (
    Colour,
    EntryKey,
    ListDiff,
    ListDiffPage,
    ListEntry,
    Source,
    TargetKind,
    entry_key,
)
from telshield.domain.paging import Page
from telshield.store.rows import chunks, naive_utc
from telshield.store.tables import heads, list_entries, list_versions

T = list_entries


def _entry(r: Any) -> ListEntry:
    return ListEntry(
        kind=TargetKind(r.kind),
        value=r.value,
        colour=Colour(r.colour),
        source=Source(r.source),
        reason=r.reason,
        actor=r.actor,
        created_at=r.created_at,
        expires_at=r.expires_at,
        value_end=r.value_end,
        police_ordered=bool(r.police_ordered),
        owner=r.owner,
        id=r.id,
        version=r.added_version,
    )


def _row(e: ListEntry, version: int) -> dict[str, Any]:
    return {
        "kind": e.kind.value,
        "value": e.value,
        "value_end": e.value_end,
        "colour": e.colour.value,
        "source": e.source.value,
        "police_ordered": e.police_ordered,
        "reason": e.reason,
        "actor": e.actor,
        "created_at": naive_utc(e.created_at),
        "expires_at": naive_utc(e.expires_at),
        "owner": e.owner,
        "added_version": version,
    }


def _when(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def _diff_sides(from_version: int, to_version: int
                ) -> tuple[sa.ColumnElement[bool], sa.ColumnElement[bool]]:
    """The conditions on an entry for being added and for being removed between two
    versions (either way round)."""
    lo, hi = sorted((from_version, to_version))
    added = sa.and_(T.c.added_version > lo, _live_at(hi))
    removed = sa.and_(T.c.added_version <= lo, T.c.removed_version > lo,
                      T.c.removed_version <= hi)
    return (removed, added) if from_version > to_version else (added, removed)


def _live_at(version: int) -> sa.ColumnElement[bool]:
    return sa.and_(
        T.c.added_version <= version,
        sa.or_(T.c.removed_version.is_(None), T.c.removed_version > version),
    )


class SqlListRepo:
    """ListRepo over one connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def new_version(self, *, actor: str, note: str, at: datetime) -> int:
        """Allocate the next list version; the row lock on the head serialises writers."""
        version = self.conn.execute(
            sa.update(heads).where(heads.c.name == "lists").values(n=heads.c.n + 1)
            .returning(heads.c.n)
        ).scalar_one()
        self.conn.execute(
            sa.insert(list_versions).values(version=version, at=naive_utc(at), actor=actor,
                                            note=note)
        )
        return int(version)

    def current_version(self) -> int:
        """The latest committed list version."""
        n = self.conn.execute(sa.select(heads.c.n).where(heads.c.name == "lists")).scalar_one()
        return int(n)

    def add(self, entries: Sequence[ListEntry], version: int) -> list[ListEntry]:
        """Insert entries at ``version``; return them with ids."""
        if not entries:
            return []
        ids = self.conn.execute(
            sa.insert(T).returning(T.c.id, sort_by_parameter_order=True),
            [_row(e, version) for e in entries],
        ).scalars().all()
        return [e.with_identity(int(i), version) for e, i in zip(entries, ids, strict=True)]

    def live_keys(self, values: Sequence[str]) -> set[EntryKey]:
        """The import keys (``domain.lists.entry_key``) of live entries with these values."""
        out: set[EntryKey] = set()
        for part in chunks(sorted(set(values)), 5000):
            rows = self.conn.execute(sa.select(T).where(T.c.value.in_(part),
                                                        T.c.removed_version.is_(None)))
            out.update(entry_key(_entry(r)) for r in rows)
        return out

    def added_at(self, version: int) -> list[ListEntry]:
        """Every entry added at ``version``, removed since or not."""
        rows = self.conn.execute(sa.select(T).where(T.c.added_version == version)
                                 .order_by(T.c.id))
        return [_entry(r) for r in rows]

    def remove(self, ids: Sequence[int], version: int) -> int:
        """Mark live entries removed at ``version``."""
        n = 0
        for part in chunks(ids, 5000):
            n += self.conn.execute(
                sa.update(T).where(T.c.id.in_(part), T.c.removed_version.is_(None))
                .values(removed_version=version)
            ).rowcount
        return n

    def get(self, id: int) -> ListEntry:
        """One entry by id."""
        r = self.conn.execute(sa.select(T).where(T.c.id == id)).first()
        if r is None:
            raise NotFound(f"no list entry {id}; list entries with GET /lists")
        return _entry(r)

    def find(
        self, *, value: str = "", kind: str = "", colour: str = "", source: str = "",
        page: Page = Page(),
    ) -> list[ListEntry]:
        """Live entries, newest first, filtered and paginated."""
        q = sa.select(T).where(T.c.removed_version.is_(None))
        for col, v in (("value", value), ("kind", kind), ("colour", colour), ("source", source)):
            if v:
                q = q.where(T.c[col] == v)
        q = q.order_by(T.c.id.desc()).limit(page.limit).offset(page.offset)
        return [_entry(r) for r in self.conn.execute(q)]

    def covering(self, number: str) -> list[ListEntry]:
        """Live number/prefix/range entries covering ``number``."""
        if not number.isdigit():
            raise InvalidInput(f"{number!r} is not a number of E.164 digits without '+'")
        prefixes = [number[:i] for i in range(1, len(number) + 1)]
        q = sa.select(T).where(
            T.c.removed_version.is_(None),
            sa.or_(
                sa.and_(T.c.kind == "number", T.c.value == number),
                sa.and_(T.c.kind == "prefix", T.c.value.in_(prefixes)),
                sa.and_(T.c.kind == "range", T.c.value <= number, T.c.value_end >= number,
                        sa.func.length(T.c.value) == len(number)),
            ),
        )
        return [_entry(r) for r in self.conn.execute(q)]

    def owned(self) -> list[ListEntry]:
        """Live entries registered to an owner (the enterprise whitelist), in id order."""
        q = sa.select(T).where(T.c.removed_version.is_(None), T.c.owner != "")
        return [_entry(r) for r in self.conn.execute(q.order_by(T.c.id))]

    def expired(self, at: datetime) -> list[int]:
        """Ids of live entries that have expired at ``at``."""
        q = sa.select(T.c.id).where(
            T.c.removed_version.is_(None), T.c.expires_at.is_not(None),
            T.c.expires_at <= naive_utc(at),
        )
        return [int(i) for i in self.conn.execute(q).scalars()]

    def at_version(self, version: int, batch: int = 100_000, kinds: Sequence[str] = ()
                   ) -> Iterator[list[ListEntry]]:
        """Every entry live at ``version``, in id order, in batches (keyset pagination)."""
        last = 0
        while True:
            q = sa.select(T).where(_live_at(version), T.c.id > last)
            if kinds:
                q = q.where(T.c.kind.in_(list(kinds)))
            rows = [_entry(r) for r in self.conn.execute(q.order_by(T.c.id).limit(batch))]
            if not rows:
                return
            yield rows
            last = rows[-1].id or 0

    def number_rows_at(self, version: int, batch: int = 1_000_000
                       ) -> Iterator[list[tuple[str, str, bool, datetime | None]]]:
        """Lean rows of the number entries live at ``version``, in batches."""
        last = 0
        cols = (T.c.id, T.c.value, T.c.colour, T.c.police_ordered, T.c.expires_at)
        while True:
            q = (sa.select(*cols).where(_live_at(version), T.c.kind == "number", T.c.id > last)
                 .order_by(T.c.id).limit(batch))
            # The driver's plain tuples: SQLAlchemy's row processing would double the cost of
            # reading millions of rows. Only a rare expiry needs converting (text on SQLite).
            result = self.conn.execute(q)
            rows = result.cursor.fetchall()
            result.close()
            if not rows:
                return
            yield [(v, c, bool(p), _when(x)) for _, v, c, p, x in rows]
            last = rows[-1][0]

    def diff(self, from_version: int, to_version: int) -> ListDiff:
        """Entries live at ``to_version`` but not ``from_version``, and the other way round."""
        added, removed = _diff_sides(from_version, to_version)
        a = tuple(_entry(r) for r in self.conn.execute(sa.select(T).where(added)
                                                       .order_by(T.c.id)))
        r = tuple(_entry(r) for r in self.conn.execute(sa.select(T).where(removed)
                                                       .order_by(T.c.id)))
        return ListDiff(from_version, to_version, a, r)

    def diff_page(self, from_version: int, to_version: int, *, after_added: int = 0,
                  after_removed: int = 0, limit: int = 500) -> ListDiffPage:
        """One page of :meth:`diff`, computed in the database: each side's entries with an id
        above its ``after_*`` (keyset pagination, id order, ``limit`` at most) and each side's
        total, counted on the version indexes without reading the entries."""
        if limit < 1:
            raise InvalidInput(f"limit {limit}: a page holds at least one entry")
        added, removed = _diff_sides(from_version, to_version)
        sides: list[tuple[tuple[ListEntry, ...], int | None, int]] = []
        for cond, after in ((added, after_added), (removed, after_removed)):
            q = sa.select(T).where(cond, T.c.id > after).order_by(T.c.id).limit(limit + 1)
            rows = [_entry(r) for r in self.conn.execute(q)]
            total = self.conn.execute(sa.select(sa.func.count()).select_from(T)
                                      .where(cond)).scalar_one()
            more = len(rows) > limit
            rows = rows[:limit]
            sides.append((tuple(rows), rows[-1].id if more else None, int(total)))
        (a, next_a, n_a), (r, next_r, n_r) = sides
        return ListDiffPage(from_version, to_version, a, r, n_a, n_r, next_a, next_r)
