"""Ingest: read feed files in chunks, validate, quarantine bad rows, commit new rows to the lake."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import structlog

from telshield.domain.errors import InvalidInput
from telshield.feeds.lake import Lake
from telshield.feeds.quarantine import QuarantineWriter
from telshield.feeds.readers import Chunk, feed_files, read_chunks
from telshield.feeds.schemas import FEEDS, Feed, feed
from telshield.feeds.validate import Bounds, check_chunk

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
    quarantine = QuarantineWriter(options.quarantine_dir, spec.name, ingest_id, now)
    with lake.lock():
        staged = lake.staging(ingest_id)
        con = duckdb.connect()
        try:
            con.execute(f"SET temp_directory = '{staged / 'spill'}'")
            for i, path in enumerate(files):
                fr = FileReport(str(path))
                report.files.append(fr)
                for j, chunk in enumerate(read_chunks(path, spec, options.chunk_rows)):
                    stage = lake.stage_sql(spec, staged / f"f{i:05d}-c{j:05d}.parquet")
                    _check(con, spec, chunk, fr, quarantine, bounds, stage.format(src=i))
                    if progress:
                        progress(chunk.nbytes)
            result, dups = lake.commit(con, spec, staged, ingest_id)
            _quarantine_duplicates(spec, dups, files, report, quarantine)
            report.added, report.already_present = result.added, result.already_present
            report.days = result.days
        finally:
            con.close()
        q = quarantine.close()
        report.quarantined = quarantine.counts
        report.quarantine_file = str(q) if q else None
        lake.finish(ingest_id, _manifest_entry(report, now))
    log.info(
        "ingest.done",
        feed=spec.name,
        ingest_id=ingest_id,
        rows=report.rows_read,
        added=report.added,
        already_present=report.already_present,
        quarantined=sum(report.quarantined.values()),
    )
    return report


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


def _check(
    con: duckdb.DuckDBPyConnection, spec: Feed, chunk: Chunk, fr: FileReport,
    quarantine: QuarantineWriter, bounds: Bounds, stage: str,
) -> None:
    fr.rows_read += chunk.table.num_rows + len(chunk.bad)
    if chunk.bad:
        quarantine.add(
            fr.path,
            [b.line for b in chunk.bad],
            [f"record: {b.reason}" + (f" ({b.detail})" if b.detail else "") for b in chunk.bad],
            [b.text for b in chunk.bad],
        )
        fr.quarantined += len(chunk.bad)
    raw = chunk.table.append_column("_line", chunk.lines)
    bad = check_chunk(con, spec, raw, bounds, stage)
    if bad.num_rows:
        quarantine.add_table(
            fr.path, bad.select(spec.column_names), bad["_line"], bad["_problems"]
        )
        fr.quarantined += bad.num_rows


def _quarantine_duplicates(
    spec: Feed,
    dups: pa.Table,
    files: list[Path],
    report: IngestReport,
    quarantine: QuarantineWriter,
) -> None:
    if dups.num_rows == 0:
        return
    key = ", ".join(spec.key)
    for src, group in _by_source(dups):
        path = str(files[src])
        records = [
            orjson.dumps({c: r[c] for c in spec.column_names}, default=str).decode()
            for r in group.to_pylist()
        ]
        lines = group["_line"].to_pylist()
        quarantine.add(path, lines, [f"{key}: duplicate_key"] * len(lines), records)
        report.files[src].quarantined += len(lines)


def _by_source(dups: pa.Table) -> list[tuple[int, pa.Table]]:
    srcs = sorted(set(dups["_src"].to_pylist()))
    return [(s, dups.filter(pc.equal(dups["_src"], s))) for s in srcs]


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
