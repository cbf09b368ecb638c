"""Routes for the channel / staff / terminal risk ranking and the batch registration audit
(analysts and admins: permission ``registrations.risk``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from pydantic import BaseModel

from telshield.api.auth import requires
from telshield.api.paging import page
from telshield.api.schemas import PageOut
from telshield.domain.paging import Page
from telshield.domain.regrisk import RiskBy, RiskRow
from telshield.domain.users import Permission, User
from telshield.services.regaudit import RegistrationAudit
from telshield.services.registrations import RegistrationService
from telshield.services.regrisk import RiskRanking
from telshield.settings import Settings
from telshield.wiring.registrations import registration_audit, risk_ranking

router = APIRouter(prefix="/registrations", tags=["registrations"])
Analyst = Annotated[User, Depends(requires(Permission.REGISTRATIONS_RISK))]


def install(app: FastAPI, settings: Settings) -> None:
    """Serve the risk and audit routes over the app's store and the settings' lake."""
    store = app.state.disposal.store
    app.state.regrisk = risk_ranking(settings, store)
    app.state.regaudit = registration_audit(settings, store)
    app.include_router(router)


def ranking(request: Request) -> RiskRanking:
    """The risk ranking the app was built with."""
    r: RiskRanking = request.app.state.regrisk
    return r


def audit(request: Request) -> RegistrationAudit:
    """The registration audit the app was built with."""
    a: RegistrationAudit = request.app.state.regaudit
    return a


class RiskOut(BaseModel):
    """One channel's, staff ID's or terminal's registrations and how many went bad."""

    key: str
    registrations: int
    bad: int
    share: float
    lower: float  # Wilson 95% lower bound of the share: what the ranking orders by
    alerted: int
    clued: int
    confirmed: int

    @classmethod
    def of(cls, r: RiskRow) -> RiskOut:
        """The wire form of a risk row."""
        return cls(key=r.key, registrations=r.registrations, bad=r.bad, share=r.share,
                   lower=r.lower, alerted=r.alerted, clued=r.clued, confirmed=r.confirmed)


class SectionOut(BaseModel):
    """One section of the audit."""

    name: str
    title: str
    columns: list[str]
    rows: list[dict[str, Any]]


@router.get("/risk", response_model=PageOut[RiskOut])
def risk(r: Annotated[RiskRanking, Depends(ranking)], _user: Analyst,
         pg: Annotated[Page, Depends(page)],
         by: Annotated[str, Query(max_length=16, description="channel, staff or terminal")]
         = "staff",
         since: datetime | None = None, all_time: bool = False,
         min_count: Annotated[int | None, Query(ge=1)] = None) -> PageOut[RiskOut]:
    """Channels, staff IDs or terminals, riskiest first (Wilson lower bound of the share of
    their registrations later alerted, clued or confirmed fraud)."""
    rows = r.ranking(RiskBy.parse(by), since=since, all_time=all_time, min_count=min_count,
                     page=pg)
    return PageOut(items=[RiskOut.of(x) for x in rows], limit=pg.limit, offset=pg.offset)


@router.get("/audit", response_model=list[SectionOut])
def audit_route(a: Annotated[RegistrationAudit, Depends(audit)], _user: Analyst,
                since: datetime, until: datetime | None = None,
                top: Annotated[int, Query(ge=1, le=1000)] = 20) -> list[SectionOut]:
    """Past registrations that broke a rule, the e-channel order anomalies and the rankings."""
    return [SectionOut(name=s.name, title=s.title, columns=list(s.columns), rows=s.rows)
            for s in a.run(since, until, top=top)]


class RefreshOut(BaseModel):
    """What was re-read."""

    refreshed: list[str]


@router.post("/risk/refresh", response_model=RefreshOut)
def refresh(request: Request, _user: Analyst) -> RefreshOut:
    """Re-read the lake's subscribers and sanctions and recompute the risk ranking the check
    uses now, instead of when the in-memory copies come of age (after an ingest)."""
    s: RegistrationService = request.app.state.registrations
    s.refresh()
    return RefreshOut(refreshed=["registry"] + (["risk"] if s.risk is not None else []))
