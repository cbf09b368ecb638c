"""Den finding judged against the simulator's truth (``truth/dens.parquet``).

The finder never reads truth. ``telshield evaluate dens`` runs it as the operating cycle would,
every ``step_hours`` over the world's days with an empty store (each run reading the last
``lookback_hours``; a den found again is updated), and compares:

- **found within 24 h**: a true den counts as found at the first run after which a stored den
  has more than half of its numbers from that den; the delay is that run's time less the
  den's first call;
- **location error**: km from the stored den's centroid to the nearest of the den's true cells;
- **member recall / precision**: the den numbers inside stored dens, over all den numbers that
  called or were called; the stored members that are some den's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from statistics import median
from typing import Any

import pyarrow.parquet as pq

from telshield.detect.den_groups import Cell, km
from telshield.domain.dens import Den
from telshield.domain.errors import InvalidInput


@dataclass(frozen=True)
class PerDen:
    """One true den's outcome."""

    den_id: str
    kind: str
    numbers: int
    first_call: datetime | None
    found_after_h: float | None  # hours from its first call to the run that found it
    error_km: float | None


@dataclass(frozen=True)
class DenReport:
    """The figures ``telshield evaluate dens`` prints."""

    per_den: tuple[PerDen, ...]
    found_dens: int
    recall: float
    precision: float
    members_found: int
    members_true: int

    @property
    def within_24h(self) -> float:
        """Share of active true dens found within 24 h of their first call."""
        live = [d for d in self.per_den if d.first_call is not None]
        ok = [d for d in live if d.found_after_h is not None and d.found_after_h <= 24]
        return len(ok) / len(live) if live else float("nan")

    @property
    def median_error_km(self) -> float:
        """Median location error over the found true dens."""
        e = [d.error_km for d in self.per_den if d.error_km is not None]
        return median(e) if e else float("nan")


def read_truth(world: Path) -> list[dict[str, Any]]:
    """The true dens of a simulated province."""
    path = world / "truth" / "dens.parquet"
    if not path.exists():
        raise InvalidInput(f"{path} is missing; give a folder written by `telshield world "
                           "generate`")
    return pq.read_table(path).to_pylist()


def owner(truth: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """The true den of each den number."""
    return {str(m): str(t["den_id"]) for t in truth
            for m in t["msisdns"]}


def best(den: Den, owners: Mapping[str, str]) -> str | None:
    """The true den holding more than half of a found den's numbers, if any."""
    hits = Counter(owners[m] for m in den.msisdns if m in owners)
    if not hits:
        return None
    d, n = hits.most_common(1)[0]
    return d if 2 * n > len(den.msisdns) else None


def judge(found: Sequence[Den], truth: Sequence[Mapping[str, Any]],
          found_at: Mapping[str, datetime], first_call: Mapping[str, datetime],
          active: set[str], cells: Mapping[str, Cell]) -> DenReport:
    """Compare the stored dens (with members) with the true ones; ``found_at`` is the run
    time at which each true den was first found, ``active`` the den numbers in the calls."""
    owners = owner(truth)
    match: dict[str, Den] = {}
    for f in found:
        d = best(f, owners)
        if d is not None and (d not in match or len(f.members) > len(match[d].members)):
            match[d] = f
    per = []
    for t in truth:
        did = str(t["den_id"])
        first = first_call.get(did)
        err = None
        if did in match:
            true_cells = [cells[str(c)] for c in t["cell_ids"]
                          if str(c) in cells]
            if true_cells:
                err = min(km((match[did].lat, match[did].lon), (c.lat, c.lon))
                          for c in true_cells)
        delay = None
        if did in found_at and first is not None:
            delay = (found_at[did] - first).total_seconds() / 3600
        per.append(PerDen(den_id=did, kind=str(t["kind"]),
                          numbers=len(t["msisdns"]),
                          first_call=first, found_after_h=delay, error_km=err))
    members = {m for f in found for m in f.msisdns}
    true = {m for m in owners if m in active}
    return DenReport(per_den=tuple(per), found_dens=len(found),
                     recall=len(members & true) / len(true) if true else float("nan"),
                     precision=(len(members & owners.keys()) / len(members)
                                if members else float("nan")),
                     members_found=len(members), members_true=len(true))


def cutoffs(start: datetime, end: datetime, step_hours: int) -> list[datetime]:
    """The run times of the simulated cycle: every ``step_hours`` after ``start`` to ``end``."""
    out, t = [], start + timedelta(hours=step_hours)
    while t <= end + timedelta(hours=step_hours - 1e-6):
        out.append(t)
        t += timedelta(hours=step_hours)
    return out
