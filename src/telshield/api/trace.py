"""``GET /v1/trace/{number}``: the numbers linked to a number (溯源), ranked, with evidence; the
trace is audited under the caller's name, numbers masked for roles that need not see them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from pydantic import BaseModel

from telshield.api.auth import requires
from telshield.domain.users import Permission, User, mask_number
from telshield.services.trace import TraceService
from telshield.settings import Settings
from telshield.wiring.trace import tracer

router = APIRouter(prefix="/v1/trace", tags=["trace"])
Tracer = Annotated[User, Depends(requires(Permission.TRACE))]


def install(app: FastAPI, settings: Settings) -> None:
    """Serve the trace route over the app's store (one service for the API and the pages,
    checking the lake's files for new data at most every ``[api] trace_files_max_age_s``)."""
    app.state.trace = tracer(settings, app.state.disposal.store,
                             files_max_age_s=settings.api.trace_files_max_age_s)
    app.include_router(router)


def service(request: Request) -> TraceService:
    """The trace service the app was built with."""
    s: TraceService = request.app.state.trace
    return s


S = Annotated[TraceService, Depends(service)]


class EvidenceOut(BaseModel):
    """One tie: its kind, the shared value, its strength alone, the number it came via."""

    kind: str
    value: str
    strength: float
    via: str


class LinkOut(BaseModel):
    """A linked number, its combined strength and its evidence."""

    msisdn: str
    strength: float
    evidence: list[EvidenceOut]


class TraceOut(BaseModel):
    """The traced number's registration and its ranked links."""

    number: str
    depth: int
    registration: dict[str, str]
    links: list[LinkOut]


@router.get("/{number}", response_model=TraceOut)
def trace(s: S, user: Tracer, number: Annotated[str, Path(min_length=3, max_length=15)],
          depth: Annotated[int, Query(ge=1, le=2)] = 2) -> TraceOut:
    """Trace a number (E.164 digits) to depth 1 or 2."""
    t = s.trace(number, actor=user.name, depth=depth)
    show = (lambda n: n) if user.sees_numbers else mask_number
    return TraceOut(
        number=show(t.number), depth=t.depth,
        registration={k: show(v) if k == "msisdn" else v for k, v in t.registration.items()},
        links=[LinkOut(msisdn=show(x.msisdn), strength=x.strength, evidence=[
            EvidenceOut(kind=e.kind, value=e.value, strength=e.strength,
                        via=show(e.via) if e.via else "") for e in x.evidence])
            for x in t.links])
