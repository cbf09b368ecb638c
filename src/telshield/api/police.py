"""``/v1/police/...``: police coordination (警企协同). A unit's officers file query and control
requests and clues and read their own unit's answers (another unit's request is 404); the
operator's analysts and disposers prepare and approve (two different people), reject, escalate
and give clue feedback. Every read of a response is audited in the service."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from pydantic import BaseModel, Field

from telshield.api.auth import requires
from telshield.api.paging import page
from telshield.domain.paging import Page
from telshield.domain.police import ClueFeedback, PoliceRequest, TargetKind, mask_id_hash
from telshield.domain.users import Permission, User, mask_number
from telshield.services.police import Clue, PoliceService
from telshield.settings import Settings
from telshield.wiring.police import police

router = APIRouter(prefix="/v1/police", tags=["police"])
Officer = Annotated[User, Depends(requires(Permission.POLICE_REQUEST))]
Handler = Annotated[User, Depends(requires(Permission.POLICE_HANDLE))]
Pg = Annotated[Page, Depends(page)]
Id = Annotated[int, Path(ge=1, le=2**62)]
Text = Annotated[str, Field(min_length=1, max_length=500)]


def install(app: FastAPI, settings: Settings) -> None:
    """Serve the police routes over the app's store."""
    app.state.police = police(settings, app.state.disposal.store)
    app.include_router(router)


def service(request: Request) -> PoliceService:
    """The police service the app was built with."""
    s: PoliceService = request.app.state.police
    return s


S = Annotated[PoliceService, Depends(service)]


class RequestIn(BaseModel):
    """A unit's request: a query, or a control (block or suspend), under a legal document."""

    kind: Literal["query", "control"]
    target_kind: Literal["number", "id"] = "number"
    target: Annotated[str, Field(min_length=3, max_length=64,
                                 description="E.164 digits, or an ID's keyed hash")]
    action: Literal["", "block", "suspend"] = ""
    legal_doc: Text
    case_ref: Text
    reason: Text


class RequestOut(BaseModel):
    """A request as the caller may see it (an ID's hash always shortened)."""

    id: int
    unit: str
    kind: str
    target_kind: str
    target: str
    action: str
    legal_doc: str
    case_ref: str
    reason: str
    status: str
    submitted_by: str
    submitted_at: datetime
    deadline: datetime
    prepared_by: str
    decided_by: str
    decided_at: datetime | None
    note: str
    escalated_at: datetime | None
    overdue: bool


def _out(q: PoliceRequest, user: User, now: datetime) -> RequestOut:
    if q.target_kind is TargetKind.ID:
        target = mask_id_hash(q.target)
    else:
        target = q.target if user.sees_numbers else mask_number(q.target)
    return RequestOut(
        id=int(q.id or 0), unit=q.unit, kind=q.kind.value, target_kind=q.target_kind.value,
        target=target, action=q.action.value if q.action else "", legal_doc=q.legal_doc,
        case_ref=q.case_ref, reason=q.reason, status=q.status.value,
        submitted_by=q.submitted_by, submitted_at=q.submitted_at, deadline=q.deadline,
        prepared_by=q.prepared_by, decided_by=q.decided_by, decided_at=q.decided_at,
        note=q.note, escalated_at=q.escalated_at, overdue=q.overdue(now))


class ResponseOut(BaseModel):
    """A sealed response: the package, its SHA-256 (over the canonical JSON) and the HTML
    report's."""

    request_id: int
    sha256: str
    html_sha256: str
    package: dict[str, Any]
    html: str


class NoteIn(BaseModel):
    """An optional note for the maker's or checker's step."""

    note: Annotated[str, Field(max_length=500)] = ""


class RejectIn(BaseModel):
    """Why a request is refused (the unit sees it)."""

    reason: Text


class ClueIn(BaseModel):
    """A clue from the caller's unit: a number used in a reported fraud case."""

    msisdn: Annotated[str, Field(min_length=3, max_length=15)]
    case_ref: Text
    fraud_type: Annotated[str, Field(min_length=1, max_length=64)]
    clue_id: Annotated[str, Field(max_length=100)] = ""


class FeedbackOut(BaseModel):
    """What the operator did with a clue."""

    outcome: str
    note: str
    by: str
    at: datetime


class ClueOut(BaseModel):
    """A unit's clue, whether its number is police-blocked, and the operator's feedback."""

    clue_id: str
    reported_at: datetime
    msisdn: str
    case_ref: str
    fraud_type: str
    unit: str
    blocked: bool
    feedback: list[FeedbackOut]


class FeedbackIn(BaseModel):
    """Feedback on a clue: an outcome and a note for the unit."""

    outcome: Literal["blocked", "suspended", "traced", "no_subscriber", "not_actioned", "other"]
    note: Annotated[str, Field(max_length=500)] = ""


def _fb(f: ClueFeedback) -> FeedbackOut:
    return FeedbackOut(outcome=f.outcome, note=f.note, by=f.by, at=f.at)


