"""Ingest: read feed files, validate, quarantine bad rows, commit new rows to the lake.

Two paths. The direct one, tried first with the ``auto`` reader, writes the good rows of each
file straight into lake files in one pass and keeps them when every file turns out clean (no
bad, malformed or blank record and no repeated key): the common case, at one write per row. The
exact one, taken otherwise, stages every row with its line so that each bad row and repeat is
quarantined with its file and line; a file with problems costs a second pass.
"""

from __future__ import annotations

import shutil
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import structlog

from telshield.domain.clock import feed_now
from telshield.domain.errors import InvalidInput
from telshield.feeds import quarantine
from telshield.feeds.lake import CommitResult, Lake
from telshield.feeds.readers import (
    BadRecord,
    csv_header,
    duckdb_csv_source,
    duckdb_parquet_source,
    feed_files,
    parquet_rows,
    physical_lines,
    read_chunks,
)
from telshield.feeds.validate import Bounds, direct_sql, source_types, stage_sql
from telshield.reference.schemas import FEEDS, Feed, feed

log = structlog.get_logger(__name__)

# Reference feeds first, so a later run can check facts against them.
INGEST_ORDER = (
    "device_intel",
    "cells",
    "sanctions",
    "subscribers",
    "orders",
    "clues",
    "roaming",
    "calls",
    "sms",
)

Progress = Callable[[int], None]  # called with bytes of input consumed


@dataclass
class FileReport:
    """What happened to one input file."""

    path: str
    rows_read: int = 0
    quarantined: int = 0


@dataclass
class IngestReport:
    """What one ingest run did."""

    ingest_id: str
    feed: str
    files: list[FileReport] = field(default_factory=list)
    added: int = 0
    already_present: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)
    quarantine_file: str | None = None
    days: tuple[str, ...] = ()
    # "direct": every file was clean, its rows written once, straight into lake files;
    # "exact": rows staged with their lines first, bad rows and repeated keys quarantined.
    path: str = "exact"

    @property
    def rows_read(self) -> int:
        """Rows read from every file."""
        return sum(f.rows_read for f in self.files)


@dataclass(frozen=True)
class IngestOptions:
    """Where the lake and quarantine live and how to read."""

    lake_dir: Path
    quarantine_dir: Path
    chunk_rows: int = 1_000_000
    earliest: str = "2000-01-01"
    future_slack_days: int = 1
    reader: str = "auto"  # "auto": DuckDB streams whole files; "chunked": pyarrow chunks
    memory_limit: str = "4GB"  # DuckDB's working memory; beyond it, it spills to staging


