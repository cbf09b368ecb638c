"""Registration checks and staff suspensions in SQL, and the per-ID lock that keeps the card
limit from being raced past."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from telshield.domain.errors import InvalidInput, NotFound
from telshield.domain.registrations import (
    CheckRecord,
    CheckRequest,
    Decision,
    Reason,
    StaffSuspension,
)
from telshield.store.rows import naive_utc
from telshield.store.tables import registration_checks, staff_suspensions

C, S = registration_checks, staff_suspensions
COUNTED = frozenset({"staff_id", "terminal_id", "address_hash", "contact", "ip", "device_id"})


def lock_key(id_hash: str) -> int:
    """The advisory lock number of an ID: its hash's first 16 hex digits as a signed bigint."""
    n = int(id_hash[:16], 16)
    return n - (1 << 64) if n >= 1 << 63 else n


def _suspension(r: Any) -> StaffSuspension:
    return StaffSuspension(staff_id=r.staff_id, reason=r.reason, actor=r.actor, at=r.at,
                           lifted_at=r.lifted_at, lifted_by=r.lifted_by, id=int(r.id))


class SqlRegistrationRepo:
    """RegistrationRepo over one connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def lock_id(self, id_hash: str) -> None:
        """Serialise checks of one ID until the transaction ends. PostgreSQL: a transaction
        advisory lock on the ID's hash. SQLite: nothing to do, every write transaction already
        holds the database's one write lock from its start (BEGIN IMMEDIATE, ``engine``)."""
        if self.conn.dialect.name == "postgresql":
            self.conn.execute(sa.select(sa.func.pg_advisory_xact_lock(lock_key(id_hash))))

    def add(self, request: CheckRequest, decision: Decision, reasons: Sequence[Reason], *,
            actor: str, at: datetime) -> int:
        """Record one check; return its id."""
        o = request.order
        return int(self.conn.execute(sa.insert(C).returning(C.c.id).values(
            at=naive_utc(at), actor=actor, id_hash=request.id_hash,
            holder_kind=request.holder_kind.value, channel_id=request.channel_id,
            staff_id=request.staff_id, terminal_id=request.terminal_id, msisdn=request.msisdn,
            order_id=o.order_id, address_hash=o.address_hash, contact=o.contact, ip=o.ip,
            device_id=o.device_id, decision=decision.value,
            reasons=[{"code": r.code, "text": r.text, "decision": r.decision.value}
                     for r in reasons],
        )).scalar_one())

    def recent(self, *, decision: str = "", channel_id: str = "", staff_id: str = "",
               before: int | None = None, limit: int = 50) -> list[CheckRecord]:
        """Checks newest first, filtered, paged on by the last id seen (keyset: a deep page
        costs what the first does)."""
        q = sa.select(C.c.id, C.c.at, C.c.actor, C.c.channel_id, C.c.staff_id, C.c.terminal_id,
                      C.c.msisdn, C.c.decision, C.c.reasons)
        if decision:
            q = q.where(C.c.decision == decision)
        if channel_id:
            q = q.where(C.c.channel_id == channel_id)
        if staff_id:
            q = q.where(C.c.staff_id == staff_id)
        if before is not None:
            q = q.where(C.c.id < before)
        return [CheckRecord(int(r.id), r.at, r.actor, r.channel_id, r.staff_id, r.terminal_id,
                            r.msisdn, Decision(r.decision), tuple(
                                Reason(x["code"], x["text"], Decision(x["decision"]))
                                for x in r.reasons))
                for r in self.conn.execute(q.order_by(C.c.id.desc()).limit(limit))]

    def granted(self, id_hash: str, since: datetime) -> dict[str, datetime]:
        """Numbers allowed or sent to verification under the ID since ``since``, with when
        each was first."""
        q = (sa.select(C.c.msisdn, sa.func.min(C.c.at))
             .where(C.c.id_hash == id_hash, C.c.at >= naive_utc(since),
                    C.c.decision.in_([Decision.ALLOW.value, Decision.VERIFY.value]))
             .group_by(C.c.msisdn))
        return {str(m): at for m, at in self.conn.execute(q)}

    def decisions(self, id_hash: str, msisdn: str, since: datetime) -> list[Decision]:
        """The decisions of the checks of this ID and number since ``since``, oldest first."""
        q = (sa.select(C.c.decision)
             .where(C.c.id_hash == id_hash, C.c.msisdn == msisdn, C.c.at >= naive_utc(since))
             .order_by(C.c.id))
        return [Decision(d) for d in self.conn.execute(q).scalars()]

    def count_since(self, column: str, value: str, since: datetime) -> int:
        """Checks since ``since`` whose ``column`` (staff_id, terminal_id or an order field)
        is ``value``; a check answered ``retake`` is not counted (its application is sent
        again, and counted then)."""
        if column not in COUNTED:
            raise InvalidInput(f"checks are not counted by {column!r}")
        col = C.c[column]
        q = sa.select(sa.func.count()).select_from(C).where(
            col == value, C.c.at >= naive_utc(since), C.c.decision != Decision.RETAKE.value)
        return int(self.conn.execute(q).scalar_one())

    def suspend(self, suspension: StaffSuspension) -> StaffSuspension:
        """Store a suspension; return it with its id."""
        i = self.conn.execute(sa.insert(S).returning(S.c.id).values(
            staff_id=suspension.staff_id, reason=suspension.reason, actor=suspension.actor,
            at=naive_utc(suspension.at), lifted_at=None, lifted_by="",
        )).scalar_one()
        return StaffSuspension(suspension.staff_id, suspension.reason, suspension.actor,
                               suspension.at, id=int(i))

    def suspension(self, staff_id: str) -> StaffSuspension | None:
        """The staff ID's suspension in force, if any."""
        r = self.conn.execute(sa.select(S).where(S.c.staff_id == staff_id,
                                                 S.c.lifted_at.is_(None))
                              .order_by(S.c.id.desc())).first()
        return None if r is None else _suspension(r)

    def lift(self, staff_id: str, *, by: str, at: datetime) -> StaffSuspension:
        """Lift the staff ID's suspension in force; NotFound if none is."""
        current = self.suspension(staff_id)
        if current is None:
            raise NotFound(f"staff ID {staff_id!r} is not suspended; see "
                           "`telshield registration staff list`")
        self.conn.execute(sa.update(S).where(S.c.id == current.id)
                          .values(lifted_at=naive_utc(at), lifted_by=by))
        return StaffSuspension(current.staff_id, current.reason, current.actor, current.at,
                               naive_utc(at), by, current.id)

    def suspensions(self, *, active_only: bool = True) -> list[StaffSuspension]:
        """Suspensions, newest first (only those in force unless ``active_only`` is False)."""
        q = sa.select(S)
        if active_only:
            q = q.where(S.c.lifted_at.is_(None))
        return [_suspension(r) for r in self.conn.execute(q.order_by(S.c.id.desc()))]
