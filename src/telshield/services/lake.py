"""What the lake holds: rows, days, files and quarantined rows per feed."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

from telshield.feeds import quarantine
from telshield.feeds.lake import Lake
from telshield.reference.schemas import FEEDS


@dataclass(frozen=True)
class FeedStats:
    """One feed's share of the lake."""

    feed: str
    rows: int
    files: int
    bytes: int
    first_day: str | None
    last_day: str | None
    days: int
    quarantined: Counter[str] = field(default_factory=Counter)


def lake_stats(lake_dir: Path, quarantine_dir: Path) -> list[FeedStats]:
    """Rows (from Parquet footers, no scan), files, days and quarantine counts per feed."""
    lake = Lake(lake_dir)
    q = quarantine.read(quarantine_dir, committed=lake.committed())
    out = []
    for spec in FEEDS.values():
        files = lake.files(spec)
        rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
        days = lake.days(spec)
        reasons = Counter(
            r
            for f, r in zip(q["feed"].to_pylist(), q["reason"].to_pylist(), strict=True)
            if f == spec.name
        )
        out.append(
            FeedStats(
                spec.name,
                rows,
                len(files),
                sum(f.stat().st_size for f in files),
                days[0] if days else None,
                days[-1] if days else None,
                len(days),
                reasons,
            )
        )
    return out
