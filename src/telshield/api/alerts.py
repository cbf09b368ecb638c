"""Routes for alerts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from telshield.api.auth import disposal, requires
from telshield.api.paging import page
from telshield.api.schemas import AlertOut, PageOut
from telshield.domain.paging import Page
from telshield.domain.users import Permission, User
from telshield.wiring import Disposal

router = APIRouter(prefix="/alerts", tags=["alerts"])


@router.get("", response_model=PageOut[AlertOut])
def list_alerts(
    d: Annotated[Disposal, Depends(disposal)], pg: Annotated[Page, Depends(page)],
    user: Annotated[User, Depends(requires(Permission.ALERTS_READ))],
    msisdn: Annotated[str, Query(max_length=16)] = "",
    tier: Annotated[str, Query(max_length=16)] = "",
    open_only: bool = False,
) -> PageOut[AlertOut]:
    """Alerts, newest first."""
    items = d.cases.alerts(msisdn=msisdn.lstrip("+"), tier=tier, open_only=open_only, page=pg)
    return PageOut(items=[AlertOut.of(a, user) for a in items], limit=pg.limit, offset=pg.offset)
