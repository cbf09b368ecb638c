"""The lake: Parquet per feed, partitioned by day, committed without duplicates.

Layout under the lake root::

    <feed>/day=YYYY-MM-DD/part-<ingest>-<n>.parquet   feeds with a time column
    <feed>/part-<ingest>-<n>.parquet                  dimension feeds (cells, device_intel)
    _staging/<ingest>/                                an ingest in progress (removed after)
    _ingests.jsonl                                    one line per finished ingest

A row whose key is already in the lake is not written again, so re-ingesting a file, or an
overlapping one, adds nothing. Files appear in the lake by atomic rename only.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import ibis
import orjson
import pyarrow as pa

from telshield.domain.errors import Unavailable
from telshield.feeds.schemas import FEEDS, Feed

STAGING = "_staging"
MANIFEST = "_ingests.jsonl"


def _day_of(path: Path) -> date | None:
    """The day of a file's ``day=YYYY-MM-DD`` partition folder, if it is in one."""
    for part in path.parts:
        if part.startswith("day="):
            return date.fromisoformat(part[4:])
    return None


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class CommitResult:
    """What committing a staged ingest did."""

    added: int
    already_present: int
    duplicates: int  # repeated keys within the ingest (quarantined by the caller)
    days: tuple[str, ...]
    files: tuple[str, ...]


