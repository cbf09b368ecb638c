"""Composition of the trace (溯源): the store and the lake."""

from __future__ import annotations

from pathlib import Path

from telshield.services.store import Clock, Store, SystemClock
from telshield.services.trace import TraceService
from telshield.settings import Settings


def tracer(settings: Settings, store: Store, *, clock: Clock | None = None,
           lake: Path | None = None, engine: str | None = "duckdb",
           files_max_age_s: float = 0.0) -> TraceService:
    """The trace service over ``store`` and the lake (default: the settings'). Its lake queries
    run on ``engine`` (``--engine``: duckdb or spark; None: ``[engine] name``); DuckDB unless
    asked, since the API and the cycle trace one clue at a time and a Spark session's start
    costs more than such a trace. The lake's files are checked for new data at most every
    ``files_max_age_s`` seconds (0: on every trace, as the cycle needs right after its
    ingest)."""
    from telshield.wiring.engine import engine as make_engine

    reader = make_engine(settings, engine).reader(lake or settings.lake_dir)
    return TraceService(store, clock or SystemClock(), reader,
                        lookback_days=settings.gangs.lookback_days,
                        files_max_age_s=files_max_age_s)
