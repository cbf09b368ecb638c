"""Routes for out-of-town concentration hotspots (外地号码聚集): the alerts ``telshield hotspots
find`` or the operating cycle stored, with map coordinates; numbers masked for roles that need
not see them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from pydantic import BaseModel

from telshield.api.auth import requires
from telshield.api.paging import page
from telshield.api.schemas import MAX_ID
from telshield.domain.hotspots import Hotspot, hotspot_ref
from telshield.domain.paging import Page
from telshield.domain.users import Permission, User, mask_number
from telshield.services.hotspots import HotspotService
from telshield.settings import Settings
from telshield.wiring.hotspots import hotspots as compose

router = APIRouter(prefix="/v1/hotspots", tags=["hotspots"])
Reader = Annotated[User, Depends(requires(Permission.HOTSPOTS_READ))]


def install(app: FastAPI, settings: Settings) -> None:
    """Serve the hotspot routes over the app's store (they read stored hotspots only: no Spark
    session, whatever ``[engine]`` says)."""
    app.state.hotspots = compose(settings, app.state.disposal.store, engine="duckdb")
    app.include_router(router)


def service(request: Request) -> HotspotService:
    """The hotspot service the app was built with."""
    s: HotspotService = request.app.state.hotspots
    return s


S = Annotated[HotspotService, Depends(service)]


class HotspotOut(BaseModel):
    """A hotspot alert as listed."""

    id: int
    ref: str
    status: str
    city: str
    county: str
    lat: float
    lon: float
    window_start: datetime
    window_end: datetime
    observed: int
    expected: float
    factor: float
    p_value: float
    found_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, h: Hotspot) -> HotspotOut:
        """From the domain type."""
        hid = int(h.id or 0)
        return cls(id=hid, ref=hotspot_ref(hid), status=h.status, city=h.city, county=h.county,
                   lat=h.lat, lon=h.lon, window_start=h.window_start, window_end=h.window_end,
                   observed=h.observed, expected=h.expected, factor=h.factor,
                   p_value=h.p_value, found_at=h.found_at, updated_at=h.updated_at)


class HotspotDetailOut(HotspotOut):
    """A hotspot with its numbers."""

    numbers: list[str]


@router.get("", response_model=list[HotspotOut])
def list_hotspots(s: S, _user: Reader, p: Annotated[Page, Depends(page)],
                  since: Annotated[datetime | None, Query(
                      description="only hotspots whose window ends from (CST)")] = None,
                  ) -> list[HotspotOut]:
    """Hotspot alerts, latest first."""
    return [HotspotOut.of(h) for h in s.list(since=since, page=p)]


@router.get("/{hotspot_id}", response_model=HotspotDetailOut)
def get_hotspot(s: S, hotspot_id: Annotated[int, Path(ge=1, le=MAX_ID)], user: Reader
                ) -> HotspotDetailOut:
    """One hotspot with its numbers (masked for roles that need not see them)."""
    h = s.get(hotspot_id)
    show = (lambda n: n) if user.sees_numbers else mask_number
    return HotspotDetailOut(**HotspotOut.of(h).model_dump(),
                            numbers=[show(n) for n in h.numbers])