class Lake:
    """The Parquet lake under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def feed_dir(self, feed: Feed) -> Path:
        """The folder holding one feed."""
        return self.root / feed.name

    def files(
        self, feed: Feed, since: datetime | None = None, until: datetime | None = None
    ) -> list[Path]:
        """The committed Parquet files of a feed, keeping only day partitions that overlap
        [since, until); files outside any day partition (dimension feeds, flat folders) are
        always kept."""
        d = self.feed_dir(feed)
        files = sorted(d.rglob("*.parquet")) if d.exists() else []
        if since is None and until is None:
            return files
        lo = since.date() if since else date.min
        hi = (until - timedelta(microseconds=1)).date() if until else date.max
        return [f for f in files if (day := _day_of(f)) is None or lo <= day <= hi]

    def days(self, feed: Feed) -> list[str]:
        """The day partitions of a feed, oldest first."""
        d = self.feed_dir(feed)
        if feed.time_column is None or not d.exists():
            return []
        return sorted(p.name.split("=", 1)[1] for p in d.glob("day=*") if any(p.glob("*.parquet")))

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the lake's write lock (released by the OS if the process dies)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".lock").open("w") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as e:
                raise Unavailable(
                    f"{self.root}: another ingest holds the lake's lock; wait for it to finish"
                ) from e
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def staging(self, ingest_id: str) -> Path:
        """A fresh staging folder for one ingest; stale ones from crashed runs are removed."""
        base = self.root / STAGING
        if base.exists():
            shutil.rmtree(base)
        d = base / ingest_id
        d.mkdir(parents=True)
        return d

    def commit(
        self, con: duckdb.DuckDBPyConnection, feed: Feed, staged: Path, ingest_id: str
    ) -> CommitResult:
        """Move the good staged rows into the lake, skipping keys already there.

        Staged files (``staged/stage-*.parquet``, see ``validate.stage_sql``) hold every checked
        row. A key repeated within the ingest keeps its first row (by file, then line); the
        others are written to ``staged/dups.parquet`` (``_src``, ``_line``, ``_problems``,
        ``_record``) for the caller to quarantine.
        """
        staged_files = sorted(staged.glob("stage-*.parquet"))
        if not staged_files:
            return CommitResult(0, 0, 0, (), ())
        files_sql = "[" + ", ".join(_lit(str(f)) for f in staged_files) + "]"
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW staged AS FROM read_parquet({files_sql}) WHERE _ok"
        )
        key = ", ".join(_q(k) for k in feed.key)
        total, distinct = con.execute(
            f"SELECT count(*), count(DISTINCT ({key})) FROM staged"
        ).fetchone() or (0, 0)
        source = "staged"
        if total != distinct:
            con.execute(
                "CREATE OR REPLACE TEMP TABLE ranked AS SELECT *, row_number() OVER "
                f"(PARTITION BY {key} ORDER BY _src, _line) AS _rn FROM staged"
            )
            record = ", ".join(f"{_q(c)} := {_q(c)}" for c in feed.column_names)
            con.execute(
                f"COPY (SELECT _src, _line, {_lit(', '.join(feed.key) + ': duplicate_key')} "
                f"AS _problems, CAST(to_json(struct_pack({record})) AS VARCHAR) AS _record "
                f"FROM ranked WHERE _rn > 1) TO {_lit(str(staged / 'dups.parquet'))} "
                "(FORMAT parquet)"
            )
            con.execute("CREATE OR REPLACE TEMP VIEW firsts AS SELECT * FROM ranked WHERE _rn = 1")
            source = "firsts"
        days = self._staged_days(con, feed, source)
        existing = self._existing_files(feed, days)
        cols = ", ".join(_q(c) for c in feed.column_names)
        where = ""
        if existing:
            files = "[" + ", ".join(_lit(str(f)) for f in existing) + "]"
            where = (
                f"WHERE ({key}) NOT IN (SELECT ({key}) FROM read_parquet({files}, "
                "hive_partitioning=false))"
            )
        out = staged / "out"
        part = ", day" if feed.time_column else ""
        options = f"FORMAT parquet, COMPRESSION snappy, FILENAME_PATTERN 'part-{ingest_id}-{{i}}'"
        if feed.time_column:
            options += ", PARTITION_BY (day)"
        target = out if feed.time_column else out / f"part-{ingest_id}-0.parquet"
        out.mkdir(exist_ok=True)
        added = con.execute(
            f"COPY (SELECT {cols}{part} FROM {source} {where}) TO {_lit(str(target))} ({options})"
        ).fetchone()
        n_added = int(added[0]) if added else 0
        written = sorted(out.rglob("*.parquet"))
        moved = self._move_into_lake(feed, out, written)
        return CommitResult(n_added, int(distinct) - n_added, int(total - distinct), days, moved)

    def _staged_days(
        self, con: duckdb.DuckDBPyConnection, feed: Feed, source: str
    ) -> tuple[str, ...]:
        if feed.time_column is None:
            return ()
        rows = con.execute(
            f"SELECT DISTINCT CAST(day AS VARCHAR) FROM {source} ORDER BY 1"
        ).fetchall()
        return tuple(r[0] for r in rows)

    def _existing_files(self, feed: Feed, days: tuple[str, ...]) -> list[Path]:
        d = self.feed_dir(feed)
        if feed.time_column is None:
            return self.files(feed)
        return [f for day in days for f in sorted((d / f"day={day}").glob("*.parquet"))]

    def _move_into_lake(self, feed: Feed, out: Path, written: list[Path]) -> tuple[str, ...]:
        moved = []
        for f in written:
            rel = f.relative_to(out)
            dest = self.feed_dir(feed) / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(f, dest)
            moved.append(str(dest.relative_to(self.root)))
        return tuple(moved)

    def finish(self, ingest_id: str, entry: dict[str, Any]) -> None:
        """Record a finished ingest in the manifest and remove its staging folder."""
        with (self.root / MANIFEST).open("ab") as f:
            f.write(orjson.dumps(entry) + b"\n")
            f.flush()
            os.fsync(f.fileno())
        shutil.rmtree(self.root / STAGING / ingest_id, ignore_errors=True)

    def history(self) -> list[dict[str, Any]]:
        """Every finished ingest, oldest first."""
        p = self.root / MANIFEST
        if not p.exists():
            return []
        return [orjson.loads(line) for line in p.read_bytes().splitlines() if line.strip()]

    def table(self, con: ibis.BaseBackend, feed_name: str) -> ibis.Table:
        """A lazy Ibis table over one feed (with a ``day`` column for time feeds).

        Works on any Ibis backend that reads Parquet (DuckDB, PySpark); an empty feed gives an
        empty table of the right schema.
        """
        feed = FEEDS[feed_name]
        files = self.files(feed)
        if not files:
            schema = feed.schema
            if feed.time_column:
                schema = schema.append(pa.field("day", pa.date32()))
            return ibis.memtable(schema.empty_table())
        if con.name == "duckdb":
            return con.read_parquet(
                [str(f) for f in files], table_name=f"lake_{feed.name}", hive_partitioning=True
            )
        return con.read_parquet(
            str(self.feed_dir(feed)), table_name=f"lake_{feed.name}"
        )
