"""Copying one store into another: the embedded SQLite store of a pilot into the PostgreSQL an
operator runs in production, say. Every table of the schema, in foreign-key order, its rows as
they are (ids, times, the audit chain's events and head), in one transaction on the target, read
from one snapshot of the source; then PostgreSQL's id sequences are moved past the copied ids,
so that the next row written there gets a fresh id. The target must be migrated to the same
revision and hold no rows: a copy never merges into, or overwrites, another store."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from telshield.domain.errors import Conflict
from telshield.store.tables import metadata

BATCH = 5_000

# Rows a fresh migration writes itself: the writers' counters at zero. A target holding only
# these is empty, and the copy replaces them with the source's.
_SEEDED: dict[str, Callable[[sa.Table], sa.ColumnElement[bool]]] = {"heads": lambda t: t.c.n == 0}


def copy_rows(source: Engine, target: Engine, *, batch: int = BATCH) -> dict[str, int]:
    """Copy every table's rows from ``source`` into the empty ``target``; the rows copied per
    table. Conflict, with nothing written, when the target holds any row."""
    counts: dict[str, int] = {}
    with source.connect() as src, target.begin() as dst:
        src = src.execution_options(telshield_read=True)  # SQLite: a read, no write lock
        if source.dialect.name == "postgresql":
            src = src.execution_options(isolation_level="REPEATABLE READ")
        held = [t.name for t in metadata.sorted_tables if _has_rows(dst, t)]
        if held:
            raise Conflict(f"the target store is not empty ({', '.join(held)} hold rows): "
                           "copy into a new, empty database or schema")
        with src.begin():  # one snapshot of the source for every table
            for t in metadata.sorted_tables:
                counts[t.name] = _copy_table(src, dst, t, batch)
        if target.dialect.name == "postgresql":
            _move_sequences(dst)
    return counts


def row_counts(engine: Engine) -> dict[str, int]:
    """Each table's row count."""
    with engine.connect() as c:
        c = c.execution_options(telshield_read=True)
        return {t.name: int(c.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())
                for t in metadata.sorted_tables}


def _has_rows(c: Connection, t: sa.Table) -> bool:
    q = sa.select(sa.literal(1)).select_from(t).limit(1)
    if t.name in _SEEDED:
        q = q.where(sa.not_(_SEEDED[t.name](t)))
    return c.execute(q).first() is not None


def _copy_table(src: Connection, dst: Connection, t: sa.Table, batch: int) -> int:
    if t.name in _SEEDED:
        dst.execute(t.delete())
    n = 0
    rows = src.execution_options(yield_per=batch).execute(
        sa.select(t).order_by(*t.primary_key.columns))
    for part in rows.partitions():
        dst.execute(t.insert(), [r._asdict() for r in part])
        n += len(part)
    return n


def _move_sequences(dst: Connection) -> None:
    # Rows were written with their ids, which leaves a serial or identity column's sequence
    # at its start: the next insert would clash with a copied id.
    for t in metadata.sorted_tables:
        pk = list(t.primary_key.columns)
        if len(pk) != 1:
            continue
        seq = dst.execute(sa.text("SELECT pg_get_serial_sequence(:t, :c)"),
                          {"t": t.name, "c": pk[0].name}).scalar()
        if seq is None:  # not an id the database hands out
            continue
        top = dst.execute(sa.select(sa.func.max(pk[0]))).scalar()
        dst.execute(sa.text("SELECT setval(:s, :v, :called)"),
                    {"s": seq, "v": top if top is not None else 1, "called": top is not None})
