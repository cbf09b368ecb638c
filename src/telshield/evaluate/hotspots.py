"""Hotspot alerts judged against the simulator's truth (``truth/dens.parquet``,
``truth/numbers.parquet``).

The finder never reads truth; ``telshield evaluate hotspots`` replays it over a simulated
province every ``step_hours`` of feed time (an operating cycle's ticks) and hands each run's
alerts here:

- **dens of out-of-province SIMs**: true dens whose member numbers are mostly homed elsewhere
  (the simulator feeds most ports with roaming SIMs of other provinces); a den starts at its
  members' first fraud call;
- **caught in time**: an alert in the den's county (city/county) whose window ends between the
  den's start and 24 h after it;
- **false hotspots**: alerts (distinct hotspot records) in a county with no such den active at
  the time (from its start to a day after its last member's activity), per simulated week.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq

from telshield.domain.errors import InvalidInput
from telshield.domain.hotspots import Hotspot

IN_TIME = timedelta(hours=24)


@dataclass(frozen=True)
class Den:
    """A true den of out-of-province SIMs, as the judge needs it."""

    den_id: str
    region: str  # city/county
    start: datetime
    end: datetime
    members: int


@dataclass(frozen=True)
class DenResult:
    """Whether and when a den was caught."""

    den: Den
    caught_at: datetime | None  # window end of the first alert in its county after its start

    @property
    def delay_h(self) -> float | None:
        """Hours from the den's start to the alert."""
        if self.caught_at is None:
            return None
        return (self.caught_at - self.den.start).total_seconds() / 3600

    @property
    def in_time(self) -> bool:
        """Caught within 24 h of its start."""
        return self.caught_at is not None and self.caught_at - self.den.start <= IN_TIME


@dataclass(frozen=True)
class HotspotReport:
    """The figures ``telshield evaluate hotspots`` prints."""

    dens: tuple[DenResult, ...]
    hotspots: int  # distinct hotspot records
    false_hotspots: tuple[str, ...]  # their regions
    days: float  # feed time scanned

    @property
    def caught_share(self) -> float:
        """Dens caught within 24 h."""
        return sum(d.in_time for d in self.dens) / len(self.dens) if self.dens else 1.0

    @property
    def false_per_week(self) -> float:
        """False hotspots per simulated week."""
        return len(self.false_hotspots) / (self.days / 7) if self.days > 0 else 0.0


def read_dens(world: Path, *, max_ours: float = 0.5) -> list[Den]:
    """The world's dens whose members are mostly out-of-province (truth only)."""
    d, n = world / "truth" / "dens.parquet", world / "truth" / "numbers.parquet"
    if not d.exists() or not n.exists():
        raise InvalidInput(f"--world {world}: no truth/dens.parquet or truth/numbers.parquet; "
                           "give a folder written by `telshield world generate`")
    nums = [r for r in pq.read_table(n, columns=["den_id", "ours", "first_fraud_call_at",
                                                 "active_from", "active_to"]).to_pylist()
            if r["den_id"] is not None]
    out = []
    for r in pq.read_table(d, columns=["den_id", "county", "city"]).to_pylist():
        m = [x for x in nums if x["den_id"] == r["den_id"]]
        if not m or sum(bool(x["ours"]) for x in m) / len(m) > max_ours:
            continue
        starts = [x["first_fraud_call_at"] or x["active_from"] for x in m]
        ends = [x["active_to"] for x in m if x["active_to"] is not None]
        start = min(s for s in starts if s is not None)
        out.append(Den(den_id=r["den_id"], region=f"{r['city']}/{r['county']}", start=start,
                       end=max(ends) if ends else start, members=len(m)))
    return out


def judge(runs: Sequence[Sequence[Hotspot]], dens: Sequence[Den], *, days: float
          ) -> HotspotReport:
    """Compare the alerts of each run (new or updated hotspots) with the true dens."""
    alerts = [h for run in runs for h in run]
    results = []
    for den in dens:
        hits = sorted(h.window_end for h in alerts
                      if h.region == den.region and h.window_end >= den.start)
        results.append(DenResult(den, hits[0] if hits else None))
    first: dict[int, Hotspot] = {}
    for h in alerts:
        first.setdefault(int(h.id or 0), h)
    false = [h.region for h in first.values()
             if not any(d.region == h.region and d.start <= h.window_end
                        <= d.end + timedelta(days=1) for d in dens)]
    return HotspotReport(dens=tuple(results), hotspots=len(first), false_hotspots=tuple(false),
                         days=days)
