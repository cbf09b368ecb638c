"""Composition of the hotspot finder: the store, the lake, the numbering plan and the
``[hotspots]`` settings."""

from __future__ import annotations

from pathlib import Path

from telshield.detect.hotspots import SuspectRule
from telshield.services.hotspots import HotspotService, ScanParams
from telshield.services.store import Clock, Store, SystemClock
from telshield.settings import Settings


def scan_params(settings: Settings) -> ScanParams:
    """The scan's settings from the ``hotspots`` section."""
    h = settings.hotspots
    return ScanParams(bucket_hours=h.bucket_hours, scan_hours=h.scan_hours,
                      baseline_days=h.baseline_days, replicates=h.replicates, alpha=h.alpha,
                      min_numbers=h.min_numbers, min_factor=h.min_factor,
                      province=settings.detect.province,
                      rule=SuspectRule(min_callees=h.min_callees))


def hotspots(settings: Settings, store: Store, *, clock: Clock | None = None,
             lake: Path | None = None, engine: str | None = None) -> HotspotService:
    """The hotspot service over ``store`` and the lake (default: the settings'). The scan's
    lake queries run on ``engine`` (``--engine``: duckdb or spark; default ``[engine] name``),
    the numbering plan handed to it as Arrow; callers that only read stored hotspots pass
    ``"duckdb"`` and start no Spark session."""
    from telshield.reference.numbering import load_plan_table
    from telshield.wiring.engine import engine as make_engine

    return HotspotService(store, clock or SystemClock(),
                          make_engine(settings, engine).reader(lake or settings.lake_dir),
                          scan_params(settings),
                          plan=lambda: load_plan_table(settings.data_dir))
