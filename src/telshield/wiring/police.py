"""Composition of police coordination (警企协同): the store, the lake, the disposal policy, the
SLA from settings, and the clues feed's ingest for clues sent over the API."""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from telshield.services.police import ClueSink, PoliceService, Sla
from telshield.services.store import Clock, Store, SystemClock
from telshield.settings import Settings


def clue_sink(settings: Settings, lake: Path | None = None) -> ClueSink:
    """Write clue rows into the lake through the same ingest a clues feed file goes through
    (validated, quarantined if bad, idempotent by clue id)."""
    from dataclasses import replace

    from telshield.reference.schemas import FEEDS
    from telshield.services.ingest import ingest
    from telshield.wiring.ingest import ingest_options

    options = ingest_options(settings)
    if lake is not None:
        options = replace(options, lake_dir=lake)
    columns = FEEDS["clues"].column_names

    def write(rows: Sequence[dict[str, Any]]) -> int:
        with tempfile.TemporaryDirectory(prefix="telshield-clues-") as d:
            path = Path(d) / "clues.csv"
            with path.open("w", newline="", encoding="utf-8") as f:
                w = csv.DictWriter(f, fieldnames=list(columns))
                w.writeheader()
                for r in rows:
                    w.writerow({c: (r[c].strftime("%Y-%m-%d %H:%M:%S") if c == "reported_at"
                                    else r[c]) for c in columns})
            report = ingest("clues", [path], options)
        if sum(report.quarantined.values()):
            from telshield.domain.errors import InvalidInput

            raise InvalidInput(f"the clue was refused by the clues feed's checks: "
                               f"{dict(report.quarantined)} (see `telshield ingest quarantine`)")
        return report.added

    return write


def police(settings: Settings, store: Store, *, clock: Clock | None = None,
           lake: Path | None = None) -> PoliceService:
    """The police coordination service over ``store`` and the lake (default: the settings')."""
    from telshield.services.lakeread import FeedReader
    from telshield.wiring.disposal import disposal_policy
    from telshield.wiring.figures import figures

    p = settings.police
    clock = clock or SystemClock()
    return PoliceService(store, clock, FeedReader(lake or settings.lake_dir),
                         disposal_policy(settings),
                         sla=Sla(query_hours=p.query_hours, control_hours=p.control_hours),
                         lookback_days=p.lookback_days, clue_sink=clue_sink(settings, lake),
                         figures=figures(settings, store, clock))
