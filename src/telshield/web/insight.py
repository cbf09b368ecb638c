"""The trace graph, the rules in force with their backtests, and the registration checks with
the channel / staff / terminal risk ranking. Each route names the permission its API route (or
CLI command) needs, calls the same service and masks numbers for roles that need not see them;
every trace is audited under the user's name by the trace service, as the API's is."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from telshield.detect.rules import RuleSet
from telshield.domain.backtests import Backtest
from telshield.domain.paging import Page
from telshield.domain.registrations import CheckRecord
from telshield.domain.regrisk import RiskBy, RiskRow
from telshield.domain.users import Permission, User, mask_number
from telshield.services.registrations import RegistrationService
from telshield.services.regrisk import RiskRanking
from telshield.services.trace import Link, Trace, TraceService, graphml
from telshield.web.render import page
from telshield.web.session import requires
from telshield.web.views import chart, shown

router = APIRouter()
PAGE = 50
RISK_TOP = 20  # rows of each risk ranking shown
MAX_ID = 2**53
Number = Annotated[str, Path(pattern=r"^[0-9]{3,15}$")]


@dataclass(frozen=True)
class Thresholds:
    """The scores from which an alert is watch, verify or suspend (settings' ``detect``)."""

    watch: float
    verify: float
    suspend: float

    def tier(self, score: float) -> str:
        """The tier a score alone reaches ('' below watch)."""
        for name, at in (("suspend", self.suspend), ("verify", self.verify), ("watch", self.watch)):
            if score >= at:
                return name
        return ""


@dataclass(frozen=True)
class Insight:
    """The services behind these pages. ``rules`` loads the rules in force (the configured
    file, or the shipped defaults); ``backtests`` reads the last stored backtest of each rules
    version."""

    trace: TraceService
    registrations: RegistrationService
    ranking: RiskRanking
    rules: Callable[[], RuleSet]
    backtests: Callable[[list[str]], dict[str, Backtest]]
    thresholds: Thresholds = field(default_factory=lambda: Thresholds(0.5, 0.7, 0.9))
    risk_max_age_s: float = 300.0  # the ranking reads the whole lake: kept this long
    _risk: dict[str, tuple[float, list[RiskRow]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def riskiest(self, by: RiskBy) -> list[RiskRow]:
        """The top of the ranking by ``by``, computed at most once per ``risk_max_age_s``
        (the API's ``GET /registrations/risk`` computes it on each call)."""
        with self._lock:
            kept = self._risk.get(by.value)
            if kept is None or time.monotonic() - kept[0] >= self.risk_max_age_s:
                kept = (time.monotonic(), self.ranking.ranking(by, page=Page(RISK_TOP, 0)))
                self._risk[by.value] = kept
            return kept[1]


def insight(request: Request) -> Insight:
    """The services the web app was built with."""
    i: Insight = request.app.state.insight
    return i


Ins = Annotated[Insight, Depends(insight)]


# -- trace -------------------------------------------------------------------------------------


@router.get("/trace", response_class=HTMLResponse)
def trace_search(
    request: Request,
    user: Annotated[User, Depends(requires(Permission.TRACE))],
    number: Annotated[str, Query(max_length=16, pattern=r"^\+?[0-9]*$")] = "",
) -> Response:
    """The search box; a number given goes to its trace page."""
    if number.lstrip("+"):
        return RedirectResponse(f"/web/trace/{number.lstrip('+')}", status_code=303)
    return page(request, "trace.html", user, number="", depth=2)


@router.get("/trace/{number}", response_class=HTMLResponse)
def trace_page(
    request: Request,
    number: Number,
    user: Annotated[User, Depends(requires(Permission.TRACE))],
    depth: Annotated[int, Query(ge=1, le=2)] = 2,
) -> Response:
    """The page shell: the graph and the links load after it (a cold trace takes seconds)."""
    return page(request, "trace.html", user, number=number, depth=depth)


def _masker(user: User) -> Callable[[str], str]:
    return (lambda n: n) if user.sees_numbers else mask_number


def _graph(t: Trace, show: Callable[[str], str]) -> dict[str, object]:
    """Nodes (the traced number, its links, the numbers they came via) and edges, each link
    drawn from the number it came via (or the traced one), its width its strength."""
    kinds: dict[str, str] = {}
    for x in t.links:
        ks = [e.kind for e in x.evidence]
        kinds[x.msisdn] = next(
            (k for k in ("gang", "den") if k in ks),
            "via" if all(k == "via" for k in ks) else ks[0] if ks else "link",
        )
    nodes = [
        {
            "id": show(t.number),
            "kind": "traced",
            "strength": 1.0,
            "traceable": show(t.number) == t.number,
        }
    ]
    nodes += [
        {
            "id": show(x.msisdn),
            "kind": kinds[x.msisdn],
            "strength": round(x.strength, 3),
            "traceable": show(x.msisdn) == x.msisdn,
        }
        for x in t.links
    ]
    present = {t.number, *(x.msisdn for x in t.links)}
    edges = []
    for x in t.links:
        vias = sorted({e.via for e in x.evidence if e.via and e.via in present})
        direct = any(not e.via for e in x.evidence)
        sources = ([t.number] if direct or not vias else []) + vias
        for s in sources:
            strength = (
                x.strength if s == t.number else max(e.strength for e in x.evidence if e.via == s)
            )
            edges.append(
                {"source": show(s), "target": show(x.msisdn), "strength": round(strength, 3)}
            )
    return {"nodes": nodes, "edges": edges}


@router.get("/trace/{number}/links", response_class=HTMLResponse)
def trace_links(
    request: Request,
    i: Ins,
    number: Number,
    user: Annotated[User, Depends(requires(Permission.TRACE))],
    depth: Annotated[int, Query(ge=1, le=2)] = 2,
) -> Response:
    """Trace the number (audited under the user's name) and render the graph and the ranked
    links with their evidence: a fragment for htmx, loaded by the page shell."""
    t = i.trace.trace(number, actor=user.name, depth=depth)
    show = _masker(user)
    links = [
        {
            "msisdn": show(x.msisdn),
            "strength": x.strength,
            "traceable": show(x.msisdn) == x.msisdn,
            "evidence": [
                {
                    "kind": e.kind,
                    "value": e.value,
                    "strength": e.strength,
                    "via": show(e.via) if e.via else "",
                }
                for e in x.evidence
            ],
        }
        for x in t.links
    ]
    registration = {k: show(v) if k == "msisdn" else v for k, v in t.registration.items()}
    name = "trace_links.html" if request.headers.get("HX-Request") else "trace_links_page.html"
    return page(
        request,
        name,
        user,
        number=number,
        depth=depth,
        links=links,
        registration=sorted(registration.items()),
        graph=chart(_graph(t, show)),
    )


@router.get("/trace/{number}/graphml")
def trace_graphml(
    i: Ins,
    number: Number,
    user: Annotated[User, Depends(requires(Permission.TRACE))],
    depth: Annotated[int, Query(ge=1, le=2)] = 2,
) -> Response:
    """The trace as GraphML (for link-analysis tools), audited as a trace."""
    t = i.trace.trace(number, actor=user.name, depth=depth)
    if not user.sees_numbers:
        show = _masker(user)
        t = Trace(
            show(t.number),
            t.depth,
            {},
            tuple(Link(show(x.msisdn), x.strength, x.evidence) for x in t.links),
        )
    return Response(
        graphml(t),
        media_type="application/graphml+xml",
        headers={"Content-Disposition": f'attachment; filename="trace-{number[-4:]}.graphml"'},
    )


# -- rules -------------------------------------------------------------------------------------


@router.get("/rules", response_class=HTMLResponse)
def rules(
    request: Request, i: Ins, user: Annotated[User, Depends(requires(Permission.RULES_READ))]
) -> Response:
    """The rules in force, their weight and the tier each reaches alone, and the last stored
    backtest of this rules version (``telshield rules backtest``), or 'not backtested'."""
    rs = i.rules()
    bt = i.backtests([rs.version]).get(rs.version)
    figures = {r.name: r for r in bt.rows} if bt is not None else {}
    rows = [
        {
            "name": r.name,
            "weight": r.weight,
            "tier": i.thresholds.tier(r.weight),
            "when": r.when,
            "reason": r.reason,
            "bt": figures.get(r.name),
        }
        for r in rs.rules
    ]
    caps = [
        {"name": c.name, "weight": c.weight, "when": c.when, "reason": c.reason} for c in rs.caps
    ]
    whole = [x for n, x in figures.items() if n.startswith("*")]
    return page(
        request,
        "rules.html",
        user,
        version=rs.version,
        rows=rows,
        caps=caps,
        bt=bt,
        whole=whole,
        th=i.thresholds,
    )


# -- registrations -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckRow:
    """One registration check as ``user`` may see it."""

    id: int
    at: str
    channel: str
    staff: str
    terminal: str
    msisdn: str
    decision: str
    reasons: list[tuple[str, str]]

    @classmethod
    def of(cls, c: CheckRecord, user: User) -> CheckRow:
        """The check with the number masked if need be."""
        return cls(
            c.id,
            f"{c.at:%Y-%m-%d %H:%M}",
            c.channel_id,
            c.staff_id,
            c.terminal_id,
            shown(c.msisdn, user),
            c.decision.value,
            [(r.code, r.text) for r in c.reasons],
        )


Key = Annotated[str, Query(max_length=64, pattern=r"^[A-Za-z0-9_.:\-]*$")]


@router.get("/registrations", response_class=HTMLResponse)
def registrations(
    request: Request,
    i: Ins,
    user: Annotated[User, Depends(requires(Permission.REGISTRATIONS_RISK))],
    decision: Annotated[str, Query(pattern="^(|allow|retake|verify|refuse)$")] = "",
    channel: Key = "",
    staff: Key = "",
    before: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    by: Annotated[str, Query(pattern="^(channel|staff|terminal)$")] = "staff",
) -> Response:
    """Recent registration checks, newest first, filtered and paged on by the last id seen;
    and the riskiest channels, staff IDs or terminals (Wilson lower bound)."""
    found = i.registrations.recent(
        decision=decision, channel_id=channel, staff_id=staff, before=before, limit=PAGE + 1
    )
    rows = [CheckRow.of(c, user) for c in found[:PAGE]]
    last = found[PAGE - 1].id if len(found) > PAGE else None
    q = {"decision": decision, "channel": channel, "staff": staff, "by": by}
    field_ = {"channel": "channel", "staff": "staff"}.get(by)
    risk = [
        {
            "key": r.key,
            "registrations": r.registrations,
            "bad": r.bad,
            "share": r.share,
            "lower": r.lower,
            "alerted": r.alerted,
            "clued": r.clued,
            "confirmed": r.confirmed,
            "link": "/web/registrations?" + urlencode({**q, field_: r.key}) if field_ else "",
        }
        for r in i.riskiest(RiskBy.parse(by))
    ]
    return page(
        request,
        "registrations.html",
        user,
        rows=rows,
        q=q,
        before=before,
        last=last,
        risk=risk,
        by=by,
    )
