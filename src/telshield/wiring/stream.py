"""Composition of streaming ingest for the edges: the NATS JetStream consumer and publisher
from the settings' ``stream`` section, run by ``services.stream``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from telshield.domain.errors import InvalidInput
from telshield.reference.schemas import feed
from telshield.services.stream import BatchReport, StreamOptions, StreamReport, consume
from telshield.settings import Settings
from telshield.wiring.ingest import ingest_options


def durable_name(settings: Settings, feed_name: str) -> str:
    """The durable consumer's name: the setting, or telshield-ingest-<feed>."""
    name = settings.stream.durable or f"telshield-ingest-{feed_name}"
    if any(c in name for c in ".*> \t"):
        raise InvalidInput(f"[stream] durable {name!r}: a durable name has no '.', '*', '>' or "
                           "white space")
    return name


def run_stream(
    settings: Settings, *, subject: str, feed_name: str, stream: str | None = None,
    batch: int | None = None, max_wait_s: float | None = None, once: bool = False,
    stop: Callable[[], bool] | None = None, on_batch: Callable[[BatchReport], None] | None = None,
) -> StreamReport:
    """Consume ``subject`` of the JetStream stream into the lake (see ``services.stream``)."""
    from telshield.feeds.jetstream import JetStream

    spec = feed(feed_name)
    s = settings.stream
    durable = durable_name(settings, spec.name)
    options = StreamOptions(
        feed=spec.name, spool_dir=settings.data_dir / "stream" / "spool" / durable,
        batch=batch or s.batch, max_wait_s=max_wait_s or s.max_wait_s,
    )
    with JetStream(s.url) as js:
        name = stream or s.stream
        js.ensure_stream(name, subject)
        consumer = js.consumer(name, subject, durable, ack_wait_s=s.ack_wait_s,
                               max_ack_pending=s.max_ack_pending)
        return consume(consumer, ingest_options(settings), options, once=once, stop=stop,
                       on_batch=on_batch)


@dataclass(frozen=True)
class Published:
    """What publishing files did."""

    messages: int
    bytes: int
    first_seq: int
    last_seq: int


def publish_files(
    settings: Settings, paths: list[Path], *, subject: str, stream: str | None = None,
    rows: int | None = None,
) -> Published:
    """Publish CSV feed files to ``subject`` as messages of up to ``rows`` records each (the
    header on every one), creating the stream if it is missing. Each message carries the hash
    of its bytes as its id, so publishing a file again within the stream's duplicate window
    (two minutes by default) stores nothing new."""
    from telshield.feeds.jetstream import JetStream, csv_chunks, message_id

    s = settings.stream
    for p in paths:
        if p.suffix != ".csv" or not p.is_file():
            raise InvalidInput(f"{p}: not a CSV file; publish takes CSV feed files")
    n = size = 0
    first = last = 0
    with JetStream(s.url) as js:
        js.ensure_stream(stream or s.stream, subject)
        for p in paths:
            for data in csv_chunks(p, rows or s.publish_rows, js.max_payload - 1024):
                last = js.publish(subject, data, message_id(data))
                first = first or last
                n += 1
                size += len(data)
    return Published(n, size, first, last)
