"""The area pages: GOIP dens, card-trafficking gangs and the police inbox. Each route names the
permission its API route names, reads one service, pages its query and masks numbers for roles
that need not see them; bulk disposal and the police steps call the same services as the CLI
and API, so each change commits with its audit event under the user's name."""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from telshield.domain.cases import parse_action
from telshield.domain.clock import FEED_OFFSET
from telshield.domain.dens import Den, den_ref
from telshield.domain.errors import InvalidInput
from telshield.domain.gangs import Gang, gang_ref
from telshield.domain.paging import Page
from telshield.domain.police import PoliceRequest, TargetKind, mask_id_hash
from telshield.domain.users import Permission, User
from telshield.services.countyheat import FraudCallsByCell
from telshield.services.dens import DenService
from telshield.services.gangs import GangService
from telshield.services.hotspots import HotspotService
from telshield.services.police import PoliceService
from telshield.web.counties import Counties
from telshield.web.render import page
from telshield.web.session import form, requires
from telshield.web.views import chart, shown

router = APIRouter()
PAGE = 50
MAX_ID = 2**53
Offset = Annotated[int, Query(ge=0, le=10**9)]
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
Form = Annotated[dict[str, str], Depends(form)]


@dataclass(frozen=True)
class Areas:
    """The services behind the area pages (dens and gangs built with the cases service, for
    bulk disposal)."""

    dens: DenService
    gangs: GangService
    police: PoliceService
    hotspots: HotspotService | None = None
    heat: FraudCallsByCell | None = None  # fraud calls per cell, for the county heat layer


def areas(request: Request) -> Areas:
    """The area services the web app was built with."""
    a: Areas = request.app.state.areas
    return a


A = Annotated[Areas, Depends(areas)]


def _reason(f: dict[str, str]) -> str:
    reason = f.get("reason", "").strip()
    if not reason:
        raise InvalidInput("field 'reason': give a reason (it is told to the users and audited)")
    return reason[:2000]


def _at(t: datetime | None) -> str:
    return f"{t:%Y-%m-%d %H:%M}" if t is not None else ""


# -- dens --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DenRow:
    """One den as a row: where, how sure, since when."""

    id: int
    ref: str
    kind: str
    status: str
    confidence: float
    county: str
    lat: float
    lon: float
    radius_km: float
    sims: int
    first_seen: str
    last_seen: str

    @classmethod
    def of(cls, d: Den) -> DenRow:
        """The den's place and figures (no numbers: nothing to mask)."""
        i = int(d.id or 0)
        return cls(i, den_ref(i), d.kind, d.status, d.confidence, d.county, d.lat, d.lon,
                   d.radius_km, int(d.evidence.get("sims", 0) or 0), _at(d.first_seen),
                   _at(d.last_seen))


@dataclass(frozen=True)
class MemberRow:
    """One number seen in a den, as ``user`` may see it."""

    msisdn: str
    role: str
    imei: str
    cell: str
    first_at: str
    last_at: str
    calls: int


@router.get("/dens", response_class=HTMLResponse)
def dens(request: Request, a: A, user: Annotated[User, Depends(requires(Permission.DENS_READ))],
         min_confidence: Annotated[float, Query(ge=0, le=1)] = 0.0,
         offset: Offset = 0) -> Response:
    """Stored dens, most confident first, paged."""
    found = a.dens.list(min_confidence=min_confidence, page=Page(PAGE + 1, offset))
    rows = [DenRow.of(d) for d in found[:PAGE]]
    q = {"min_confidence": min_confidence} if min_confidence else {}
    return page(request, "dens.html", user, rows=rows, q=q, offset=offset, size=PAGE,
                more=len(found) > PAGE, min_confidence=min_confidence)


@router.get("/dens/{den_id}", response_class=HTMLResponse)
def den_page(request: Request, a: A, den_id: Id,
             user: Annotated[User, Depends(requires(Permission.DENS_READ))],
             offset: Offset = 0) -> Response:
    """One den: place, evidence, its numbers over time (paged), and bulk disposal."""
    d = a.dens.get(den_id)
    members = [MemberRow(shown(m.msisdn, user), m.role, m.imei, m.cell, _at(m.first_at),
                         _at(m.last_at), m.calls) for m in d.members]
    days: dict[str, int] = {}
    for m in d.members:  # SIMs first seen per day: the den's SIM swaps
        key = f"{m.first_at:%Y-%m-%d}"
        days[key] = days.get(key, 0) + 1
    over_time = {"days": sorted(days), "series": {"SIM": [days[k] for k in sorted(days)]}}
    return page(request, "den.html", user, den=DenRow.of(d), evidence=sorted(
        (k, v) for k, v in d.evidence.items()), cells=d.cells, imeis=d.imeis,
        members=members[offset:offset + PAGE], total=len(members), q={}, offset=offset,
        size=PAGE, more=len(members) > offset + PAGE, over_time=chart(over_time),
        may_dispose=user.may(Permission.CASES_ACT), kinds=_KINDS)


