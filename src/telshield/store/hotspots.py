"""Hotspot alerts in SQL: one row per hotspot, its numbers as JSON."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from telshield.domain.errors import NotFound
from telshield.domain.hotspots import Hotspot
from telshield.domain.paging import Page
from telshield.store.tables import hotspots

H = hotspots


def _naive(at: datetime) -> datetime:
    return at.replace(tzinfo=None)


def _hotspot(r: Any, with_numbers: bool = True) -> Hotspot:
    return Hotspot(region=r.region, city=r.city, county=r.county, lat=float(r.lat),
                   lon=float(r.lon), window_start=r.window_start, window_end=r.window_end,
                   observed=int(r.observed), expected=float(r.expected),
                   p_value=float(r.p_value), llr=float(r.llr),
                   numbers=tuple(r.numbers) if with_numbers else (), found_at=r.found_at,
                   updated_at=r.updated_at, status=r.status, id=int(r.id))


class SqlHotspotRepo:
    """HotspotRepo over one connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def latest_open(self, region: str) -> Hotspot | None:
        """The region's most recent open hotspot, if any."""
        r = self.conn.execute(sa.select(H).where((H.c.region == region) & (H.c.status == "open"))
                              .order_by(H.c.window_end.desc(), H.c.id.desc()).limit(1)).first()
        return None if r is None else _hotspot(r)

    def save(self, h: Hotspot) -> Hotspot:
        """Insert a hotspot (no id) or replace a stored one; return it with its id."""
        values: dict[str, Any] = {
            "status": h.status, "region": h.region, "city": h.city, "county": h.county,
            "lat": h.lat, "lon": h.lon, "window_start": _naive(h.window_start),
            "window_end": _naive(h.window_end), "observed": h.observed, "expected": h.expected,
            "p_value": h.p_value, "llr": h.llr, "numbers": list(h.numbers),
            "found_at": _naive(h.found_at), "updated_at": _naive(h.updated_at)}
        if h.id is None:
            hid = int(self.conn.execute(sa.insert(H).returning(H.c.id).values(**values))
                      .scalar_one())
        else:
            hid = h.id
            if self.conn.execute(sa.update(H).where(H.c.id == hid).values(**values)).rowcount != 1:
                raise NotFound(f"hotspot {hid} does not exist; see `telshield hotspots list`")
        return self.get(hid)

    def get(self, id: int) -> Hotspot:
        """One hotspot with its numbers; NotFound if absent."""
        r = self.conn.execute(sa.select(H).where(H.c.id == id)).first()
        if r is None:
            raise NotFound(f"hotspot {id} does not exist; see `telshield hotspots list`")
        return _hotspot(r)

    def find(self, *, since: datetime | None = None, region: str | None = None,
             page: Page = Page()) -> list[Hotspot]:
        """Hotspots, latest window first, without their numbers."""
        q = sa.select(H)
        if since is not None:
            q = q.where(H.c.window_end >= _naive(since))
        if region is not None:
            q = q.where(H.c.region == region)
        q = q.order_by(H.c.window_end.desc(), H.c.id.desc()).limit(page.limit).offset(page.offset)
        return [_hotspot(r, with_numbers=False) for r in self.conn.execute(q)]
