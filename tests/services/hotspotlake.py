"""A small hand-built lake for the hotspot scan (numbers homed by the real numbering plan).

- **Liuhe** (Nanjing): no out-of-province caller for a week, then, in the last 12 hours, eight
  Henan numbers calling outwards only, each to many new numbers, mostly unanswered: a den
  starting. The scan must alert here.
- **Kunshan** (Suzhou): six such Henan numbers calling every six hours, every day, the whole
  eight days: a high but stable baseline. No alert.
- **Gusu** (Suzhou): Henan travellers calling home and being called back (two-way, answered):
  out of province but not suspicious, many of them in the last 12 hours. No alert.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tests.services.feeds import write_feed

T0 = datetime(2026, 11, 1)
UNTIL = T0 + timedelta(days=8)
HENAN = "861300750"  # a mobile H-code of Zhengzhou, Henan
JIANGSU = "861300006"  # a mobile H-code of Nanjing
COUNTIES = {"Liuhe": ("Nanjing", 32.32, 118.83), "Kunshan": ("Suzhou", 31.38, 120.98),
            "Gusu": ("Suzhou", 31.31, 120.62)}


class Lake:
    """The rows written and who is who."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.den: list[str] = []
        self.stable: list[str] = []
        self.travellers: list[str] = []
        self._n = 0
        self._v = 0

    def number(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}{self._n:04d}"

    def victim(self) -> str:
        self._v += 1
        return f"{JIANGSU}{self._v % 10_000:04d}"

    def call(self, at: datetime, caller: str, callee: str, cell: str | None,
             duration: int) -> None:
        self.calls.append({"call_id": f"c{len(self.calls)}", "started_at": at,
                           "duration_s": duration, "caller": caller, "callee": callee,
                           "ingress": "radio", "caller_cell": cell})

    def burst(self, caller: str, at: datetime, cell: str, n: int = 6) -> None:
        """A den SIM's calls: ``n`` new victims, two of three unanswered."""
        for k in range(n):
            self.call(at + timedelta(minutes=5 * k), caller, self.victim(), cell,
                      0 if k % 3 else 15)


def write(root: Path) -> Lake:
    """Write cells and calls under ``root``."""
    lk = Lake()
    cells = [{"cell_id": f"cell-{county}-{i}", "lat": lat + i * 0.01, "lon": lon,
              "county": county, "city": city, "province": "Jiangsu"}
             for county, (city, lat, lon) in COUNTIES.items() for i in range(3)]
    write_feed(root, "cells", cells)
    lk.stable = [lk.number(HENAN) for _ in range(6)]
    t = T0
    while t < UNTIL:
        for i, m in enumerate(lk.stable):
            lk.burst(m, t + timedelta(minutes=i), f"cell-Kunshan-{i % 3}")
        t += timedelta(hours=6)
    lk.den = [lk.number(HENAN) for _ in range(8)]
    for i, m in enumerate(lk.den):
        for h in (12, 6):
            lk.burst(m, UNTIL - timedelta(hours=h, minutes=-i), f"cell-Liuhe-{i % 2}")
    lk.travellers = [lk.number(HENAN) for _ in range(10)]
    for i, m in enumerate(lk.travellers):
        home = f"{HENAN}{9000 + i}"
        at = UNTIL - timedelta(hours=10, minutes=-i)
        lk.call(at, m, home, "cell-Gusu-0", 120)
        lk.call(at + timedelta(hours=1), home, m, None, 300)
        lk.call(at + timedelta(hours=2), m, lk.victim(), "cell-Gusu-1", 60)
    write_feed(root, "calls", lk.calls)
    return lk
