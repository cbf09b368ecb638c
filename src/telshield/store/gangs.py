"""Gang cases in SQL: the gang row (signals, evidence and the links among its cards as JSON) and
one row per member card."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from telshield.domain.errors import NotFound
from telshield.domain.gangs import Gang, GangLink, GangMember, Signals
from telshield.domain.paging import Page
from telshield.store.rows import chunks
from telshield.store.tables import gang_members, gangs

G, M = gangs, gang_members


def _signals(d: dict[str, Any]) -> Signals:
    return Signals(**{k: d[k] for k in Signals.__dataclass_fields__})


def _gang(r: Any, members: tuple[GangMember, ...] = (), links: tuple[GangLink, ...] = ()
          ) -> Gang:
    return Gang(score=float(r.score), members=members, links=links,
                signals=_signals(r.signals), found_at=r.found_at, updated_at=r.updated_at,
                status=r.status, id=int(r.id), evidence=dict(r.evidence))


def _naive(at: datetime) -> datetime:
    return at.replace(tzinfo=None)


class SqlGangRepo:
    """GangRepo over one connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def open_members(self) -> dict[str, int]:
        """The open gang of each card that is a member of one."""
        q = (sa.select(M.c.msisdn, M.c.gang_id).join(G, G.c.id == M.c.gang_id)
             .where(G.c.status == "open"))
        return {str(m): int(g) for m, g in self.conn.execute(q)}

    def save(self, gang: Gang) -> Gang:
        """Insert a gang (no id) or replace a stored one and its members; return it with id."""
        s = gang.signals
        evidence: dict[str, Any] = {**gang.evidence, "link_counts": gang.link_counts,
                                    "staff_ids": list(gang.staff_ids),
                                    "channels": list(gang.channels)}
        values: dict[str, Any] = {
            "status": gang.status, "score": gang.score, "cards": s.cards, "ids": s.ids,
            "found_at": _naive(gang.found_at), "updated_at": _naive(gang.updated_at),
            "signals": dict(vars(s)),
            "evidence": evidence,
            "links": [[x.a, x.b, list(x.kinds), round(x.weight, 4)] for x in gang.links],
        }
        if gang.id is None:
            gid = int(self.conn.execute(sa.insert(G).returning(G.c.id).values(**values))
                      .scalar_one())
        else:
            gid = gang.id
            if self.conn.execute(sa.update(G).where(G.c.id == gid).values(**values)).rowcount != 1:
                raise NotFound(f"gang {gid} does not exist; see `telshield gangs list`")
            self.conn.execute(sa.delete(M).where(M.c.gang_id == gid))
        rows = [{"gang_id": gid, "msisdn": m.msisdn, "id_hash": m.id_hash,
                 "channel_id": m.channel_id, "staff_id": m.staff_id,
                 "registered_at": _naive(m.registered_at), "links": list(m.links),
                 "flags": list(m.flags)} for m in gang.members]
        for part in chunks(rows, 1000):
            self.conn.execute(sa.insert(M), list(part))
        return Gang(score=gang.score, members=gang.members, links=gang.links,
                    signals=gang.signals, found_at=gang.found_at, updated_at=gang.updated_at,
                    status=gang.status, id=gid, evidence=evidence)

    def get(self, id: int) -> Gang:
        """One gang with its members and links; NotFound if absent."""
        r = self.conn.execute(sa.select(G).where(G.c.id == id)).first()
        if r is None:
            raise NotFound(f"gang {id} does not exist; see `telshield gangs list`")
        members = tuple(
            GangMember(msisdn=m.msisdn, id_hash=m.id_hash, channel_id=m.channel_id,
                       staff_id=m.staff_id, registered_at=m.registered_at,
                       links=tuple(m.links), flags=tuple(m.flags))
            for m in self.conn.execute(sa.select(M).where(M.c.gang_id == id)
                                       .order_by(M.c.registered_at, M.c.msisdn)))
        links = tuple(GangLink(a=a, b=b, kinds=tuple(k), weight=float(w))
                      for a, b, k, w in r.links)
        return _gang(r, members, links)

    def find(self, *, min_score: float = 0.0, page: Page = Page()) -> list[Gang]:
        """Gangs, highest score first, without their members and links."""
        q = (sa.select(G).where(G.c.score >= min_score)
             .order_by(G.c.score.desc(), G.c.id).limit(page.limit).offset(page.offset))
        return [_gang(r) for r in self.conn.execute(q)]