_KINDS = ("verify", "restrict", "suspend", "release", "confirm")


@router.post("/dens/{den_id}/dispose", response_class=HTMLResponse)
def dispose_den(request: Request, a: A, den_id: Id, f: Form,
                user: Annotated[User, Depends(requires(Permission.CASES_ACT))]) -> Response:
    """Dispose of every number of the den that is ours in one action (all or none): the same
    call as ``telshield dens dispose``."""
    user.require(Permission.DENS_READ)
    r, others = a.dens.dispose(den_id, parse_action(f.get("action", "")), actor=user.name,
                               reason=_reason(f))
    return page(request, "disposed.html", user, ref=den_ref(den_id),
                back=f"/web/dens/{den_id}", r=r, others=[shown(n, user) for n in others])


# -- gangs -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class GangRow:
    """One gang as a row."""

    id: int
    ref: str
    status: str
    score: float
    cards: int
    ids: int
    openers: int
    staff: str
    found_at: str
    updated_at: str

    @classmethod
    def of(cls, g: Gang) -> GangRow:
        """The gang's figures (no numbers: nothing to mask)."""
        i = int(g.id or 0)
        return cls(i, gang_ref(i), g.status, g.score, g.signals.cards, g.signals.ids,
                   g.signals.openers, ", ".join(g.staff_ids[:5]), _at(g.found_at),
                   _at(g.updated_at))


@router.get("/gangs", response_class=HTMLResponse)
def gangs(request: Request, a: A, user: Annotated[User, Depends(requires(Permission.GANGS_READ))],
          min_score: Annotated[float, Query(ge=0, le=1)] = 0.0,
          offset: Offset = 0) -> Response:
    """Stored gangs, highest score first, paged."""
    found = a.gangs.list(min_score=min_score, page=Page(PAGE + 1, offset))
    rows = [GangRow.of(g) for g in found[:PAGE]]
    q = {"min_score": min_score} if min_score else {}
    return page(request, "gangs.html", user, rows=rows, q=q, offset=offset, size=PAGE,
                more=len(found) > PAGE, min_score=min_score)


@router.get("/gangs/{gang_id}", response_class=HTMLResponse)
def gang_page(request: Request, a: A, gang_id: Id,
              user: Annotated[User, Depends(requires(Permission.GANGS_READ))],
              offset: Offset = 0) -> Response:
    """One gang: its evidence, its cards (paged) and the links among them, bulk disposal."""
    g = a.gangs.get(gang_id)
    cards = [{"msisdn": shown(m.msisdn, user), "id_hash": mask_id_hash(m.id_hash),
              "channel": m.channel_id, "staff": m.staff_id, "at": _at(m.registered_at),
              "links": ", ".join(m.links), "flags": ", ".join(m.flags)} for m in g.members]
    links = [{"a": shown(x.a, user), "b": shown(x.b, user), "kinds": ", ".join(x.kinds),
              "weight": x.weight} for x in g.links[:PAGE]]
    return page(request, "gang.html", user, gang=GangRow.of(g), signals=g.signals,
                cards=cards[offset:offset + PAGE], total=len(cards), links=links,
                links_total=len(g.links), q={}, offset=offset, size=PAGE,
                more=len(cards) > offset + PAGE, may_dispose=user.may(Permission.CASES_ACT),
                kinds=_KINDS)


@router.post("/gangs/{gang_id}/dispose", response_class=HTMLResponse)
def dispose_gang(request: Request, a: A, gang_id: Id, f: Form,
                 user: Annotated[User, Depends(requires(Permission.CASES_ACT))]) -> Response:
    """Dispose of every card of the gang in one action (all or none): the same call as
    ``telshield gangs dispose``."""
    user.require(Permission.GANGS_READ)
    r = a.gangs.dispose(gang_id, parse_action(f.get("action", "")), actor=user.name,
                        reason=_reason(f))
    return page(request, "disposed.html", user, ref=gang_ref(gang_id),
                back=f"/web/gangs/{gang_id}", r=r, others=[])


# -- police inbox ------------------------------------------------------------------------------

