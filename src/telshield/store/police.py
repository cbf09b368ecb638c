"""Police units, requests, their sealed responses and clue feedback in SQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from telshield.domain.errors import Conflict, NotFound
from telshield.domain.paging import Page
from telshield.domain.police import (
    ClueFeedback,
    ControlAction,
    PoliceRequest,
    RequestKind,
    RequestStatus,
    Response,
    TargetKind,
    Unit,
)
from telshield.store.rows import naive_utc
from telshield.store.tables import (
    police_clue_feedback,
    police_requests,
    police_responses,
    police_units,
)

R, U, P, F = police_requests, police_units, police_responses, police_clue_feedback


def _request(r: Any) -> PoliceRequest:
    return PoliceRequest(
        unit=r.unit, kind=RequestKind(r.kind), target_kind=TargetKind(r.target_kind),
        target=r.target, action=ControlAction(r.action) if r.action else None,
        legal_doc=r.legal_doc, case_ref=r.case_ref, reason=r.reason,
        submitted_by=r.submitted_by, submitted_at=r.submitted_at, deadline=r.deadline,
        status=RequestStatus(r.status), prepared_by=r.prepared_by, prepared_at=r.prepared_at,
        decided_by=r.decided_by, decided_at=r.decided_at, note=r.note,
        escalated_at=r.escalated_at, id=int(r.id))


def _values(q: PoliceRequest) -> dict[str, Any]:
    return {
        "unit": q.unit, "kind": q.kind.value, "target_kind": q.target_kind.value,
        "target": q.target, "action": q.action.value if q.action else "",
        "legal_doc": q.legal_doc, "case_ref": q.case_ref, "reason": q.reason,
        "submitted_by": q.submitted_by, "submitted_at": naive_utc(q.submitted_at),
        "deadline": naive_utc(q.deadline), "status": q.status.value,
        "prepared_by": q.prepared_by, "prepared_at": naive_utc(q.prepared_at),
        "decided_by": q.decided_by, "decided_at": naive_utc(q.decided_at), "note": q.note,
        "escalated_at": naive_utc(q.escalated_at),
    }


class SqlPoliceRepo:
    """PoliceRepo over one connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add_unit(self, unit: Unit) -> Unit:
        """Register a unit; Conflict if its code is taken."""
        if self.conn.execute(sa.select(U.c.code).where(U.c.code == unit.code)).first():
            raise Conflict(f"a police unit {unit.code!r} exists; see `telshield users units`")
        self.conn.execute(sa.insert(U).values(code=unit.code, name=unit.name,
                                              created_at=naive_utc(unit.created_at)))
        return unit

    def unit(self, code: str) -> Unit | None:
        """One unit, if registered."""
        r = self.conn.execute(sa.select(U).where(U.c.code == code)).first()
        return None if r is None else Unit(r.code, r.name, r.created_at)

    def units(self) -> list[Unit]:
        """Every unit, by code."""
        return [Unit(r.code, r.name, r.created_at)
                for r in self.conn.execute(sa.select(U).order_by(U.c.code))]

    def add(self, q: PoliceRequest) -> PoliceRequest:
        """Insert a request; return it with its id."""
        i = self.conn.execute(sa.insert(R).returning(R.c.id).values(**_values(q))).scalar_one()
        return _request(self.conn.execute(sa.select(R).where(R.c.id == i)).one())

    def get(self, id: int, *, lock: bool = False) -> PoliceRequest:
        """One request; NotFound if absent. ``lock``: hold it until the transaction ends."""
        stmt = sa.select(R).where(R.c.id == id)
        if lock:
            stmt = stmt.with_for_update()
        r = self.conn.execute(stmt).first()
        if r is None:
            raise NotFound(f"no police request {id}")
        return _request(r)

    def save(self, q: PoliceRequest) -> None:
        """Write back a changed request."""
        self.conn.execute(sa.update(R).where(R.c.id == q.id).values(**_values(q)))

    def find(self, *, unit: str = "", status: str = "", page: Page = Page()
             ) -> list[PoliceRequest]:
        """Requests, newest first, filtered and paginated."""
        stmt = sa.select(R)
        if unit:
            stmt = stmt.where(R.c.unit == unit)
        if status:
            stmt = stmt.where(R.c.status == status)
        stmt = stmt.order_by(R.c.id.desc()).limit(page.limit).offset(page.offset)
        return [_request(r) for r in self.conn.execute(stmt)]

    def submitted_between(self, since: datetime, until: datetime) -> list[PoliceRequest]:
        """Requests that arrived in [since, until), oldest first."""
        stmt = sa.select(R).where((R.c.submitted_at >= naive_utc(since))
                                  & (R.c.submitted_at < naive_utc(until))).order_by(R.c.id)
        return [_request(r) for r in self.conn.execute(stmt)]

    def open_past(self, at: datetime) -> list[PoliceRequest]:
        """Open requests whose deadline has passed at ``at``."""
        open_ = [RequestStatus.SUBMITTED.value, RequestStatus.PREPARED.value]
        stmt = sa.select(R).where(R.c.status.in_(open_) & (R.c.deadline < naive_utc(at)))
        return [_request(r) for r in self.conn.execute(stmt.order_by(R.c.id))]

    def breached(self, at: datetime) -> list[PoliceRequest]:
        """Requests that missed their SLA (answered late, or open past the deadline)."""
        late_closed = R.c.decided_at > R.c.deadline
        open_late = R.c.status.in_([RequestStatus.SUBMITTED.value,
                                    RequestStatus.PREPARED.value]) & (
            R.c.deadline < naive_utc(at))
        stmt = sa.select(R).where(late_closed | open_late).order_by(R.c.id)
        return [_request(r) for r in self.conn.execute(stmt)]

    def add_response(self, resp: Response) -> None:
        """Store a request's sealed response (one per request)."""
        self.conn.execute(sa.insert(P).values(
            request_id=resp.request_id, package=resp.package, html=resp.html,
            sha256=resp.sha256, html_sha256=resp.html_sha256,
            created_at=naive_utc(resp.created_at)))

    def response(self, request_id: int) -> Response | None:
        """A request's sealed response, if any."""
        r = self.conn.execute(sa.select(P).where(P.c.request_id == request_id)).first()
        if r is None:
            return None
        return Response(int(r.request_id), r.package, r.html, r.sha256, r.html_sha256,
                        r.created_at)

    def add_feedback(self, fb: ClueFeedback) -> None:
        """Record what was done with a clue."""
        self.conn.execute(sa.insert(F).values(
            clue_id=fb.clue_id, unit=fb.unit, outcome=fb.outcome, note=fb.note, by=fb.by,
            at=naive_utc(fb.at)))

    def feedback(self, *, unit: str = "", clue_id: str = "") -> list[ClueFeedback]:
        """Clue feedback, oldest first, filtered."""
        stmt = sa.select(F)
        if unit:
            stmt = stmt.where(F.c.unit == unit)
        if clue_id:
            stmt = stmt.where(F.c.clue_id == clue_id)
        return [ClueFeedback(r.clue_id, r.unit, r.outcome, r.note, r.by, r.at)
                for r in self.conn.execute(stmt.order_by(F.c.id))]
