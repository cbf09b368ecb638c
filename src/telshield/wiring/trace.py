"""Composition of the trace (溯源): the store and the lake."""

from __future__ import annotations

from pathlib import Path

from telshield.services.store import Clock, Store, SystemClock
from telshield.services.trace import TraceService
from telshield.settings import Settings


def tracer(settings: Settings, store: Store, *, clock: Clock | None = None,
           lake: Path | None = None) -> TraceService:
    """The trace service over ``store`` and the lake (default: the settings')."""
    from telshield.services.lakeread import FeedReader

    return TraceService(store, clock or SystemClock(), FeedReader(lake or settings.lake_dir),
                        lookback_days=settings.gangs.lookback_days)
