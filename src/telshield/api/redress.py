"""Routes for redress against screening decisions: look a decision up by the id a 608 carried,
and appeal against it (``services.redress`` says where the appeal goes)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from pydantic import BaseModel, Field

from telshield.api.auth import requires
from telshield.api.schemas import shown
from telshield.domain.errors import InvalidInput
from telshield.domain.users import Permission, User
from telshield.settings import Settings
from telshield.wiring import screening
from telshield.wiring.screening import Redress

router = APIRouter(tags=["redress"])
DecisionId = Annotated[str, Path(min_length=3, max_length=64, pattern=r"^[0-9a-f]+-[0-9a-f]+$")]


def install(app: FastAPI, settings: Settings) -> None:
    """Serve the redress routes over the decision log the settings name."""
    app.state.redress = screening.redress(settings, app.state.disposal)
    app.include_router(router)


def redress(request: Request) -> Redress:
    """The redress services the app was built with."""
    r: Redress = request.app.state.redress
    return r


R = Annotated[Redress, Depends(redress)]
Reader = Annotated[User, Depends(requires(Permission.APPEALS_READ))]
Filer = Annotated[User, Depends(requires(Permission.APPEALS_FILE))]


class ScreeningDecisionOut(BaseModel):
    """A logged screening decision (numbers masked for roles that need not see them)."""

    id: str
    at: datetime
    caller: str
    callee: str
    ingress: str
    outcome: str
    reasons: list[str]
    snapshot: str


class RedressIn(BaseModel):
    """An appeal against a decision: its id (or ``?decision=`` as in the 608's link) and why."""

    decision_id: str | None = Field(default=None, max_length=64)
    reason: str = Field(min_length=1, max_length=4000)
    documents: list[str] = Field(default_factory=list, max_length=50)


class RedressOut(BaseModel):
    """Where the appeal went: a case's appeal, or a record on the list entry."""

    decision_id: str
    msisdn: str
    kind: str
    at: datetime
    case_id: int | None
    appeal_id: int | None
    entry_id: int | None


class ListAppealOut(BaseModel):
    """An appeal recorded against a list entry, for a disposer to answer."""

    seq: int
    at: datetime
    actor: str
    decision_id: str
    msisdn: str
    entry_id: int
    entry: str
    reason: str


@router.get("/v1/decisions/{decision_id}", response_model=ScreeningDecisionOut)
def get_decision(r: R, decision_id: DecisionId, user: Reader) -> ScreeningDecisionOut:
    """A screening decision from the decision log, by the id its 608 or answer carried."""
    d = r.find(decision_id)
    return ScreeningDecisionOut(
        id=d.id, at=datetime.fromtimestamp(d.at, UTC), caller=shown(d.caller, user),
        callee=shown(d.callee, user), ingress=d.ingress, outcome=d.outcome,
        reasons=list(d.reasons), snapshot=d.snapshot)


@router.post("/v1/appeals", response_model=RedressOut, status_code=201)
def appeal(r: R, body: RedressIn, user: Filer,
           decision: Annotated[str | None, Query(max_length=64)] = None) -> RedressOut:
    """Appeal against a decision: filed on the caller's case, else recorded on its list
    entry (409 when nothing stands against the number)."""
    decision_id = body.decision_id or decision
    if not decision_id:
        raise InvalidInput("say which decision: decision_id in the body, or ?decision=<id> as "
                           "in the 608's Call-Info link")
    d = r.find(decision_id)
    a = r.service.appeal(d.caller, decision_id=d.id, decided=d.reasons, reason=body.reason,
                         actor=user.name, documents=body.documents)
    return RedressOut(decision_id=a.decision_id, msisdn=shown(a.msisdn, user), kind=a.kind,
                      at=a.at, case_id=a.case_id, appeal_id=a.appeal_id, entry_id=a.entry_id)


@router.get("/v1/appeals", response_model=list[ListAppealOut])
def list_entry_appeals(
    r: R, user: Reader,
    after: Annotated[int, Query(ge=0, le=2**53)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[ListAppealOut]:
    """Appeals recorded against list entries (numbers with no case), oldest first; appeals
    on cases are under ``GET /appeals``."""
    out = []
    for e in r.service.list_entry_appeals(after=after, limit=limit):
        x = e.event.detail
        out.append(ListAppealOut(
            seq=e.seq, at=e.event.at, actor=e.event.actor, decision_id=str(x["decision_id"]),
            msisdn=shown(str(x["msisdn"]), user), entry_id=int(x["entry_id"]),
            entry=str(x["entry"]) if user.sees_numbers else str(x["entry"]).split()[0],
            reason=str(x["reason"])))
    return out
