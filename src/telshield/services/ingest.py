"""Ingest: read feed files, validate, quarantine bad rows, commit new rows to the lake.

Two paths. The direct one, tried first with the ``auto`` reader, writes the good rows of each
file straight into lake files in one pass and keeps them when every file turns out clean (no
bad, malformed or blank record and no repeated key): the common case, at one write per row. The
exact one, taken otherwise, stages every row with its line so that each bad row and repeat is
quarantined with its file and line; a file with problems costs a second pass. The reading,
checking and writing run in DuckDB behind ``telshield.feeds.load``; this service runs the lake's
lock, the report and the manifest.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import structlog

from telshield.domain.clock import feed_now
from telshield.domain.errors import InvalidInput
from telshield.feeds import quarantine
from telshield.feeds.lake import Lake
from telshield.feeds.load import Loader, Progress
from telshield.feeds.profiles import Profile
from telshield.feeds.readers import feed_files
from telshield.feeds.validate import Bounds
from telshield.reference.schemas import FEEDS, feed

log = structlog.get_logger(__name__)

# Reference feeds first, so a later run can check facts against them.
INGEST_ORDER = (
    "device_intel",
    "cells",
    "sanctions",
    "subscribers",
    "orders",
    "registrations",
    "clues",
    "roaming",
    "ported",
    "calls",
    "sms",
)

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
    skipped: list[str] = field(default_factory=list)  # links in a folder that leave it
    profile: str | None = None  # the feed profile the files were read through

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
    max_field_bytes: int = 131_072  # a longer text field is quarantined (field_too_long)
    max_line_bytes: int = 1 << 20  # a longer CSV line is quarantined unread, its start kept
    # feed name -> the profile its files are read through (docs/feeds.md, Feed profiles)
    profiles: dict[str, Profile] = field(default_factory=dict)


def ingest(
    feed_name: str,
    paths: list[Path],
    options: IngestOptions,
    *,
    now: datetime | None = None,
    progress: Progress | None = None,
    sources: list[str] | None = None,
    segments: list[quarantine.Segment] | None = None,
) -> IngestReport:
    """Ingest files (or directories of files) of one feed into the lake; idempotent.

    ``sources``: one name per file in ``paths`` (files only, no folders), used instead of its
    path in the report, the manifest and the quarantine (a stream names a message by its
    subject and sequence). ``segments``: parts of files that are other sources' lines (a
    stream batch's messages spooled into one file), named so in the quarantine."""
    spec = feed(feed_name)
    skipped: list[str] = []
    files = feed_files(paths, skipped)
    if sources is not None and len(sources) != len(files):
        raise InvalidInput(f"{len(sources)} source name(s) given for {len(files)} file(s)")
    names = sources or [str(f) for f in files]
    now = now or feed_now()  # the feeds' timestamps are feed time: so is "the future"
    bounds = Bounds.around(now, options.earliest, options.future_slack_days,
                           options.max_field_bytes)
    lake = Lake(options.lake_dir)
    ingest_id = now.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    chosen = options.profiles.get(spec.name)
    profile = chosen.for_feed(spec) if chosen else None
    report = IngestReport(ingest_id, spec.name, skipped=skipped,
                          profile=chosen.origin if chosen else None)
    qfile = options.quarantine_dir / spec.name / f"{ingest_id}.parquet"
    with lake.lock():
        staged = lake.staging(ingest_id)
        for dead in lake.rolled_back:  # its quarantine file was never visible: remove it too
            for f in options.quarantine_dir.glob(f"*/{dead}.parquet"):
                f.unlink(missing_ok=True)
        with Loader(lake, staged, ingest_id, options.memory_limit) as loader:
            loaded, reported = None, 0
            if options.reader == "auto":
                rows, loaded = loader.direct(spec, bounds, files, progress, profile)
                reported = len(rows)
            if loaded is None:
                loaded = loader.exact(
                    spec, bounds, files, reader=options.reader, chunk_rows=options.chunk_rows,
                    max_line_bytes=options.max_line_bytes, qfile=qfile, now=now,
                    progress=_skip(progress, reported), profile=profile, sources=names,
                    segments=segments,
                )
        report.path = loaded.path
        report.files = [FileReport(s, n) for s, n in zip(names, loaded.rows, strict=True)]
        report.added, report.already_present = loaded.commit.added, loaded.commit.already_present
        report.days = loaded.commit.days
        report.quarantined = loaded.quarantined
        if report.quarantined:
            report.quarantine_file = str(qfile)
            by_file = quarantine.per_source(qfile)
            within: dict[str, set[str]] = {}
            for seg in segments or []:
                within.setdefault(names[seg.file], set()).add(seg.source)
            for fr in report.files:
                fr.quarantined = sum(
                    by_file.get(s, 0) for s in within.get(fr.path, set()) | {fr.path})
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
        "skipped": list(report.skipped),
        "profile": report.profile,
    }
