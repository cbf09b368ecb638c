"""The lake: Parquet per feed, partitioned by day, committed without duplicates.

Layout under the lake root::

    <feed>/day=YYYY-MM-DD/part-<ingest>-[<file>-]<n>.parquet   feeds with a time column
    <feed>/part-<ingest>-[<file>-]<n>.parquet                  dimension feeds (cells, ...)
    _staging/<ingest>/                              an ingest in progress (removed after)
    _ingests.jsonl                                  one line per finished ingest

A row whose key is already in the lake is not written again, so re-ingesting a file, or an
overlapping one, adds nothing. Files appear in the lake by atomic rename only, after their
names are journaled in the staging folder: the next ingest removes the files of one that died
while moving them (it has no manifest line), so a crash leaves the lake as it was.

Readers see an ingest all at once or not at all: its manifest line is its commit. A lake file
named after an ingest (``part-<ingest id>-…``) is visible only once that ingest's line is in
``_ingests.jsonl`` (read before the files are listed), so a reader listing the lake while an
ingest moves its files in, or after one died between two renames, sees none of that ingest's
files — never some days rewritten and others not. Files not named after an ingest (a folder
laid out by hand, a world's feed parts) are always visible, and so is every file of a lake that
has no manifest at all (laid out before ingests kept one; an ingest creates the manifest
before it moves anything in).
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import ibis
import numpy as np
import orjson
import pyarrow as pa

from telshield.domain.errors import Unavailable
from telshield.feeds.readers import parquet_rows
from telshield.reference.schemas import FEEDS, Feed

STAGING = "_staging"
MANIFEST = "_ingests.jsonl"
JOURNAL = "moving.json"  # in a staging folder: the lake files an ingest is moving in
# A lake file an ingest wrote: part-<ingest id>-[<file>-]<n>.parquet (services.ingest's ids).
INGEST_PART = re.compile(r"part-(\d{8}T\d{6}-[0-9a-f]{8})-")


class _Committed:
    """The ids of the finished ingests of each manifest, read incrementally: the manifest only
    grows, so each reader parses only the lines added since it last looked."""

    def __init__(self) -> None:
        # manifest -> (inode, bytes read, ids in them)
        self._seen: dict[Path, tuple[int, int, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def ids(self, manifest: Path) -> frozenset[str] | None:
        """The committed ingest ids (None: the lake has no manifest)."""
        try:
            f = manifest.open("rb")
        except FileNotFoundError:
            return None
        with f, self._lock:
            st = os.fstat(f.fileno())
            inode = st.st_ino
            seen_inode, offset, ids = self._seen.get(manifest, (inode, 0, frozenset()))
            if seen_inode != inode or st.st_size < offset:  # replaced or cut: read it afresh
                offset, ids = 0, frozenset()
            f.seek(offset)
            data = f.read()
            end = data.rfind(b"\n") + 1  # a line still being appended is not a commit yet
            new = {str(orjson.loads(line).get("ingest_id"))
                   for line in data[:end].splitlines() if line.strip()}
            if new:
                ids = ids | new
            self._seen[manifest] = (inode, offset + end, ids)
            return ids


_COMMITTED = _Committed()


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


def _files(paths: list[Path]) -> str:
    return "[" + ", ".join(_lit(str(f)) for f in paths) + "]"


def _write_options(feed: Feed, pattern: str) -> str:
    """The COPY options of every lake file: snappy, named after the ingest, by day."""
    options = f"FORMAT parquet, COMPRESSION snappy, FILENAME_PATTERN {_lit(pattern)}"
    return options + (", PARTITION_BY (day)" if feed.time_column else "")


SORT_LIMIT = 50_000_000  # rows; above it, DuckDB's distinct count (bounded memory) instead


def _keys_may_repeat(
    con: duckdb.DuckDBPyConnection, feed: Feed, files: list[Path], total: int
) -> bool:
    """Whether two of the ``total`` rows of ``files`` may share a key.

    Distinct hashes prove distinct keys (equal keys hash equal); a hash collision only sends the
    ingest to the exact path, which compares the keys themselves. Sorting the 8-byte hashes in
    memory is about three times as fast as DuckDB's distinct count, so it is used up to
    ``SORT_LIMIT`` rows (8 bytes a row, twice).
    """
    key = ", ".join(_q(k) for k in feed.key)
    source = f"read_parquet({_files(files)}, hive_partitioning=false)"
    if total > SORT_LIMIT:
        distinct = con.execute(f"SELECT count(DISTINCT hash({key})) FROM {source}").fetchall()
        return int(distinct[0][0]) != total
    table = con.sql(f"SELECT hash({key}) FROM {source}").to_arrow_table()
    hashes = np.sort(table.column(0).to_numpy())
    return bool((hashes[1:] == hashes[:-1]).any())


def _write_durably(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".partial")
    with tmp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


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
        self.rolled_back: list[str] = []  # ids of the dead ingests ``staging`` cleared

    def committed(self) -> frozenset[str] | None:
        """The ids of the finished ingests (None: the lake has no manifest yet)."""
        return _COMMITTED.ids(self.root / MANIFEST)

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
        committed = _COMMITTED.ids(self.root / MANIFEST)  # before listing: see the class doc
        files = sorted(d.rglob("*.parquet")) if d.exists() else []
        if committed is None and (self.root / MANIFEST).exists():
            return self.files(feed, since, until)  # the first ingest began meanwhile: again
        if committed is not None:
            files = [f for f in files
                     if (m := INGEST_PART.match(f.name)) is None or m.group(1) in committed]
        if since is None and until is None:
            return files
        lo = since.date() if since else date.min
        hi = (until - timedelta(microseconds=1)).date() if until else date.max
        return [f for f in files if (day := _day_of(f)) is None or lo <= day <= hi]

    def days(self, feed: Feed) -> list[str]:
        """The day partitions of a feed, oldest first."""
        if feed.time_column is None:
            return []
        return sorted({str(day) for f in self.files(feed) if (day := _day_of(f)) is not None})

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
        """A fresh staging folder for one ingest; stale ones from crashed runs are removed
        (their ids left in ``rolled_back``, for the caller to remove what else they wrote)."""
        base = self.root / STAGING
        if base.exists():
            finished = self.committed() or frozenset()
            self.rolled_back = sorted(d.name for d in base.iterdir()
                                      if d.is_dir() and d.name not in finished)
            self._roll_back(base, self.rolled_back)
            shutil.rmtree(base)
        manifest = self.root / MANIFEST
        if not manifest.exists():  # from now on readers show only committed ingests' files
            _write_durably(manifest, b"")
        d = base / ingest_id
        d.mkdir(parents=True)
        return d

    def _roll_back(self, base: Path, dead: list[str]) -> None:
        """Remove the lake files of the ``dead`` ingests (no manifest line) that died while
        moving them in (their journal lists them)."""
        for ingest_id in dead:
            journal = base / ingest_id / JOURNAL
            if journal.exists():
                for rel in orjson.loads(journal.read_bytes()):
                    (self.root / rel).unlink(missing_ok=True)

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
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW staged AS FROM read_parquet({_files(staged_files)}) "
            "WHERE _ok"
        )
        key = ", ".join(_q(k) for k in feed.key)
        total, distinct = con.execute(
            f"SELECT count(*), count(DISTINCT ({key})) FROM staged"
        ).fetchall()[0]
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
            where = f"WHERE {self._not_in(feed, existing)}"
        out = staged / "out"
        part = ", day" if feed.time_column else ""
        target = out if feed.time_column else out / f"part-{ingest_id}-0.parquet"
        out.mkdir(exist_ok=True)
        added = con.execute(
            f"COPY (SELECT {cols}{part} FROM {source} {where}) TO {_lit(str(target))} "
            f"({_write_options(feed, f'part-{ingest_id}-{{i}}')})"
        ).fetchall()[0]
        n_added = int(added[0])
        moved = self._move_into_lake(staged, self._moves(feed, out))
        return CommitResult(n_added, int(distinct) - n_added, int(total - distinct), days, moved)

    def _not_in(self, feed: Feed, existing: list[Path]) -> str:
        """A condition: the row's key is in none of the ``existing`` lake files."""
        key = ", ".join(_q(k) for k in feed.key)
        return (
            f"({key}) NOT IN (SELECT ({key}) FROM read_parquet({_files(existing)}, "
            "hive_partitioning=false))"
        )

    def direct_target(self, feed: Feed, direct: Path, ingest_id: str, n: int) -> tuple[str, str]:
        """Where the ``n``-th input file of an ingest writes its rows straight into
        ``direct`` (a staging folder), and the COPY options: those of the lake's own files."""
        direct.mkdir(parents=True, exist_ok=True)
        pattern = f"part-{ingest_id}-{n}-{{i}}"
        if feed.time_column:
            return str(direct), _write_options(feed, pattern) + ", OVERWRITE_OR_IGNORE"
        return str(direct / f"part-{ingest_id}-{n}.parquet"), _write_options(feed, pattern)

    def commit_direct(
        self, con: duckdb.DuckDBPyConnection, feed: Feed, staged: Path, direct: Path,
        ingest_id: str,
    ) -> CommitResult | None:
        """Commit rows written straight from clean input files into ``direct`` (see
        ``direct_target``); None, and nothing done, when a key repeats among them (the exact
        path then keeps the first by file and line and quarantines the others).

        Only the partitions that can hold a key already in the lake are rewritten, without
        those keys; every other file is moved into the lake as it was written.
        """
        rows = {f: parquet_rows(f) for f in sorted(direct.rglob("*.parquet"))}
        written = [f for f, n in rows.items() if n]
        total = sum(rows.values())
        if not written:
            return CommitResult(0, 0, 0, (), ())
        if _keys_may_repeat(con, feed, written, total):
            return None
        by_day: dict[str, list[Path]] = {}
        for f in written:
            by_day.setdefault(str(_day_of(f) or ""), []).append(f)
        days = tuple(d for d in sorted(by_day) if d)
        existing = self._existing_files(feed, days)
        rewrite = self._partitions_to_rewrite(con, feed, by_day, existing)
        out = staged / "out"
        added = total - sum(rows[f] for d in rewrite for f in by_day[d])
        if rewrite:
            added += self._rewrite(con, feed, [f for d in rewrite for f in by_day[d]], existing,
                                   out, ingest_id)
        moves = [
            (f, self.feed_dir(feed) / f.relative_to(direct))
            for d in sorted(by_day) if d not in rewrite for f in by_day[d]
        ]
        moves += self._moves(feed, out)
        moved = self._move_into_lake(staged, moves)
        return CommitResult(added, total - added, 0, days, moved)

    def _partitions_to_rewrite(
        self, con: duckdb.DuckDBPyConnection, feed: Feed, by_day: dict[str, list[Path]],
        existing: list[Path],
    ) -> set[str]:
        """The partitions ('' for a dimension feed) with a row whose key may be in the lake:
        those with a row whose key is in a lake file of the ingest's days (the exact path drops
        such a row). A partition without one is moved in as written, even where the lake holds
        files of that day already: checking the keys alone costs less than rewriting every
        column (a stream's batches add to the same days, batch after batch)."""
        if not existing:
            return set()
        if feed.time_column is None:
            return set(by_day)
        files = [f for d in by_day for f in by_day[d]]
        rows = con.execute(
            f"SELECT DISTINCT CAST(day AS VARCHAR) FROM read_parquet({_files(files)}, "
            "hive_partitioning=true, hive_types={'day': DATE}) "
            f"WHERE ({self._not_in(feed, existing)}) IS NOT TRUE"
        ).fetchall()
        return {r[0] for r in rows}

    def _rewrite(
        self, con: duckdb.DuckDBPyConnection, feed: Feed, files: list[Path],
        existing: list[Path], out: Path, ingest_id: str,
    ) -> int:
        """Write the rows of ``files`` whose keys are not in ``existing`` to ``out``; the count."""
        cols = ", ".join(_q(c) for c in feed.column_names)
        hive = "true, hive_types={'day': DATE}" if feed.time_column else "false"
        part = ", day" if feed.time_column else ""
        out.mkdir(exist_ok=True)
        target = out if feed.time_column else out / f"part-{ingest_id}-0.parquet"
        row = con.execute(
            f"COPY (SELECT {cols}{part} FROM read_parquet({_files(files)}, "
            f"hive_partitioning={hive}) WHERE {self._not_in(feed, existing)}) "
            f"TO {_lit(str(target))} ({_write_options(feed, f'part-{ingest_id}-{{i}}')})"
        ).fetchall()[0]
        n = int(row[0])
        if n == 0 and feed.time_column is None:
            Path(target).unlink(missing_ok=True)
        return n

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

    def _moves(self, feed: Feed, out: Path) -> list[tuple[Path, Path]]:
        """Each file written under ``out`` and its place in the lake."""
        files = sorted(out.rglob("*.parquet")) if out.exists() else []
        return [(f, self.feed_dir(feed) / f.relative_to(out)) for f in files]

    def _move_into_lake(self, staged: Path, moves: list[tuple[Path, Path]]) -> tuple[str, ...]:
        """Rename files into the lake, their names journaled first (see ``_roll_back``)."""
        moved = tuple(str(dest.relative_to(self.root)) for _, dest in moves)
        _write_durably(staged / JOURNAL, orjson.dumps(moved))
        for src, dest in moves:
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dest)
        return moved

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
