"""Composition of clue bundles: the cases service, the trace and the lake."""

from __future__ import annotations

from pathlib import Path

from telshield.services.bundles import BundleService
from telshield.settings import Settings
from telshield.wiring.disposal import Disposal
from telshield.wiring.trace import tracer


def bundles(settings: Settings, d: Disposal, *, lake: Path | None = None) -> BundleService:
    """Clue bundles over the disposal services' store and cases, tracing over ``lake``
    (default: the settings')."""
    from telshield.services.lakeread import FeedReader

    c = settings.clues
    root = lake or settings.lake_dir
    return BundleService(d.cases, tracer(settings, d.store, clock=d.cases.clock, lake=root),
                         FeedReader(root), min_strength=c.bundle_min_strength,
                         max_members=c.bundle_max_members, depth=c.bundle_depth)
