"""Routes for cases, their actions and appeals."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response

from telshield.api.auth import disposal, requires
from telshield.api.paging import page
from telshield.api.schemas import (
    MAX_ID,
    ActionIn,
    ActionOut,
    AppealIn,
    AppealOut,
    BulkIn,
    BulkOut,
    CaseOut,
    DecisionIn,
    OffnetOut,
    PageOut,
    VerifiedIn,
)
from telshield.domain.cases import parse_action
from telshield.domain.paging import Page
from telshield.domain.users import Permission, User
from telshield.wiring import Disposal

router = APIRouter(tags=["cases"])
D = Annotated[Disposal, Depends(disposal)]
P = Annotated[Page, Depends(page)]
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
Party = Annotated[str, Query(max_length=64, pattern=r"^[A-Za-z0-9_:.-]*$", description=(
    "only lines for this party: china_unicom, china_telecom, international:HK, ..."))]


@router.get("/cases", response_model=PageOut[CaseOut])
def list_cases(
    d: D, pg: P, user: Annotated[User, Depends(requires(Permission.CASES_READ))],
    msisdn: Annotated[str, Query(max_length=16)] = "",
    status: Annotated[str, Query(max_length=16)] = "",
    group_ref: Annotated[str, Query(max_length=128)] = "",
) -> PageOut[CaseOut]:
    """Cases, newest first."""
    items = d.cases.find(msisdn=msisdn.lstrip("+"), status=status, group_ref=group_ref, page=pg)
    return PageOut(items=[CaseOut.of(c, user) for c in items], limit=pg.limit, offset=pg.offset)


@router.get("/cases/{case_id}", response_model=CaseOut)
def get_case(d: D, case_id: Id,
             user: Annotated[User, Depends(requires(Permission.CASES_READ))]) -> CaseOut:
    """One case."""
    return CaseOut.of(d.cases.get(case_id), user)


@router.post("/cases/{case_id}/actions", response_model=CaseOut)
def act_on_case(d: D, case_id: Id, body: ActionIn,
                user: Annotated[User, Depends(requires(Permission.CASES_ACT))]) -> CaseOut:
    """Take an action on a case (409 if the state machine forbids it)."""
    c = d.cases.act(case_id, parse_action(body.action), actor=user.name, reason=body.reason)
    return CaseOut.of(c, user)


@router.post("/cases/{case_id}/verified", response_model=CaseOut)
def case_verified(d: D, case_id: Id, body: VerifiedIn,
                  user: Annotated[User, Depends(requires(Permission.CASES_ACT))]) -> CaseOut:
    """The user re-verified their real name: the measure is lifted at once."""
    return CaseOut.of(d.cases.verified(case_id, actor=user.name, note=body.note), user)


@router.post("/cases/bulk", response_model=BulkOut)
def bulk_dispose(d: D, body: BulkIn,
                 user: Annotated[User, Depends(requires(Permission.CASES_ACT))]) -> BulkOut:
    """Dispose of a set of numbers in one transaction: all of them or none."""
    r = d.cases.bulk(body.msisdns, parse_action(body.action), actor=user.name,
                     reason=body.reason, group_ref=body.group_ref)
    return BulkOut(action=r.action.value, moved=r.moved, opened=r.opened, unchanged=r.unchanged)


@router.get("/actions", response_model=PageOut[ActionOut])
def list_actions(
    d: D, pg: P, _user: Annotated[User, Depends(requires(Permission.CASES_READ))],
    case_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    kind: Annotated[str, Query(max_length=16)] = "",
) -> PageOut[ActionOut]:
    """Actions taken, newest first."""
    items = d.cases.actions(case_id=case_id, kind=kind, page=pg)
    return PageOut(items=[ActionOut.of(a) for a in items], limit=pg.limit, offset=pg.offset)


@router.get("/offnet-reports", response_model=PageOut[OffnetOut])
def list_offnet(
    d: D, pg: P, user: Annotated[User, Depends(requires(Permission.CASES_READ))],
    operator: Party = "",
    since: Annotated[datetime | None, Query(
        description="only lines changed at or after this time")] = None,
) -> PageOut[OffnetOut]:
    """Suspected numbers we do not hold (other operators, landlines, service and foreign
    numbers), blocked or labelled in screening: one line each, most recently changed first."""
    items = d.cases.offnet(party=operator, since=since, page=pg)
    return PageOut(items=[OffnetOut.of(x, user, d.cases.offnet_screening(x)) for x in items],
                   limit=pg.limit, offset=pg.offset)


@router.get("/offnet-reports.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}}})
def export_offnet(
    d: D, _user: Annotated[User, Depends(requires(Permission.OFFNET_EXPORT))],
    operator: Party = "",
    since: Annotated[datetime | None, Query(
        description="only lines changed at or after this time")] = None,
) -> Response:
    """Every matching line as CSV, to send on to the operator the numbers belong to (the
    numbers in full, so only for roles that see numbers)."""
    out = io.StringIO()
    d.cases.export_offnet(out, party=operator, since=since)
    name = f"offnet-{operator or 'all'}.csv".replace(":", "-")
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/appeals", response_model=PageOut[AppealOut])
def list_appeals(
    d: D, pg: P, _user: Annotated[User, Depends(requires(Permission.APPEALS_READ))],
    case_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    status: Annotated[str, Query(max_length=16)] = "",
) -> PageOut[AppealOut]:
    """Appeals, newest first."""
    items = d.cases.appeals(case_id=case_id, status=status, page=pg)
    return PageOut(items=[AppealOut.of(a) for a in items], limit=pg.limit, offset=pg.offset)


@router.post("/cases/{case_id}/appeals", response_model=AppealOut, status_code=201)
def file_appeal(d: D, case_id: Id, body: AppealIn,
                user: Annotated[User, Depends(requires(Permission.APPEALS_FILE))]) -> AppealOut:
    """File a user's appeal against a measure, with document references."""
    a = d.cases.file_appeal(case_id, reason=body.reason, documents=body.documents,
                            actor=user.name)
    return AppealOut.of(a)


@router.post("/appeals/{appeal_id}/decision", response_model=AppealOut)
def decide_appeal(
    d: D, appeal_id: Id, body: DecisionIn,
    user: Annotated[User, Depends(requires(Permission.APPEALS_DECIDE))],
) -> AppealOut:
    """Decide an appeal; a passed one releases the number at once."""
    a = d.cases.decide_appeal(appeal_id, passed=body.passed, actor=user.name, reason=body.reason)
    return AppealOut.of(a)