def _clue(c: Clue) -> ClueOut:
    return ClueOut(clue_id=c.clue_id, reported_at=c.reported_at, msisdn=c.msisdn,
                   case_ref=c.case_ref, fraud_type=c.fraud_type, unit=c.unit,
                   blocked=c.blocked, feedback=[_fb(f) for f in c.feedback])


# --- the unit's side -----------------------------------------------------------------------
@router.post("/requests", response_model=RequestOut, status_code=201)
def submit(s: S, user: Officer, body: RequestIn) -> RequestOut:
    """File a query or control request for the caller's unit."""
    q = s.submit(user, **body.model_dump())
    return _out(q, user, s.clock.now())


@router.get("/requests", response_model=list[RequestOut])
def mine(s: S, user: Officer, pg: Pg, status: str = "") -> list[RequestOut]:
    """The caller's unit's requests, newest first."""
    now = s.clock.now()
    return [_out(q, user, now) for q in s.mine(user, status=status, page=pg)]


@router.get("/requests/{request_id}", response_model=RequestOut)
def get(s: S, user: Officer, request_id: Id) -> RequestOut:
    """One of the caller's unit's requests (404 for another unit's)."""
    return _out(s.get(user, request_id), user, s.clock.now())


@router.get("/requests/{request_id}/response", response_model=ResponseOut)
def response(s: S, user: Officer, request_id: Id) -> ResponseOut:
    """The sealed response to an approved request; the read is audited."""
    _, r = s.response(user, request_id)
    return ResponseOut(request_id=r.request_id, sha256=r.sha256, html_sha256=r.html_sha256,
                       package=json.loads(r.package), html=r.html)


@router.post("/clues", status_code=201)
def clue(s: S, user: Officer, body: ClueIn) -> dict[str, str]:
    """Send a clue; it goes into the clues feed like a feed file's row."""
    return {"clue_id": s.submit_clue(user, msisdn=body.msisdn, case_ref=body.case_ref,
                                     fraud_type=body.fraud_type, clue_id=body.clue_id)}


@router.get("/clues", response_model=list[ClueOut])
def clues(s: S, user: Officer) -> list[ClueOut]:
    """The caller's unit's clues with their block and feedback; the read is audited."""
    return [_clue(c) for c in s.clues(user)]


# --- the operator's side -------------------------------------------------------------------
@router.get("/queue", response_model=list[RequestOut])
def queue(s: S, user: Handler, pg: Pg, status: str = "", unit: str = "") -> list[RequestOut]:
    """Every unit's requests for the operator, newest first."""
    now = s.clock.now()
    return [_out(q, user, now) for q in s.queue(status=status, unit=unit, page=pg)]


@router.post("/requests/{request_id}/prepare", response_model=RequestOut)
def prepare(s: S, user: Handler, request_id: Id, body: NoteIn) -> RequestOut:
    """The maker's step."""
    return _out(s.prepare(request_id, actor=user.name, note=body.note), user, s.clock.now())


@router.post("/requests/{request_id}/approve", response_model=RequestOut)
def approve(s: S, user: Handler, request_id: Id, body: NoteIn) -> RequestOut:
    """The checker's step (not the maker): executes the request and seals its response."""
    q, _ = s.approve(request_id, actor=user.name, note=body.note)
    return _out(q, user, s.clock.now())


@router.post("/requests/{request_id}/reject", response_model=RequestOut)
def reject(s: S, user: Handler, request_id: Id, body: RejectIn) -> RequestOut:
    """Refuse a request, saying why."""
    return _out(s.reject(request_id, actor=user.name, reason=body.reason), user, s.clock.now())


@router.post("/escalate", response_model=list[RequestOut])
def escalate(s: S, user: Handler) -> list[RequestOut]:
    """Escalate every open request past its SLA deadline."""
    now = s.clock.now()
    return [_out(q, user, now) for q in s.escalate(actor=user.name)]


@router.get("/breaches", response_model=list[RequestOut])
def breaches(s: S, user: Handler) -> list[RequestOut]:
    """Requests that missed their SLA."""
    now = s.clock.now()
    return [_out(q, user, now) for q in s.breaches()]


@router.post("/clues/{clue_id}/feedback", response_model=FeedbackOut, status_code=201)
def feedback(s: S, user: Handler, clue_id: Annotated[str, Path(max_length=100)],
             body: FeedbackIn) -> FeedbackOut:
    """Tell a clue's unit what was done with it."""
    return _fb(s.feedback(clue_id, outcome=body.outcome, note=body.note, actor=user.name))


class ReportOut(BaseModel):
    """A month's coordination statistics and the SHA-256 of their canonical JSON."""

    month: str
    sha256: str
    report: dict[str, Any]


@router.get("/reports/monthly", response_model=ReportOut)
def report(s: S, user: Handler,
           month: Annotated[str, Query(pattern=r"^\d{4}-\d{2}$")]) -> ReportOut:
    """The month's police coordination statistics (counts only), sealed and audited."""
    r = s.monthly(month, actor=user.name)
    return ReportOut(month=r.month, sha256=r.sha256, report=json.loads(r.package))
