"""Read feeds for detection as lazy Ibis tables, opening only the day partitions a run needs.

Works on the lake layout (``<feed>/day=YYYY-MM-DD/*.parquet``) and on a flat folder of Parquet
files per feed (the simulator's output), where the time filter prunes row groups instead.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import ibis
import ibis.expr.types as ir

from telshield.domain.errors import Unavailable
from telshield.feeds.schemas import FEEDS


def _day_of(path: Path) -> date | None:
    for part in path.parts:
        if part.startswith("day="):
            return date.fromisoformat(part[4:])
    return None


class FeedReader:
    """Lazy tables over a folder holding one sub-folder of Parquet files per feed."""

    def __init__(self, root: Path, con: ibis.BaseBackend | None = None) -> None:
        self.root = root
        self.con = con if con is not None else ibis.duckdb.connect()

    def files(self, feed: str, since: datetime | None = None,
              until: datetime | None = None) -> list[Path]:
        """Parquet files of a feed, keeping only day partitions that overlap [since, until)."""
        d = self.root / feed
        files = sorted(d.rglob("*.parquet")) if d.exists() else []
        lo = since.date() if since else date.min
        hi = (until - timedelta(microseconds=1)).date() if until else date.max
        return [f for f in files if (day := _day_of(f)) is None or lo <= day <= hi]

    def days(self, feed: str) -> list[date]:
        """The day partitions present for a feed (empty for a flat folder)."""
        return sorted({d for f in self.files(feed) if (d := _day_of(f)) is not None})

    def table(self, feed: str, since: datetime | None = None,
              until: datetime | None = None) -> ir.Table:
        """The feed's rows (schema columns only), narrowed to [since, until) on its time column."""
        spec = FEEDS[feed]
        files = self.files(feed, since, until)
        if not files:
            return ibis.memtable(spec.schema.empty_table())
        t = self.con.read_parquet([str(f) for f in files], hive_partitioning=False)
        t = t.select(*spec.column_names)
        col = spec.time_column
        if col is not None and since is not None:
            t = t.filter(t[col] >= ibis.timestamp(since))
        if col is not None and until is not None:
            t = t.filter(t[col] < ibis.timestamp(until))
        return t

    def require(self, feed: str) -> None:
        """Fail clearly when a feed has no data at all."""
        if not self.files(feed):
            raise Unavailable(
                f"no {feed} data under {self.root / feed}; ingest the feed first "
                f"(telshield ingest {feed} PATH)"
            )