@dataclass(frozen=True)
class RequestRow:
    """One police request in the operator's queue, with its SLA timer."""

    id: int
    unit: str
    kind: str
    action: str
    target: str
    legal_doc: str
    case_ref: str
    reason: str
    status: str
    submitted_by: str
    submitted_at: str
    deadline: str
    left: str  # time left to the deadline (negative: overdue by)
    overdue: bool
    closed: bool
    prepared_by: str
    decided_by: str
    note: str

    @classmethod
    def of(cls, q: PoliceRequest, user: User, now: datetime) -> RequestRow:
        """The request as ``user`` may see it (an ID's hash always shortened)."""
        hashed = q.target_kind is TargetKind.ID
        target = mask_id_hash(q.target) if hashed else shown(q.target, user)
        secs = int((q.deadline - now).total_seconds())
        left = ("-" if secs < 0 else "") + f"{abs(secs) // 3600}h{abs(secs) % 3600 // 60:02d}m"
        return cls(int(q.id or 0), q.unit, q.kind.value, q.action.value if q.action else "",
                   target, q.legal_doc, q.case_ref, q.reason, q.status.value, q.submitted_by,
                   _at(q.submitted_at), _at(q.deadline), left, q.overdue(now),
                   q.status.closed, q.prepared_by, q.decided_by, q.note)


# The police inbox's actions beyond a request's steps, each behind its permission (the page
# shows a form only to roles that hold it): the monthly report (what `telshield police report
# --out-dir` writes) and the escalation of requests past their SLA (the cycle's step).
REPORT_PERMISSION = Permission.POLICE_HANDLE
ESCALATE_PERMISSION = Permission.POLICE_HANDLE
MONTH = "^[0-9]{4}-[0-9]{2}$"


@router.get("/police", response_class=HTMLResponse)
def police(request: Request, a: A,
           user: Annotated[User, Depends(requires(Permission.POLICE_HANDLE))],
           status: Annotated[str, Query(pattern="^(|submitted|prepared|answered|rejected)$")] = "",
           unit: Annotated[str, Query(max_length=64)] = "",
           offset: Offset = 0,
           escalated: Annotated[int | None, Query(ge=0, le=10**9)] = None) -> Response:
    """The operator's queue of police requests, newest first, with SLA timers and the
    maker-checker steps; the monthly report and the escalation for the roles that may."""
    found = a.police.queue(status=status, unit=unit, page=Page(PAGE + 1, offset))
    now = a.police.clock.now()
    rows = [RequestRow.of(q, user, now) for q in found[:PAGE]]
    local = (now + FEED_OFFSET).replace(day=1) - timedelta(days=1)  # last CST month
    return page(request, "police.html", user, rows=rows, q={"status": status, "unit": unit},
                offset=offset, size=PAGE, more=len(found) > PAGE, now=_at(now),
                may_report=user.may(REPORT_PERMISSION),
                may_escalate=user.may(ESCALATE_PERMISSION), last_month=f"{local:%Y-%m}",
                escalated=escalated)


