"""Routes for GOIP dens (窝点): the dens ``telshield dens find`` stored, with their place,
evidence and numbers over time; numbers masked for roles that need not see them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from pydantic import BaseModel

from telshield.api.auth import requires
from telshield.api.paging import page
from telshield.api.schemas import MAX_ID
from telshield.domain.dens import Den, den_ref
from telshield.domain.paging import Page
from telshield.domain.users import Permission, User, mask_number
from telshield.services.dens import DenService
from telshield.settings import Settings
from telshield.wiring.dens import dens as compose

router = APIRouter(prefix="/v1/dens", tags=["dens"])
Reader = Annotated[User, Depends(requires(Permission.DENS_READ))]


def install(app: FastAPI, settings: Settings) -> None:
    """Serve the den routes over the app's store (they read stored dens only: no Spark session,
    whatever ``[engine]`` says)."""
    app.state.dens = compose(settings, app.state.disposal.store, with_cases=False,
                             engine="duckdb")
    app.include_router(router)


def service(request: Request) -> DenService:
    """The den service the app was built with."""
    s: DenService = request.app.state.dens
    return s


S = Annotated[DenService, Depends(service)]


class DenOut(BaseModel):
    """A den as listed: where, how sure, since when."""

    id: int
    ref: str
    status: str
    kind: str
    confidence: float
    county: str
    lat: float
    lon: float
    radius_km: float
    cells: list[str]
    first_seen: datetime
    last_seen: datetime
    found_at: datetime
    updated_at: datetime
    evidence: dict[str, Any]

    @classmethod
    def of(cls, d: Den) -> DenOut:
        """From the domain type."""
        return cls(id=int(d.id or 0), ref=den_ref(int(d.id or 0)), status=d.status,
                   kind=d.kind, confidence=d.confidence, county=d.county, lat=d.lat,
                   lon=d.lon, radius_km=d.radius_km, cells=list(d.cells),
                   first_seen=d.first_seen, last_seen=d.last_seen, found_at=d.found_at,
                   updated_at=d.updated_at, evidence=d.evidence)


class MemberOut(BaseModel):
    """One number seen in a den."""

    msisdn: str
    role: str
    imei: str
    cell: str
    first_at: datetime
    last_at: datetime
    calls: int


class DenDetailOut(DenOut):
    """A den with its IMEIs and numbers over time."""

    imeis: list[str]
    members: list[MemberOut]


@router.get("", response_model=list[DenOut])
def list_dens(s: S, _user: Reader, p: Annotated[Page, Depends(page)],
              min_confidence: Annotated[float, Query(ge=0, le=1)] = 0.0) -> list[DenOut]:
    """Dens, most confident first."""
    return [DenOut.of(d) for d in s.list(min_confidence=min_confidence, page=p)]


@router.get("/{den_id}", response_model=DenDetailOut)
def get_den(s: S, den_id: Annotated[int, Path(ge=1, le=MAX_ID)], user: Reader) -> DenDetailOut:
    """One den with its numbers (masked for roles that need not see them)."""
    d = s.get(den_id)
    show = (lambda n: n) if user.sees_numbers else mask_number
    return DenDetailOut(
        **DenOut.of(d).model_dump(), imeis=list(d.imeis),
        members=[MemberOut(msisdn=show(m.msisdn), role=m.role, imei=m.imei, cell=m.cell,
                           first_at=m.first_at, last_at=m.last_at, calls=m.calls)
                 for m in d.members])
