"""Ingest: read feed files in chunks, validate, quarantine bad rows, commit new rows to the lake."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import structlog

from telshield.domain.errors import InvalidInput
from telshield.feeds import quarantine
from telshield.feeds.lake import Lake
from telshield.feeds.readers import (
    BadRecord,
    csv_header,
    duckdb_csv_source,
    duckdb_parquet_source,
    feed_files,
    physical_lines,
    read_chunks,
)
from telshield.feeds.schemas import FEEDS, Feed, feed
from telshield.feeds.validate import Bounds, stage_sql

log = structlog.get_logger(__name__)

# Reference feeds first, so a later run can check facts against them.
INGEST_ORDER = (
    "device_intel",
    "cells",
    "sanctions",
    "subscribers",
    "orders",
    "clues",
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
    now = now or datetime.now()
    bounds = Bounds.around(now, options.earliest, options.future_slack_days)
    lake = Lake(options.lake_dir)
    ingest_id = now.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    report = IngestReport(ingest_id, spec.name)
    with lake.lock():
        staged = lake.staging(ingest_id)
        con = duckdb.connect()
        try:
            con.execute(f"SET temp_directory = '{staged / 'spill'}'")
            con.execute(f"SET memory_limit = '{options.memory_limit}'")
            structural: list[tuple[int, BadRecord]] = []
            for i, path in enumerate(files):
                fr = FileReport(str(path))
                report.files.append(fr)
                fr.rows_read = _stage_file(con, spec, bounds, path, i, staged, options, structural)
                if progress:
                    progress(path.stat().st_size)
            result = lake.commit(con, spec, staged, ingest_id)
            report.added, report.already_present = result.added, result.already_present
            report.days = result.days
            parts = sorted(staged.glob("stage-*.parquet")) + _structural_file(staged, structural)
            if (staged / "dups.parquet").exists():
                parts.append(staged / "dups.parquet")
            qfile = options.quarantine_dir / spec.name / f"{ingest_id}.parquet"
            report.quarantined = quarantine.write(
                con, parts, [str(f) for f in files], qfile,
                feed=spec.name, ingest_id=ingest_id, at=now,
            )
        finally:
            con.close()
        if report.quarantined:
            report.quarantine_file = str(qfile)
            by_file = quarantine.per_source(qfile)
            for fr in report.files:
                fr.quarantined = by_file.get(fr.path, 0)
        lake.finish(ingest_id, _manifest_entry(report, now))
    log.info(
        "ingest.done", feed=spec.name, ingest_id=ingest_id, rows=report.rows_read,
        added=report.added, already_present=report.already_present,
        quarantined=sum(report.quarantined.values()),
    )
    return report


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
            bad = (con.execute(f"SELECT count(*) FROM {rejects}").fetchone() or (0,))[0]
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
    row = con.execute(sql).fetchone()
    return int(row[0]) if row else 0


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