@router.post("/police/report")
def police_report(a: A, f: Form,
                  user: Annotated[User, Depends(requires(REPORT_PERMISSION))]) -> Response:
    """The month's report, generated as the CLI generates it and audited the same way: a zip
    of its JSON, its route figures CSV and their SHA256SUMS (each hash audited, so
    ``telshield police report-verify`` checks the unpacked folder), or the JSON alone."""
    month = f.get("month", "").strip()
    if not re.fullmatch(MONTH, month):
        raise InvalidInput(f"field 'month': write YYYY-MM, e.g. 2026-03 (got {month[:20]!r})")
    if f.get("format", "zip") == "json":
        r = a.police.monthly(month, actor=user.name)
        return Response(r.package.encode(), media_type="application/json", headers={
            "Content-Disposition": f'attachment; filename="police-report-{month}.json"',
            "X-Telshield-SHA256": r.sha256})
    files = a.police.monthly_files(month, actor=user.name)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(zipfile.ZipInfo(f"police-report-{month}/{name}",
                                       date_time=(1980, 1, 1, 0, 0, 0)), data)
    return Response(buf.getvalue(), media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="police-report-{month}.zip"'})


@router.post("/police/escalate")
def police_escalate(a: A, f: Form,
                    user: Annotated[User, Depends(requires(ESCALATE_PERMISSION))]) -> Response:
    """Escalate every open request past its SLA deadline now (once each, audited under the
    user's name), as each tick of the cycle does."""
    n = len(a.police.escalate(actor=user.name))
    return RedirectResponse(f"/web/police?escalated={n}", status_code=303)


@router.post("/police/{request_id}/prepare")
def police_prepare(a: A, request_id: Id, f: Form,
                   user: Annotated[User, Depends(requires(Permission.POLICE_HANDLE))]
                   ) -> Response:
    """The maker's step."""
    a.police.prepare(request_id, actor=user.name, note=f.get("note", "")[:2000])
    return RedirectResponse("/web/police", status_code=303)


@router.post("/police/{request_id}/approve")
def police_approve(a: A, request_id: Id, f: Form,
                   user: Annotated[User, Depends(requires(Permission.POLICE_HANDLE))]
                   ) -> Response:
    """The checker's step (never the maker: the service refuses, and the page says why)."""
    a.police.approve(request_id, actor=user.name, note=f.get("note", "")[:2000])
    return RedirectResponse("/web/police", status_code=303)


@router.post("/police/{request_id}/reject")
def police_reject(a: A, request_id: Id, f: Form,
                  user: Annotated[User, Depends(requires(Permission.POLICE_HANDLE))]
                  ) -> Response:
    """Refuse the request, saying why."""
    a.police.reject(request_id, actor=user.name, reason=_reason(f))
    return RedirectResponse("/web/police", status_code=303)


# -- map ---------------------------------------------------------------------------------------

MAP_POINTS = 500  # the most confident dens and the latest hotspots, at most this many of each
COUNTIES = Counties()  # the vendored county borders, loaded on the first map view


@router.get("/map", response_class=HTMLResponse)
def map_page(request: Request, a: A,
             user: Annotated[User, Depends(requires(Permission.DENS_READ))]) -> Response:
    """Jiangsu's counties with fraud calls per county as a heat layer (calls by alerted,
    clued or confirmed numbers, placed in a county by their cell's coordinates), dens and
    (for roles that may read them) out-of-town hotspots on top; a den links to its page."""
    dens = [DenRow.of(d) for d in a.dens.list(page=Page(MAP_POINTS, 0))]
    spots = a.hotspots.list(page=Page(MAP_POINTS, 0)) \
        if a.hotspots is not None and user.may(Permission.HOTSPOTS_READ) else []
    hot = [{"id": int(h.id or 0), "region": h.region, "lat": h.lat, "lon": h.lon,
            "observed": h.observed, "expected": round(h.expected, 1),
            "window_end": _at(h.window_end)} for h in spots]
    per: dict[str, int] = {}
    unplaced = 0
    since = ""
    if a.heat is not None:
        found = a.heat.counts()
        since = _at(found.since)
        for c, name in zip(found.cells, _placed([(c.lon, c.lat) for c in found.cells]),
                           strict=True):
            if name:
                per[name] = per.get(name, 0) + c.calls
            else:
                unplaced += c.calls
    counties = sorted(per.items(), key=lambda x: (-x[1], x[0]))
    points = {"dens": [[d.lon, d.lat, d.ref, round(d.confidence, 2), d.id] for d in dens],
              "hotspots": [[h["lon"], h["lat"], h["region"], h["observed"]] for h in hot],
              "counties": [[n, k] for n, k in counties]}
    return page(request, "map.html", user, dens=dens, hotspots=hot, points=chart(points),
                limit=MAP_POINTS, counties=counties[:PAGE], unplaced=unplaced, since=since)


@router.get("/map/counties.json")
def county_borders(_user: Annotated[User, Depends(requires(Permission.DENS_READ))]
                   ) -> Response:
    """The county borders (GeoJSON), kept by the browser for a day."""
    return Response(_borders(), media_type="application/geo+json",
                    headers={"Cache-Control": "private, max-age=86400"})


_BORDERS: list[bytes] = []
_PLACES: dict[tuple[float, float], str] = {}  # a cell's place -> its county, once computed
_PLACES_MAX = 500_000


def _placed(points: list[tuple[float, float]]) -> list[str]:
    """The county of each (lon, lat), placing only the points not placed before."""
    new = list(dict.fromkeys(p for p in points if p not in _PLACES))
    if new:
        if len(_PLACES) + len(new) > _PLACES_MAX:
            _PLACES.clear()
        _PLACES.update(zip(new, COUNTIES.locate(new), strict=True))
    return [_PLACES[p] for p in points]


def _borders() -> bytes:
    if not _BORDERS:
        _BORDERS.append(json.dumps(COUNTIES.geojson(), ensure_ascii=False,
                                   separators=(",", ":")).encode())
    return _BORDERS[0]
