"""Fraud calls per cell, for the map's county heat layer: the calls made over the calls feed's
last days by numbers the platform found bad (alerted, clued by the police or confirmed fraud),
counted by the caller's cell, with the cell's place from the cells feed. The web places each
cell in a county by its coordinates (``web/counties.py``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import ibis

from telshield.services.lakeread import FeedReader
from telshield.services.store import Store


@dataclass(frozen=True)
class CellCalls:
    """Calls by bad numbers from one cell."""

    cell_id: str
    lat: float
    lon: float
    county: str  # as the cells feed names it
    calls: int


@dataclass(frozen=True)
class FraudCalls:
    """The counts and the window they cover (``since`` None: the whole feed)."""

    cells: tuple[CellCalls, ...]
    since: datetime | None
    numbers: int  # bad numbers known to the store


class FraudCallsByCell:
    """Counts calls by bad numbers per cell, kept for ``max_age_s`` (or until the feeds' files
    or the count of bad numbers change): the map page reads it on every view."""

    def __init__(
        self,
        store: Store,
        reader: Callable[[], FeedReader],
        *,
        days: int = 7,
        max_age_s: float = 300.0,
    ) -> None:
        self.store, self.reader, self.days, self.max_age_s = store, reader, days, max_age_s
        self._lock = threading.Lock()
        self._kept: tuple[object, float, FraudCalls] | None = None

    def counts(self) -> FraudCalls:
        """The current counts (computed at most once per ``max_age_s``)."""
        with self._lock:
            r = self.reader()
            with self.store.transaction(write=False) as tx:
                found = tx.outcomes.fraud_numbers()
            bad = sorted(found.alerted | found.clued | found.confirmed)
            days = r.days("calls")
            since = (
                (datetime.combine(days[-1], datetime.min.time()) - timedelta(days=self.days - 1))
                if days
                else None
            )
            key = (tuple(r.files("calls", since)), tuple(r.files("cells")), len(bad))
            now = time.monotonic()
            if (
                self._kept is not None
                and self._kept[0] == key
                and now - self._kept[1] < self.max_age_s
            ):
                return self._kept[2]
            result = FraudCalls(self._count(r, bad, since), since, len(bad))
            self._kept = (key, now, result)
            return result

    def _count(
        self, r: FeedReader, bad: list[str], since: datetime | None
    ) -> tuple[CellCalls, ...]:
        if not bad or not r.files("calls", since) or not r.files("cells"):
            return ()
        calls = r.table("calls", since=since)
        numbers = ibis.memtable({"caller": bad})
        per = (
            calls.filter(calls.caller_cell.notnull())
            .semi_join(numbers, "caller")
            .group_by(cell_id=calls.caller_cell)
            .aggregate(calls=ibis._.count())
        )
        cells = r.table("cells")
        rows = per.join(cells, "cell_id").select("cell_id", "lat", "lon", "county", "calls")
        return tuple(
            CellCalls(
                str(x["cell_id"]),
                float(x["lat"]),
                float(x["lon"]),
                str(x["county"] or ""),
                int(x["calls"]),
            )
            for x in rows.order_by("cell_id").to_pyarrow().to_pylist()
        )
