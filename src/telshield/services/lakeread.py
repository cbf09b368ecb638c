"""Read feeds for detection as lazy Ibis tables, opening only the day partitions a run needs.

Works on the lake layout (``<feed>/day=YYYY-MM-DD/*.parquet``) and on a flat folder of Parquet
files per feed (the simulator's output), where the time filter prunes row groups instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from telshield.domain.errors import Unavailable
from telshield.feeds.lake import Lake
from telshield.reference.schemas import FEEDS


class Backend:
    """Where a reader's lazy tables run, and what differs by engine: how a list of Parquet
    files opens as one table, how an in-memory Arrow table becomes a lazy one, how a result is
    kept for reuse and let go of, and whether queries compile once to SQL. This one is DuckDB
    in this process (the default); ``telshield.wiring.engine`` makes the Spark one, and a
    reader never asks which it has."""

    def __init__(self, con: ibis.BaseBackend | None = None) -> None:
        self.con: ibis.BaseBackend = con if con is not None else ibis.duckdb.connect()

    def open_parquet(self, files: list[str]) -> ir.Table:
        """The files as one lazy table (no Hive partition columns: the schema has the time)."""
        return self.con.read_parquet(files, hive_partitioning=False)

    def memtable(self, table: pa.Table) -> ir.Table:
        """An in-memory Arrow table as a lazy table on this backend."""
        return ibis.memtable(table)

    def keep(self, name: str, t: ir.Table, order: Sequence[str] = ()) -> ir.Table:
        """``t`` computed once, as a temporary table called ``name`` whose rows are stored
        sorted on the columns ``order`` (so a join on them reads only the blocks whose range
        holds a key it looks for)."""
        return self.con.create_table(name, t.order_by(list(order)) if order else t, temp=True)

    def drop(self, name: str, kept: ir.Table) -> None:
        """Let go of what :meth:`keep` kept as ``name``."""
        self.con.raw_sql(f"DROP TABLE IF EXISTS {name}")

    def prepare(self, name: str, schema: pa.Schema,
                build: Callable[[ir.Table], list[ir.Table]]) -> Prepared | None:
        """``build``'s queries over an empty temporary table of inputs called ``name``,
        compiled to SQL once, to run again for any inputs loaded into that table
        (:meth:`Prepared.run`; let go of with :meth:`drop`): compiling an expression costs
        more here than running it against kept tables. A backend that binds expressions anew
        each time answers None."""
        inputs = self.con.create_table(name, schema=ibis.Schema.from_pyarrow(schema), temp=True)
        return Prepared(self.con.con, name, tuple(schema.names), tuple(
            (str(self.con.compile(q)), q.schema().to_pyarrow()) for q in build(inputs)))


class FeedReader:
    """Lazy tables over a folder holding one sub-folder of Parquet files per feed, run on
    ``backend`` (DuckDB in this process by default)."""

    def __init__(self, root: Path, backend: Backend | None = None) -> None:
        self.root = root
        self.backend = backend if backend is not None else Backend()

    @property
    def con(self) -> ibis.BaseBackend:
        """The Ibis backend the reader's tables run on (to execute them)."""
        return self.backend.con

    def memtable(self, table: pa.Table) -> ir.Table:
        """An in-memory Arrow table (a numbering plan, a list of numbers) as a lazy table on
        this reader's engine."""
        return self.backend.memtable(table)

    def keep(self, name: str, t: ir.Table, order: Sequence[str] = ()) -> ir.Table:
        """``t`` computed once and held by the backend until :meth:`drop` (see
        :meth:`Backend.keep`)."""
        return self.backend.keep(name, t, order)

    def drop(self, name: str, kept: ir.Table) -> None:
        """Let go of what :meth:`keep` or :meth:`prepare` made as ``name``."""
        self.backend.drop(name, kept)

    def prepare(self, name: str, schema: pa.Schema,
                build: Callable[[ir.Table], list[ir.Table]]) -> Prepared | None:
        """``build``'s queries compiled once where the backend does that (see
        :meth:`Backend.prepare`), else None."""
        return self.backend.prepare(name, schema, build)

    def files(self, feed: str, since: datetime | None = None,
              until: datetime | None = None) -> list[Path]:
        """Parquet files of a feed, keeping only day partitions that overlap [since, until)."""
        return Lake(self.root).files(FEEDS[feed], since, until)

    def days(self, feed: str) -> list[date]:
        """The day partitions present for a feed (empty for a flat folder)."""
        return [date.fromisoformat(d) for d in Lake(self.root).days(FEEDS[feed])]

    def table(self, feed: str, since: datetime | None = None,
              until: datetime | None = None) -> ir.Table:
        """The feed's rows (schema columns only), narrowed to [since, until) on its time column."""
        spec = FEEDS[feed]
        files = self.files(feed, since, until)
        if not files:  # on this reader's engine: Spark cannot join an unbound memtable
            return self.memtable(spec.schema.empty_table())
        t = self.backend.open_parquet([str(f) for f in files])
        t = t.select(*spec.column_names)
        col = spec.time_column
        if col is not None and since is not None:
            t = t.filter(t[col] >= ibis.timestamp(since))
        if col is not None and until is not None:
            t = t.filter(t[col] < ibis.timestamp(until))
        return t

    def require(self, feed: str) -> None:
        """Fail clearly when a feed has no data at all."""
        if not self.files(feed):
            raise Unavailable(
                f"no {feed} data under {self.root / feed}; ingest the feed first "
                f"(telshield ingest {feed} PATH)"
            )


@dataclass(frozen=True)
class Prepared:
    """Queries compiled to SQL once against the temporary table ``name`` (columns
    ``columns``) on a DuckDB connection ``con``. Not for concurrent use: a caller sharing the
    connection across threads runs one at a time."""

    con: Any  # the backend's DuckDB connection
    name: str
    columns: tuple[str, ...]
    queries: tuple[tuple[str, pa.Schema], ...]  # each query's SQL and the schema it gives

    def run(self, inputs: pa.Table) -> list[pa.Table]:
        """Each query's rows with ``inputs`` (an Arrow table with at least ``columns``) as
        the table's rows, in place of the last run's; typed as the expression was."""
        view = f"{self.name}_load"
        cols = ", ".join(f'"{c}"' for c in self.columns)
        self.con.execute(f"DELETE FROM {self.name}")
        self.con.register(view, inputs.select(list(self.columns)))
        try:
            self.con.execute(f"INSERT INTO {self.name} ({cols}) SELECT {cols} FROM {view}")
        finally:
            self.con.unregister(view)
        return [self.con.sql(sql).to_arrow_table().cast(schema)
                for sql, schema in self.queries]
