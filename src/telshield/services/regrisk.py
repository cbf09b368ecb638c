"""The channel / staff / terminal risk ranking as a use case, and the in-memory copy of it that
the registration check looks up.

The counts come from two places: the lake says who registered which number
(``subscribers``) and which numbers the police named (``clues``); the store says which numbers
were alerted, blocked on police order, or confirmed fraud. The store's numbers are handed to
the lake's engine as one small table and joined there, so one expression counts everything.

The check must answer in milliseconds, so it never computes this: ``RiskIndex`` holds the last
ranking in memory, built at service start (``warm``) or on first use, recomputed in a
background thread once older than its age limit (every check meanwhile answers from the old
copy: none waits the seconds a province's ranking takes), and on ``refresh``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import pyarrow as pa
import structlog

from telshield.domain.clock import store_to_feed
from telshield.domain.errors import InvalidInput
from telshield.domain.paging import Page
from telshield.domain.regrisk import FraudNumbers, RiskBy, RiskRow, RiskTable, rank
from telshield.services.store import Clock, Store

if TYPE_CHECKING:  # the lake is read with Ibis: loaded only when a ranking is computed
    import ibis.expr.types as ir

    from telshield.services.lakeread import FeedReader

log = structlog.get_logger(__name__)


def _flags(found: FraudNumbers) -> pa.Table:
    nums = sorted(found.alerted | found.clued | found.confirmed)
    return pa.table({
        "msisdn": pa.array(nums, pa.string()),
        "alerted": pa.array([int(m in found.alerted) for m in nums], pa.int64()),
        "clued": pa.array([int(m in found.clued) for m in nums], pa.int64()),
        "confirmed": pa.array([int(m in found.confirmed) for m in nums], pa.int64()),
    })


@dataclass(frozen=True)
class RiskOptions:
    """The ranking's settings: the window of registrations counted (days back from now; 0:
    all) and the least registrations a key needs to be ranked."""

    days: float = 365.0
    min_count: int = 20


class RiskRanking:
    """Computes risk rows over the lake and the store."""

    def __init__(self, store: Store, clock: Clock, reader: Callable[[], FeedReader],
                 options: RiskOptions = RiskOptions()) -> None:
        self.store, self.clock, self._reader_of, self.options = store, clock, reader, options

    def default_since(self) -> datetime | None:
        """The start of the default window, in feed time (None: everything)."""
        if self.options.days <= 0:
            return None
        return store_to_feed(self.clock.now()) - timedelta(days=self.options.days)

    def _found(self, r: FeedReader) -> ir.Table:
        import ibis

        from telshield.detect.registrations import outcomes

        with self.store.transaction(write=False) as tx:
            found = tx.outcomes.fraud_numbers()
        return outcomes(ibis.memtable(_flags(found)), r.table("clues"))

    def bad_numbers(self) -> frozenset[str]:
        """Every number alerted, clued (store or clues feed) or confirmed: what the ranking
        counts as bad (for an evaluation to see how much signal there was)."""
        r = self._reader_of()
        got = r.con.to_pyarrow(self._found(r).select("msisdn"))
        return frozenset(str(m) for m in got.column("msisdn").to_pylist())

    def rows(self, bys: tuple[RiskBy, ...], *, since: datetime | None) -> RiskTable:
        """Every key's row for each grouping in ``bys``, over registrations since ``since``
        (feed time; None: all). Empty when the lake has no subscribers feed."""
        from telshield.detect.registrations import risk_counts

        r = self._reader_of()
        out: dict[RiskBy, dict[str, RiskRow]] = {b: {} for b in bys}
        if not r.files("subscribers"):
            log.warning("regrisk.no_subscribers_feed", hint="ingest the subscribers feed")
            return RiskTable(out)
        found, subs = self._found(r), r.table("subscribers")
        for b in bys:
            got = r.con.to_pyarrow(risk_counts(subs, found, column=b.column, since=since))
            out[b] = {str(d["key"]): RiskRow(str(d["key"]), int(d["registrations"]),
                                             int(d["alerted"]), int(d["clued"]),
                                             int(d["confirmed"]), int(d["bad"]))
                      for d in got.to_pylist()}
        log.info("regrisk.computed", by=[b.value for b in bys],
                 keys={b.value: len(v) for b, v in out.items()})
        return RiskTable(out)

    def ranking(self, by: RiskBy, *, since: datetime | None = None, all_time: bool = False,
                min_count: int | None = None, page: Page = Page()) -> list[RiskRow]:
        """The ranked rows of one grouping (riskiest first), one page of them. ``since``
        defaults to the settings' window; ``all_time`` counts every registration."""
        n = self.options.min_count if min_count is None else min_count
        if n < 1:
            raise InvalidInput("min_count must be at least 1")
        start = None if all_time else (since or self.default_since())
        ranked = rank(self.rows((by,), since=start).rows[by].values(), min_count=n)
        return ranked[page.offset:page.offset + page.limit]


class RiskIndex:
    """The last channel and staff ranking, in memory, for the registration check."""

    def __init__(self, ranking: RiskRanking, *, max_age_s: float = 0.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.ranking, self.max_age_s, self._monotonic = ranking, max_age_s, monotonic
        self._table: RiskTable | None = None
        self._built = 0.0
        self._lock, self._rebuilding = threading.Lock(), threading.Lock()

    def _build(self) -> None:
        table = self.ranking.rows((RiskBy.CHANNEL, RiskBy.STAFF),
                                  since=self.ranking.default_since())
        self._table, self._built = table, self._monotonic()

    def _current(self) -> RiskTable:
        table = self._table
        if table is None:
            with self._lock:
                if self._table is None:
                    self._build()
                assert self._table is not None
                return self._table
        stale = self.max_age_s > 0 and self._monotonic() - self._built >= self.max_age_s
        if stale and self._rebuilding.acquire(blocking=False):
            threading.Thread(target=self._rebuild, name="regrisk-refresh", daemon=False).start()
        return table

    def _rebuild(self) -> None:
        try:
            self._build()
        except Exception as e:  # a background refresh must log its failure, not vanish
            # The old copy goes on answering; the next try comes after another max_age_s.
            self._built = self._monotonic()
            log.warning("regrisk.refresh_failed", error=str(e))
        finally:
            self._rebuilding.release()

    def warm(self) -> threading.Thread:
        """Build the first copy in the background now (at service start), so that the first
        check need not wait for it; returns the thread. The builds run on threads that are not
        daemons: a process that exits while one is inside DuckDB aborts (it did, when a
        server was stopped during its first seconds), so the exit waits for the build."""
        t = threading.Thread(target=self._current, name="regrisk-warm", daemon=False)
        t.start()
        return t

    def get(self, by: RiskBy, key: str) -> RiskRow | None:
        """The key's row of the last ranking (None: it registered nothing counted)."""
        return self._current().get(by, key)

    def refresh(self) -> None:
        """Recompute now (the old copy answers until the new one is built)."""
        self._build()
