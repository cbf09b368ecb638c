"""Routes for card-trafficking gangs (开卡贩卡团伙): the gang cases ``telshield gangs find``
stored, with their evidence and member cards; numbers masked for roles that need not see them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from pydantic import BaseModel

from telshield.api.auth import requires
from telshield.api.paging import page
from telshield.api.schemas import MAX_ID
from telshield.domain.gangs import Gang, gang_ref
from telshield.domain.paging import Page
from telshield.domain.users import Permission, User, mask_number
from telshield.services.gangs import GangService
from telshield.settings import Settings
from telshield.wiring.gangs import gangs as compose

router = APIRouter(prefix="/v1/gangs", tags=["gangs"])
Reader = Annotated[User, Depends(requires(Permission.GANGS_READ))]


def install(app: FastAPI, settings: Settings) -> None:
    """Serve the gang routes over the app's store."""
    app.state.gangs = compose(settings, app.state.disposal.store, with_cases=False,
                              engine="duckdb")  # stored gangs only: no Spark session
    app.include_router(router)


def service(request: Request) -> GangService:
    """The gang service the app was built with."""
    s: GangService = request.app.state.gangs
    return s


S = Annotated[GangService, Depends(service)]


class SignalsOut(BaseModel):
    """A gang's evidence in shares of its cards and counts."""

    cards: int
    ids: int
    openers: int
    bulk_share: float
    cross_share: float
    flagged_share: float
    staff_hour_max: int
    cards_per_id_max: int


class GangOut(BaseModel):
    """A gang case as listed."""

    id: int
    ref: str
    status: str
    score: float
    found_at: datetime
    updated_at: datetime
    signals: SignalsOut
    staff_ids: list[str]
    channels: list[str]
    link_counts: dict[str, int]

    @classmethod
    def of(cls, g: Gang) -> GangOut:
        """From the domain type."""
        e = g.evidence
        return cls(id=int(g.id or 0), ref=gang_ref(int(g.id or 0)), status=g.status,
                   score=g.score, found_at=g.found_at, updated_at=g.updated_at,
                   signals=SignalsOut(**vars(g.signals)),
                   staff_ids=list(e.get("staff_ids", g.staff_ids)),
                   channels=list(e.get("channels", g.channels)),
                   link_counts=dict(e.get("link_counts", g.link_counts)))


class MemberOut(BaseModel):
    """One card of a gang."""

    msisdn: str
    id_hash: str
    channel_id: str
    staff_id: str
    registered_at: datetime
    links: list[str]
    flags: list[str]


class LinkOut(BaseModel):
    """Two cards and the attributes they share."""

    a: str
    b: str
    kinds: list[str]
    weight: float


class GangDetailOut(GangOut):
    """A gang case with its cards and the links among them."""

    members: list[MemberOut]
    links: list[LinkOut]


def _detail(g: Gang, user: User) -> GangDetailOut:
    show = (lambda n: n) if user.sees_numbers else mask_number
    base = GangOut.of(g)
    return GangDetailOut(
        **base.model_dump(),
        members=[MemberOut(msisdn=show(m.msisdn), id_hash=m.id_hash, channel_id=m.channel_id,
                           staff_id=m.staff_id, registered_at=m.registered_at,
                           links=list(m.links), flags=list(m.flags)) for m in g.members],
        links=[LinkOut(a=show(x.a), b=show(x.b), kinds=list(x.kinds), weight=x.weight)
               for x in g.links])


@router.get("", response_model=list[GangOut])
def list_gangs(s: S, _user: Reader, p: Annotated[Page, Depends(page)],
               min_score: Annotated[float, Query(ge=0, le=1)] = 0.0) -> list[GangOut]:
    """Gang cases, highest score first."""
    return [GangOut.of(g) for g in s.list(min_score=min_score, page=p)]


@router.get("/{gang_id}", response_model=GangDetailOut)
def get_gang(s: S, gang_id: Annotated[int, Path(ge=1, le=MAX_ID)], user: Reader) -> GangDetailOut:
    """One gang case with its cards (numbers masked for roles that need not see them)."""
    return _detail(s.get(gang_id), user)
