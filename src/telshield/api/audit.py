"""Routes for the audit log and the outbox."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from telshield.api.auth import disposal, requires
from telshield.api.paging import page
from telshield.api.schemas import MAX_ID, AuditOut, CommandOut, PageOut, VerifyOut
from telshield.domain.paging import Page
from telshield.domain.users import Permission, User
from telshield.wiring import Disposal

router = APIRouter(tags=["audit"])
D = Annotated[Disposal, Depends(disposal)]


@router.get("/audit", response_model=list[AuditOut])
def list_audit(
    d: D, user: Annotated[User, Depends(requires(Permission.AUDIT_READ))],
    after: Annotated[int, Query(ge=0, le=MAX_ID, description="events after this seq")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    subject: Annotated[str, Query(max_length=200)] = "",
    actor: Annotated[str, Query(max_length=128)] = "",
) -> list[AuditOut]:
    """Audit events in chain order (page on with ``after`` = the last seq seen)."""
    events = d.audit.events(after=after, limit=limit, subject=subject, actor=actor)
    return [AuditOut.of(e, user) for e in events]


@router.get("/audit/verify", response_model=VerifyOut)
def verify_audit(
    d: D, _user: Annotated[User, Depends(requires(Permission.AUDIT_READ))]
) -> VerifyOut:
    """Re-hash the chain; says where it is broken if it is."""
    r = d.audit.verify()
    return VerifyOut(ok=r.ok, checked=r.checked, problem=r.problem, seq=r.seq)


@router.get("/outbox", response_model=PageOut[CommandOut], tags=["outbox"])
def list_outbox(
    d: D, pg: Annotated[Page, Depends(page)],
    _user: Annotated[User, Depends(requires(Permission.OUTBOX))],
    msisdn: Annotated[str, Query(max_length=16)] = "",
    pending_only: bool = False,
) -> PageOut[CommandOut]:
    """Provisioning commands for the BSS, oldest first."""
    items = d.cases.outbox(msisdn=msisdn.lstrip("+"), pending_only=pending_only, page=pg)
    return PageOut(items=[CommandOut.of(c) for c in items], limit=pg.limit, offset=pg.offset)
