"""Clue bundles in SQL: one row per clue's bundle and one per member with its evidence (JSON)
and the analyst's decision."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from telshield.domain.bundles import Bundle, BundleMember, BundleStatus, MemberDecision
from telshield.domain.errors import NotFound
from telshield.domain.paging import Page
from telshield.store.rows import chunks
from telshield.store.tables import clue_bundle_members, clue_bundles

B, M = clue_bundles, clue_bundle_members


def _naive(at: datetime | None) -> datetime | None:
    return None if at is None else at.replace(tzinfo=None)


def _bundle(r: Any, members: tuple[BundleMember, ...] = ()) -> Bundle:
    return Bundle(clue_id=r.clue_id, msisdn=r.msisdn, case_ref=r.case_ref, members=members,
                  created_at=r.created_at, status=BundleStatus(r.status),
                  decided_by=r.decided_by, decided_at=r.decided_at, note=r.note, id=int(r.id))


def _missing(bundle_id: int) -> NotFound:
    return NotFound(f"bundle {bundle_id} does not exist; see `telshield clues bundles list`")


class SqlBundleRepo:
    """BundleRepo over one connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def clue_ids(self, clue_ids: list[str]) -> set[str]:
        """Those of ``clue_ids`` that have a bundle already."""
        out: set[str] = set()
        for part in chunks(clue_ids, 500):
            out.update(str(c) for (c,) in self.conn.execute(
                sa.select(B.c.clue_id).where(B.c.clue_id.in_(list(part)))))
        return out

    def find_clue(self, clue_id: str) -> int | None:
        """The id of the clue's bundle (None when it has none)."""
        got = self.conn.execute(sa.select(B.c.id).where(B.c.clue_id == clue_id)).scalar()
        return None if got is None else int(got)

    def add(self, bundle: Bundle) -> Bundle:
        """Insert a new bundle with its members; return it with its id (Conflict, from the
        unique clue id, if the clue has one already)."""
        bid = int(self.conn.execute(sa.insert(B).returning(B.c.id).values(
            clue_id=bundle.clue_id, msisdn=bundle.msisdn, case_ref=bundle.case_ref,
            status=bundle.status.value, created_at=_naive(bundle.created_at),
            decided_by=bundle.decided_by, decided_at=_naive(bundle.decided_at),
            note=bundle.note)).scalar_one())
        rows = [{"bundle_id": bid, "msisdn": m.msisdn, "strength": m.strength,
                 "kinds": list(m.kinds), "evidence": [dict(e) for e in m.evidence],
                 "decision": m.decision.value} for m in bundle.members]
        for part in chunks(rows, 1000):
            self.conn.execute(sa.insert(M), list(part))
        return replace(bundle, id=bid)

    def decide(self, bundle: Bundle) -> None:
        """Store a bundle's decision and its members' decisions."""
        assert bundle.id is not None
        done = self.conn.execute(sa.update(B).where(B.c.id == bundle.id).values(
            status=bundle.status.value, decided_by=bundle.decided_by,
            decided_at=_naive(bundle.decided_at), note=bundle.note))
        if done.rowcount != 1:
            raise _missing(bundle.id)
        for decision in MemberDecision:
            numbers = [m.msisdn for m in bundle.members if m.decision is decision]
            for part in chunks(numbers, 500):
                self.conn.execute(sa.update(M).where(M.c.bundle_id == bundle.id,
                                                     M.c.msisdn.in_(list(part)))
                                  .values(decision=decision.value))

    def get(self, bundle_id: int) -> Bundle:
        """One bundle with its members, strongest first; NotFound if absent."""
        r = self.conn.execute(sa.select(B).where(B.c.id == bundle_id)).first()
        if r is None:
            raise _missing(bundle_id)
        members = tuple(
            BundleMember(msisdn=m.msisdn, strength=float(m.strength), kinds=tuple(m.kinds),
                         evidence=tuple(dict(e) for e in m.evidence),
                         decision=MemberDecision(m.decision))
            for m in self.conn.execute(sa.select(M).where(M.c.bundle_id == bundle_id)
                                       .order_by(M.c.strength.desc(), M.c.msisdn)))
        return _bundle(r, members)

    def find(self, *, status: BundleStatus | None = None, page: Page = Page()) -> list[Bundle]:
        """Bundles, newest first, without their members."""
        q = sa.select(B)
        if status is not None:
            q = q.where(B.c.status == status.value)
        q = q.order_by(B.c.created_at.desc(), B.c.id.desc()).limit(page.limit).offset(
            page.offset)
        return [_bundle(r) for r in self.conn.execute(q)]

    def sizes(self, bundle_ids: list[int]) -> dict[int, int]:
        """How many members each bundle has."""
        if not bundle_ids:
            return {}
        q = (sa.select(M.c.bundle_id, sa.func.count()).where(M.c.bundle_id.in_(bundle_ids))
             .group_by(M.c.bundle_id))
        return {int(b): int(n) for b, n in self.conn.execute(q)}
