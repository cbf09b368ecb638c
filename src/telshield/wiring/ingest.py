"""Composition of ingest for the edges: options from settings, the quarantine and the feeds'
own documentation (the edges reach the feeds adapter only through here)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from telshield.services.ingest import IngestOptions
from telshield.settings import Settings

if TYPE_CHECKING:
    import pyarrow as pa

    from telshield.reference.schemas import Feed


def ingest_options(settings: Settings) -> IngestOptions:
    """Ingest options from the settings' ``ingest`` section and the data directory."""
    s = settings.ingest
    return IngestOptions(
        lake_dir=settings.lake_dir,
        quarantine_dir=settings.quarantine_dir,
        chunk_rows=s.chunk_rows,
        earliest=s.earliest,
        future_slack_days=s.future_slack_days,
        reader=s.reader,
        memory_limit=s.memory_limit,
        max_field_bytes=s.max_field_bytes,
        max_line_bytes=s.max_line_bytes,
    )


def quarantined(quarantine_dir: Path, feed: str | None, reason: str | None) -> pa.Table:
    """Quarantined rows (file, line, problems, the original record), optionally filtered."""
    from telshield.feeds import quarantine

    return quarantine.read(quarantine_dir, feed, reason)


def feed_specs(name: str | None = None) -> list[Feed]:
    """The schema of one feed (InvalidInput naming the feeds if unknown), or of every feed."""
    from telshield.reference.schemas import FEEDS, feed

    return [feed(name)] if name else list(FEEDS.values())


def feeds_markdown() -> str:
    """docs/feeds.md as generated from the schemas."""
    from telshield.feeds.docs import render

    return render()
