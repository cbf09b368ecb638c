"""Out-of-town concentration hotspots (外地号码聚集): a county where suspicious numbers homed
outside the province gather well above that county's own baseline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


def hotspot_ref(hotspot_id: int) -> str:
    """The reference analysts quote (``HOT-000012``)."""
    return f"HOT-{hotspot_id:06d}"


def parse_ref(text: str) -> int:
    """A hotspot id from ``12`` or ``HOT-000012``; ValueError otherwise."""
    t = text.strip().upper().removeprefix("HOT-")
    if not t.isdigit() or int(t) <= 0:
        raise ValueError(f"{text!r} is not a hotspot id (12 or HOT-000012)")
    return int(t)


@dataclass(frozen=True)
class Hotspot:
    """One alert: where, when, how many numbers against how many expected, and how sure."""

    region: str  # city/county
    city: str
    county: str
    lat: float  # the county's cells' mean position
    lon: float
    window_start: datetime  # the scan cylinder: the last buckets up to window_end
    window_end: datetime
    observed: int  # distinct suspicious out-of-province numbers in the cylinder
    expected: float  # from the county's own baseline
    p_value: float  # Monte Carlo
    llr: float
    numbers: tuple[str, ...]
    found_at: datetime
    updated_at: datetime
    status: str = "open"
    id: int | None = None

    @property
    def factor(self) -> float:
        """Observed over expected."""
        return round(self.observed / self.expected, 2) if self.expected > 0 else float("inf")