def ingest(
    feed_name: str,
    paths: list[Path],
    options: IngestOptions,
    *,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Ingest files (or directories of files) of one feed into the lake; idempotent."""
    spec = feed(feed_name)
    files = feed_files(paths)
    now = now or feed_now()  # the feeds' timestamps are feed time: so is "the future"
    bounds = Bounds.around(now, options.earliest, options.future_slack_days)
    lake = Lake(options.lake_dir)
    ingest_id = now.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    report = IngestReport(ingest_id, spec.name)
    qfile = options.quarantine_dir / spec.name / f"{ingest_id}.parquet"
    with lake.lock():
        staged = lake.staging(ingest_id)
        con = duckdb.connect()
        try:
            con.execute(f"SET temp_directory = '{staged / 'spill'}'")
            con.execute(f"SET memory_limit = '{options.memory_limit}'")
            reported = 0
            if options.reader == "auto":
                rows, result = _direct(con, lake, spec, bounds, files, staged, ingest_id, progress)
                reported = len(rows)
                if result is not None:
                    report.path = "direct"
                    report.files = [FileReport(str(f), n) for f, n in zip(files, rows, strict=True)]
                    report.added, report.already_present = result.added, result.already_present
                    report.days = result.days
            if report.path == "exact":
                _exact(con, lake, spec, bounds, files, staged, options, report, qfile, now,
                       _skip(progress, reported))
        finally:
            con.close()
        if report.quarantined:
            report.quarantine_file = str(qfile)
            by_file = quarantine.per_source(qfile)
            for fr in report.files:
                fr.quarantined = by_file.get(fr.path, 0)
        lake.finish(ingest_id, _manifest_entry(report, now))
    log.info(
        "ingest.done", feed=spec.name, ingest_id=ingest_id, path=report.path,
        rows=report.rows_read, added=report.added, already_present=report.already_present,
        quarantined=sum(report.quarantined.values()),
    )
    return report


def _skip(progress: Progress | None, files: int) -> Progress | None:
    """``progress`` without the reports of the first ``files`` files (already reported)."""
    if progress is None or files == 0:
        return progress
    seen = 0

    def report(n: int) -> None:
        nonlocal seen
        seen += 1
        if seen > files:
            progress(n)

    return report


def _direct(
    con: duckdb.DuckDBPyConnection, lake: Lake, spec: Feed, bounds: Bounds, files: list[Path],
    staged: Path, ingest_id: str, progress: Progress | None,
) -> tuple[list[int], CommitResult | None]:
    """The fast path, when every file is clean: each file's good rows are written once, straight
    into lake files, and committed. Return the rows of each file done, and the commit, or None
    when the exact path must run (nothing of this attempt is left in the lake or staging)."""
    direct = staged / "direct"
    rows: list[int] = []
    result = None
    for n, path in enumerate(files):
        written = _direct_file(con, lake, spec, bounds, path, n, direct, ingest_id)
        if written is None:
            break
        rows.append(written)
        if progress:
            progress(path.stat().st_size)
    else:
        result = lake.commit_direct(con, spec, staged, direct, ingest_id)
        if result is None:
            log.info("ingest.exact_path", feed=spec.name, why="a key repeats within the ingest")
    if result is None:
        shutil.rmtree(direct, ignore_errors=True)
    return rows, result


def _direct_file(
    con: duckdb.DuckDBPyConnection, lake: Lake, spec: Feed, bounds: Bounds, path: Path, n: int,
    direct: Path, ingest_id: str,
) -> int | None:
    """Write the rows of one file straight to ``direct``; return how many, or None when the file
    is not clean (a row fails a check, a record is malformed or blank, or spans lines)."""
    csv = path.suffix != ".parquet"
    if csv:
        # No rejects table: a malformed record (wrong field count, bad bytes) is an error, and
        # so is a number or timestamp that does not parse, since DuckDB's reader parses them.
        source = duckdb_csv_source(
            path, spec, csv_header(path, spec), None, lines=False, types=source_types(spec)
        )
    else:
        source = duckdb_parquet_source(path, spec, lines=False)
    target, copy_options = lake.direct_target(spec, direct, ingest_id, n)
    sql = direct_sql(spec, bounds, source, target, copy_options, read_typed=csv)
    with ThreadPoolExecutor(1) as pool:
        # Lines are counted while DuckDB copies (both let go of the GIL).
        lines = pool.submit(physical_lines, path) if csv else None
        try:
            written = _copy(con, sql)
        except duckdb.Error as e:
            log.info("ingest.exact_path", file=str(path), why=str(e).splitlines()[0])
            return None
    # The COPY succeeded, so every record DuckDB read passed every check and was written: a bad
    # row or a malformed record stops it with an error. What is left to rule out is a file that
    # DuckDB splits into records differently from the exact reader, which keeps physical lines:
    # a blank line, or a record whose quoted field spans lines, uses up a line without giving a
    # record. So rows written == lines - 1 (the header) means every line after the header is one
    # good record, now written. A Parquet file's records are the rows in its metadata.
    records = lines.result() - 1 if lines else parquet_rows(path)
    if written != records:
        log.info("ingest.exact_path", file=str(path), records=records, written=written)
        return None
    return written


def _exact(
    con: duckdb.DuckDBPyConnection, lake: Lake, spec: Feed, bounds: Bounds, files: list[Path],
    staged: Path, options: IngestOptions, report: IngestReport, qfile: Path, now: datetime,
    progress: Progress | None,
) -> None:
    """The exact path: every row staged with its line, bad ones and repeats quarantined."""
    structural: list[tuple[int, BadRecord]] = []
    for i, path in enumerate(files):
        fr = FileReport(str(path))
        report.files.append(fr)
        fr.rows_read = _stage_file(con, spec, bounds, path, i, staged, options, structural)
        if progress:
            progress(path.stat().st_size)
    result = lake.commit(con, spec, staged, report.ingest_id)
    report.added, report.already_present = result.added, result.already_present
    report.days = result.days
    parts = sorted(staged.glob("stage-*.parquet")) + _structural_file(staged, structural)
    if (staged / "dups.parquet").exists():
        parts.append(staged / "dups.parquet")
    report.quarantined = quarantine.write(
        con, parts, [str(f) for f in files], qfile,
        feed=spec.name, ingest_id=report.ingest_id, at=now,
    )


def _stage_file(
    con: duckdb.DuckDBPyConnection, spec: Feed, bounds: Bounds, path: Path, i: int,
    staged: Path, options: IngestOptions, structural: list[tuple[int, BadRecord]],
) -> int:
    """Check one file into staging; return the records read."""
    out = staged / f"stage-{i:05d}.parquet"
    if path.suffix == ".parquet":
        return _copy(con, stage_sql(spec, bounds, duckdb_parquet_source(path, spec), i, str(out)))
    names = csv_header(path, spec)
    if options.reader == "auto":
        rejects = f"rejects_{i}"
        try:
            source = duckdb_csv_source(path, spec, names, rejects)
            n = _copy(con, stage_sql(spec, bounds, source, i, str(out)))
            bad = _copy(con, f"SELECT count(*) FROM {rejects}")
            if bad == 0 and n + 1 == physical_lines(path):
                return n
        except duckdb.Error as e:
            log.info("ingest.exact_reader", file=str(path), why=str(e).splitlines()[0])
        out.unlink(missing_ok=True)
    # Exact, chunked reading: records with a wrong field count or bad bytes, blank lines.
    total = 0
    for j, chunk in enumerate(read_chunks(path, spec, options.chunk_rows)):
        structural.extend((i, b) for b in chunk.bad)
        con.register("raw", chunk.table.append_column("_line", chunk.lines))
        try:
            part = staged / f"stage-{i:05d}-{j:05d}.parquet"
            total += _copy(con, stage_sql(spec, bounds, "raw", i, str(part))) + len(chunk.bad)
        finally:
            con.unregister("raw")
    return total


def _copy(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    """Run a COPY (or a count) and return its one number. The result is fetched to the end: a
    result left open makes DuckDB refuse ``register`` on the connection (the chunked reader)."""
    rows = con.execute(sql).fetchall()
    return int(rows[0][0]) if rows else 0


def ingest_all(
    directory: Path,
    options: IngestOptions,
    *,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> list[IngestReport]:
    """Ingest every ``<directory>/<feed>/`` folder there is, reference feeds first."""
    present = [f for f in INGEST_ORDER if (directory / f).is_dir()]
    if not present:
        raise InvalidInput(
            f"{directory}: holds no feed folders; expected one or more of {', '.join(FEEDS)}"
        )
    return [ingest(f, [directory / f], options, now=now, progress=progress) for f in present]


def input_bytes(paths: list[Path]) -> int:
    """Total size of the files an ingest will read (for progress bars)."""
    return sum(p.stat().st_size for p in feed_files(paths))


def _structural_file(staged: Path, structural: list[tuple[int, BadRecord]]) -> list[Path]:
    """Records that could not be split into fields, as a quarantine part."""
    if not structural:
        return []
    problems = [
        f"record: {b.reason}" + (f" ({b.detail})" if b.detail else "") for _, b in structural
    ]
    table = pa.table(
        {
            "_src": pa.array([i for i, _ in structural], pa.int32()),
            "_line": pa.array([b.line for _, b in structural], pa.int64()),
            "_problems": pa.array(problems, pa.string()),
            "_record": pa.array([b.text for _, b in structural], pa.string()),
        },
        schema=quarantine.STRUCTURAL,
    )
    out = staged / "structural.parquet"
    pq.write_table(table, out)
    return [out]


def _manifest_entry(report: IngestReport, now: datetime) -> dict[str, object]:
    return {
        "ingest_id": report.ingest_id,
        "feed": report.feed,
        "at": now.isoformat(timespec="seconds"),
        "files": [
            {"path": f.path, "rows": f.rows_read, "quarantined": f.quarantined}
            for f in report.files
        ],
        "rows_read": report.rows_read,
        "added": report.added,
        "already_present": report.already_present,
        "quarantined": dict(report.quarantined),
        "quarantine_file": report.quarantine_file,
        "days": list(report.days),
    }
