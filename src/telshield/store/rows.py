"""What every repository shares: times as the store keeps them, IN-list slices, and the fast
executemany path for bulks. Repositories import this and ``tables``, never each other or the
unit of work (an import-linter contract keeps it so)."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

T = TypeVar("T")


def naive_utc(at: datetime | None) -> datetime | None:
    """A time as the store keeps it: UTC without a zone (aware times are converted)."""
    if at is None or at.tzinfo is None:
        return at
    return at.astimezone(UTC).replace(tzinfo=None)


Span = tuple[datetime, datetime]


def span_counts(conn: Connection, key: Any, at: Any, spans: Sequence[Span], *,
                also: Any = None) -> list[tuple[dict[str, int], dict[str, int]]]:
    """For each span [start, end) of ``spans`` (store time), how many rows fall in it per value
    of ``key``, and how many of those also meet the condition ``also`` (empty without one),
    in one query: the rows of every span are read once (a range on ``at``'s index each) and
    counted into one column per span, instead of one query per span and condition."""
    if not spans:
        return []
    inside = [sa.and_(at >= naive_utc(s), at < naive_utc(e)) for s, e in spans]
    cols = [sa.func.count().filter(c).label(f"n{i}") for i, c in enumerate(inside)]
    if also is not None:
        cols += [sa.func.count().filter(sa.and_(c, also)).label(f"a{i}")
                 for i, c in enumerate(inside)]
    rows = conn.execute(sa.select(key, *cols).where(sa.or_(*inside)).group_by(key)).all()
    out: list[tuple[dict[str, int], dict[str, int]]] = []
    for i in range(len(spans)):
        n = {str(r[0]): int(r[1 + i]) for r in rows if r[1 + i]}
        a = ({str(r[0]): int(r[1 + len(spans) + i]) for r in rows if r[1 + len(spans) + i]}
             if also is not None else {})
        out.append((n, a))
    return out


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """``items`` in slices of at most ``size`` (keeps IN-lists under driver limits)."""
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _processor(type_: Any, dialect: Any) -> Any:
    proc = type_.dialect_impl(dialect).bind_processor(dialect)
    if proc is not None and isinstance(type_, sa.DateTime):
        # A bulk stamps most rows with the same few times: convert each time once.
        return functools.lru_cache(maxsize=4096)(proc)
    return proc


def fast_executemany(conn: Connection, stmt: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Run ``stmt`` once per row through the driver's own executemany: the statement is
    compiled once and values converted by the column types, without SQLAlchemy's per-row work
    (several times faster for the hundreds of thousands of rows of a bulk disposal)."""
    if not rows:
        return
    dialect = conn.dialect
    compiled = stmt.compile(dialect=dialect, column_keys=list(rows[0]))
    procs = {name: _processor(b.type, dialect) for name, b in compiled.binds.items()}
    names = list(compiled.positiontup or ()) if compiled.positional else list(procs)
    conv = [(n, procs[n]) for n in names]
    params: list[Any]
    if compiled.positional:
        params = [tuple(p(r[n]) if p else r[n] for n, p in conv) for r in rows]
    else:
        params = [{n: (p(r[n]) if p else r[n]) for n, p in conv} for r in rows]
    conn.exec_driver_sql(compiled.string, params)
