"""Streaming ingest: micro-batches of feed records from a message bus into the lake, exactly once.

One message is a CSV chunk of one feed: a header line naming the columns, then records, exactly
as in a feed file (docs/streaming.md). A batch of up to ``batch`` messages is fetched from a
durable consumer, the messages that share a header spooled into one file (one COPY and one set
of day files a batch, not one a message), and the files ingested together by
``services.ingest`` (the same readers, checks, quarantine and lake commit as file ingest); a
quarantined row is named by its own message (subject and sequence) and its line in it. Only
then is the batch acknowledged.

Exactly once: the lake skips a row whose key it holds, and the quarantine a row it holds from the
same source (subject and sequence), line and record; so a batch delivered again, after the
consumer died between the commit and the acknowledgement, adds nothing. A consumer that dies
before the commit leaves the lake as it was (the lake's own journal), and the batch comes back.
A message that is not a feed CSV at all (empty, not UTF-8, a header that lacks a column) is
quarantined whole as ``bad_message`` with its subject and sequence, and acknowledged.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import structlog

from telshield.domain.clock import feed_now
from telshield.domain.errors import InvalidInput, Unavailable
from telshield.domain.stream import Delivery, Pending, StreamConsumer
from telshield.feeds import quarantine
from telshield.feeds.lake import Lake
from telshield.feeds.readers import csv_header, withhold_ids
from telshield.reference.schemas import feed
from telshield.services.ingest import IngestOptions, IngestReport, ingest

log = structlog.get_logger(__name__)

KEEP_BYTES = 1000  # of a bad message, the quarantine keeps its start


@dataclass(frozen=True)
class StreamOptions:
    """What to consume and how."""

    feed: str
    spool_dir: Path  # a batch's messages as files while they are ingested
    batch: int = 100  # messages a batch
    max_wait_s: float = 2.0  # the longest a fetch waits for the first message
    lock_wait_s: float = 60.0  # how long to wait for the lake's lock (another ingest) per batch


@dataclass
class BatchReport:
    """What one batch did."""

    messages: int
    first_seq: int
    last_seq: int
    redelivered: int  # messages delivered before (a consumer died before acknowledging them)
    rows_read: int = 0
    added: int = 0
    already_present: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)
    bad_messages: int = 0
    seconds: float = 0.0


@dataclass
class StreamReport:
    """What a consumer run did, over all its batches."""

    feed: str
    batches: int = 0
    messages: int = 0
    redelivered: int = 0
    rows_read: int = 0
    added: int = 0
    already_present: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)
    bad_messages: int = 0

    def add(self, b: BatchReport) -> None:
        """Count one batch in."""
        self.batches += 1
        self.messages += b.messages
        self.redelivered += b.redelivered
        self.rows_read += b.rows_read
        self.added += b.added
        self.already_present += b.already_present
        self.quarantined.update(b.quarantined)
        self.bad_messages += b.bad_messages


def source_name(d: Delivery) -> str:
    """How a message is named in the quarantine and the ingest manifest: subject#sequence."""
    return f"{d.subject}#{d.seq}"


def consume(
    consumer: StreamConsumer,
    ingest_options: IngestOptions,
    options: StreamOptions,
    *,
    once: bool = False,
    stop: Callable[[], bool] | None = None,
    on_batch: Callable[[BatchReport], None] | None = None,
    now: Callable[[], datetime] = feed_now,
) -> StreamReport:
    """Consume batches into the lake until ``stop()`` says so or, with ``once``, until the
    consumer has nothing left: none waiting and none delivered but unacknowledged (after a
    crash those come back once the bus's ack wait has passed, and are waited for)."""
    feed(options.feed)  # InvalidInput naming the feeds if unknown
    report = StreamReport(options.feed)
    while not (stop and stop()):
        deliveries = consumer.fetch(options.batch, options.max_wait_s)
        if not deliveries:
            if once and consumer.pending() == Pending(0, 0):
                break
            continue
        b = ingest_batch(deliveries, ingest_options, options, now())
        consumer.ack(deliveries)
        report.add(b)
        log.info("stream.batch", feed=options.feed, messages=b.messages, first_seq=b.first_seq,
                 last_seq=b.last_seq, added=b.added, already_present=b.already_present,
                 quarantined=sum(b.quarantined.values()), bad_messages=b.bad_messages)
        if on_batch:
            on_batch(b)
    return report


