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


class FeedReader:
    """Lazy tables over a folder holding one sub-folder of Parquet files per feed, on the
    backend ``con`` (DuckDB by default; ``telshield.wiring.engine`` makes a Spark one, with the
    ``open_parquet`` that opens a list of files there and the ``memtable`` that hands it an
    in-memory Arrow table)."""

    def __init__(self, root: Path, con: ibis.BaseBackend | None = None, *,
                 open_parquet: Callable[[list[str]], ir.Table] | None = None,
                 memtable: Callable[[pa.Table], ir.Table] | None = None) -> None:
        self.root = root
        self.con = con if con is not None else ibis.duckdb.connect()
        self.open_parquet = open_parquet
        self._memtable = memtable

    def memtable(self, table: pa.Table) -> ir.Table:
        """An in-memory Arrow table (a numbering plan, a list of numbers) as a lazy table on
        this reader's engine."""
        return self._memtable(table) if self._memtable is not None else ibis.memtable(table)

    def keep(self, name: str, t: ir.Table, order: Sequence[str] = ()) -> ir.Table:
        """``t`` computed once and held by the backend until :meth:`drop`: a temporary table
        called ``name`` on DuckDB, its rows stored sorted on the columns ``order`` (so a join
        on them reads only the blocks whose range holds a key it looks for), a cached frame on
        Spark (unsorted: Ibis's ``cache``, whose DuckDB release does not run on the pinned
        Ibis and DuckDB)."""
        if self.con.name == "pyspark":
            return t.cache()
        return self.con.create_table(name, t.order_by(list(order)) if order else t, temp=True)

    def drop(self, name: str, kept: ir.Table) -> None:
        """Let go of what :meth:`keep` kept as ``name``."""
        if self.con.name == "pyspark":
            kept.release()
        else:
            self.con.raw_sql(f"DROP TABLE IF EXISTS {name}")

    def prepare(self, name: str, schema: pa.Schema,
                build: Callable[[ir.Table], list[ir.Table]]) -> Prepared | None:
        """``build``'s queries over an empty temporary table of inputs called ``name``,
        compiled to SQL once, to run again for any inputs loaded into that table
        (:meth:`Prepared.run`; let go of with :meth:`drop`): on DuckDB, where compiling an
        expression costs more than running it against kept tables. None on Spark, which
        binds the expressions anew."""
        if self.con.name == "pyspark":
            return None
        inputs = self.con.create_table(name, schema=ibis.Schema.from_pyarrow(schema), temp=True)
        return Prepared(self.con.con, name, tuple(schema.names), tuple(
            (str(self.con.compile(q)), q.schema().to_pyarrow()) for q in build(inputs)))

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
        paths = [str(f) for f in files]
        t = (self.open_parquet(paths) if self.open_parquet is not None
             else self.con.read_parquet(paths, hive_partitioning=False))
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
        return [self.con.execute(sql).to_arrow_table().cast(schema)
                for sql, schema in self.queries]
