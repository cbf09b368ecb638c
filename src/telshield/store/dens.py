"""Den cases in SQL: the den row (place, confidence, evidence as JSON) and one row per number
seen in it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from telshield.domain.dens import Den, DenMember
from telshield.domain.errors import NotFound
from telshield.domain.paging import Page
from telshield.store.rows import chunks
from telshield.store.tables import den_members, dens

D, M = dens, den_members


def _naive(at: datetime) -> datetime:
    return at.replace(tzinfo=None)


def _den(r: Any, members: tuple[DenMember, ...] = ()) -> Den:
    return Den(kind=r.kind, confidence=float(r.confidence), cells=tuple(r.cells),
               county=r.county, lat=float(r.lat), lon=float(r.lon),
               radius_km=float(r.radius_km), members=members, first_seen=r.first_seen,
               last_seen=r.last_seen, found_at=r.found_at, updated_at=r.updated_at,
               evidence=dict(r.evidence), status=r.status, id=int(r.id))


def _missing(den_id: int) -> NotFound:
    return NotFound(f"den {den_id} does not exist; see `telshield dens list`")


class SqlDenRepo:
    """DenRepo over one connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def open_index(self) -> tuple[dict[str, int], dict[str, int]]:
        """The open den of each port IMEI and of each member number."""
        q = (sa.select(M.c.msisdn, M.c.imei, M.c.den_id).join(D, D.c.id == M.c.den_id)
             .where(D.c.status == "open").order_by(M.c.den_id))
        by_imei: dict[str, int] = {}
        by_sim: dict[str, int] = {}
        for m, i, d in self.conn.execute(q):
            by_sim.setdefault(str(m), int(d))
            if i:
                by_imei.setdefault(str(i), int(d))
        return by_imei, by_sim

    def save(self, den: Den) -> Den:
        """Insert a den (no id) or replace a stored one and its members; return it with id."""
        values: dict[str, Any] = {
            "status": den.status, "kind": den.kind, "confidence": den.confidence,
            "county": den.county, "lat": den.lat, "lon": den.lon, "radius_km": den.radius_km,
            "cells": list(den.cells), "first_seen": _naive(den.first_seen),
            "last_seen": _naive(den.last_seen), "found_at": _naive(den.found_at),
            "updated_at": _naive(den.updated_at), "evidence": den.evidence}
        if den.id is None:
            did = int(self.conn.execute(sa.insert(D).returning(D.c.id).values(**values))
                      .scalar_one())
        else:
            did = den.id
            if self.conn.execute(sa.update(D).where(D.c.id == did).values(**values)).rowcount != 1:
                raise _missing(did)
            self.conn.execute(sa.delete(M).where(M.c.den_id == did))
        rows = [{"den_id": did, "msisdn": m.msisdn, "role": m.role, "imei": m.imei,
                 "cell": m.cell, "first_at": _naive(m.first_at), "last_at": _naive(m.last_at),
                 "calls": m.calls} for m in den.members]
        for part in chunks(rows, 1000):
            self.conn.execute(sa.insert(M), list(part))
        return Den(**{**vars(den), "id": did})

    def get(self, id: int) -> Den:
        """One den with its members; NotFound if absent."""
        r = self.conn.execute(sa.select(D).where(D.c.id == id)).first()
        if r is None:
            raise _missing(id)
        members = tuple(
            DenMember(msisdn=m.msisdn, imei=m.imei, cell=m.cell, first_at=m.first_at,
                      last_at=m.last_at, calls=int(m.calls), role=m.role)
            for m in self.conn.execute(sa.select(M).where(M.c.den_id == id)
                                       .order_by(M.c.first_at, M.c.msisdn, M.c.role)))
        return _den(r, members)

    def find(self, *, min_confidence: float = 0.0, page: Page = Page()) -> list[Den]:
        """Dens, most confident first, without their members."""
        q = (sa.select(D).where(D.c.confidence >= min_confidence)
             .order_by(D.c.confidence.desc(), D.c.id).limit(page.limit).offset(page.offset))
        return [_den(r) for r in self.conn.execute(q)]