def ingest_batch(
    deliveries: list[Delivery], ingest_options: IngestOptions, options: StreamOptions,
    at: datetime,
) -> BatchReport:
    """Validate and commit one batch of messages (not acknowledged here)."""
    started = time.perf_counter()
    spec = feed(options.feed)
    spool = options.spool_dir
    shutil.rmtree(spool, ignore_errors=True)
    spool.mkdir(parents=True)
    bad: list[tuple[str, int, str, str]] = []
    spools: list[_Spool] = []
    by_header: dict[bytes, _Spool] = {}
    probe = spool / "header.csv"
    for d in sorted(deliveries, key=lambda d: d.seq):
        name = source_name(d)
        end = d.data.find(b"\n")
        head, body = (d.data, b"") if end < 0 else (d.data[:end + 1], d.data[end + 1:])
        probe.write_bytes(head)
        try:
            csv_header(probe, spec)
        except InvalidInput as e:
            why = str(e).replace(f"{probe}: ", "").replace(str(probe), name)
            text = withhold_ids(d.data[:KEEP_BYTES].decode("utf-8", errors="replace"))
            bad.append((name, 1, f"message: bad_message ({why}; {len(d.data)} bytes)", text))
            continue
        if body and not body.endswith(b"\n"):
            body += b"\n"
        if b'"' in body or b"\r" in body:
            # A quoted field may span lines (or a lone CR end one): such a message keeps a file
            # of its own, so that it cannot run into the next message's lines.
            spools.append(_Spool(spool / f"{d.seq:020d}.csv", head, [(name, body)]))
            continue
        key = head.removeprefix(b"\xef\xbb\xbf").rstrip(b"\r\n")
        group = by_header.get(key)
        if group is None:
            group = by_header[key] = _Spool(spool / f"{d.seq:020d}.csv", head, [])
            spools.append(group)
        group.messages.append((name, body))
    probe.unlink(missing_ok=True)
    files = [sp.path for sp in spools]
    names: list[str] = []
    segments: list[quarantine.Segment] = []
    for i, sp in enumerate(spools):
        names.append(sp.write(i, segments))
    b = BatchReport(len(deliveries), min(d.seq for d in deliveries),
                    max(d.seq for d in deliveries), sum(d.delivered > 1 for d in deliveries))
    ingest_id = at.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    if files:
        r = _ingest_waiting(spec.name, files, names, segments, ingest_options,
                            options.lock_wait_s, at)
        ingest_id = r.ingest_id
        b.rows_read, b.added, b.already_present = r.rows_read, r.added, r.already_present
        b.quarantined.update(r.quarantined)
    if bad:
        qfile = ingest_options.quarantine_dir / spec.name / f"{ingest_id}-messages.parquet"
        counts = quarantine.write_records(bad, qfile, feed=spec.name, ingest_id=ingest_id, at=at,
                                          committed=Lake(ingest_options.lake_dir).committed())
        b.quarantined.update(counts)
        b.bad_messages = len(bad)
        log.warning("stream.bad_messages", feed=spec.name, messages=[n for n, *_ in bad],
                    quarantine_file=str(qfile))
    shutil.rmtree(spool, ignore_errors=True)
    b.seconds = time.perf_counter() - started
    return b


@dataclass
class _Spool:
    """One spool file of a batch: the messages (name, records) that share a header, written
    one after another under it."""

    path: Path
    header: bytes
    messages: list[tuple[str, bytes]]

    def write(self, file: int, segments: list[quarantine.Segment]) -> str:
        """Write the file; add where each message's lines start to ``segments`` (the file's
        index ``file``) and return the file's source name: ``subject#seq`` for one message,
        ``subject#first..last`` (the sequences it holds) for several."""
        line = 2
        with self.path.open("wb") as f:
            f.write(self.header if self.header.endswith(b"\n") else self.header + b"\n")
            for name, body in self.messages:
                if body and len(self.messages) > 1:  # a header alone has no line here
                    segments.append(quarantine.Segment(file, line, name))
                f.write(body)
                line += body.count(b"\n")
        first, last = self.messages[0][0], self.messages[-1][0]
        if len(self.messages) == 1:
            return first
        return f"{first}..{last.rpartition('#')[2]}"


def _ingest_waiting(
    feed_name: str, files: list[Path], names: list[str], segments: list[quarantine.Segment],
    options: IngestOptions, wait_s: float, at: datetime,
) -> IngestReport:
    """Ingest, waiting up to ``wait_s`` while another ingest holds the lake's lock."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return ingest(feed_name, files, options, now=at, sources=names, segments=segments)
        except Unavailable:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.5)
