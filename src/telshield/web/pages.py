"""The pages: overview, alert queue, cases and the case page, lists, audit. Each route names
its permission, calls one service and renders; actions go through the same services the API
calls, so each commits with its audit event under the user's name."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from telshield.domain.cases import parse_action
from telshield.domain.errors import InvalidInput, RateLimited, Unauthenticated
from telshield.domain.paging import Page
from telshield.domain.users import Permission, User
from telshield.services.audit import CheckpointReport, QuickReport, verify_from_checkpoint
from telshield.services.overview import OverviewService
from telshield.web.i18n import pick, text
from telshield.web.render import page
from telshield.web.session import form, lang, log_in, requires, viewer
from telshield.web.views import (
    AlertRow,
    AuditRow,
    CaseRow,
    EntryRow,
    chart,
    possible_actions,
    route_rows,
    shown,
)
from telshield.wiring import Disposal

router = APIRouter()
PAGE = 50
DIFF_PAGE = 100  # entries of each side of a list diff shown at once
MAX_ID = 2**53
Offset = Annotated[int, Query(ge=0, le=10**9)]
Id = Annotated[int, Path(ge=1, le=MAX_ID)]


def disposal(request: Request) -> Disposal:
    """The services the web app was built with."""
    d: Disposal = request.app.state.disposal
    return d


D = Annotated[Disposal, Depends(disposal)]


def _next(target: str) -> str:
    """A local page to return to (never another site)."""
    return target if target.startswith("/web/") and "//" not in target else "/web/"


# -- session -----------------------------------------------------------------------------------

@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: Annotated[str, Query(max_length=200)] = "/web/"
               ) -> Response:
    """The login form: user name and API key."""
    return page(request, "login.html", None, next=_next(next), failed=False)


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, f: Annotated[dict[str, str], Depends(form)]) -> Response:
    """Check the name and key; start a session or show the form again."""
    try:
        log_in(request, f.get("name", ""), f.get("key", ""))
    except RateLimited:
        raise  # locked out: the 429 page, not the form again
    except Unauthenticated:
        return page(request, "login.html", None, status=401, next=_next(f.get("next", "")),
                    failed=True)
    return RedirectResponse(_next(f.get("next", "/web/")), status_code=303)


@router.post("/logout")
def logout(request: Request, _f: Annotated[dict[str, str], Depends(form)]) -> Response:
    """End the session."""
    request.session.clear()
    return RedirectResponse("/web/login", status_code=303)


@router.get("/lang/{code}")
def switch_language(request: Request, code: Annotated[str, Path(pattern="^(zh|en)$")],
                    next: Annotated[str, Query(max_length=200)] = "/web/") -> Response:
    """Switch the pages' language (kept in the session)."""
    request.session["lang"] = pick(code)
    return RedirectResponse(_next(next), status_code=303)


# -- overview ----------------------------------------------------------------------------------

@router.get("/", response_class=HTMLResponse)
def overview(request: Request, user: Annotated[User, Depends(viewer)]) -> Response:
    """Today and this month: warned, disposed, open alerts by tier, appeals, SLA breaches."""
    if not user.may(Permission.CASES_READ):  # police: their first page is the lists
        if user.may(Permission.LISTS_READ):
            return RedirectResponse("/web/lists", status_code=303)
        user.require(Permission.CASES_READ)
    svc: OverviewService = request.app.state.overview
    ov = svc.overview()
    kinds = ["verify", "restrict", "suspend", "release", "confirm"]
    trend = {"days": [d for d, _ in ov.trend],
             "series": {k: [n.get(k, 0) for _, n in ov.trend] for k in kinds}}
    routes = route_rows(ov.month, ov.last_year)
    lg = lang(request)
    series: dict[str, list[int | None]] = {
        text("ov.screened", lg): [r.screened for r in routes[:-1]],
        text("ov.rejected", lg): [r.rejected for r in routes[:-1]]}
    if ov.last_year is not None:
        series[text("ov.last_year", lg) + ": " + text("ov.rejected", lg)] = [
            r.last_rejected for r in routes[:-1]]
    bars = {"days": [text("route." + r.route, lg) for r in routes[:-1]], "series": series}
    return page(request, "overview.html", user, ov=ov, trend=chart(trend), kinds=kinds,
                routes=routes, bars=chart(bars))


# -- alerts and cases --------------------------------------------------------------------------

@router.get("/alerts", response_class=HTMLResponse)
def alerts(
    request: Request, d: D, user: Annotated[User, Depends(requires(Permission.ALERTS_READ))],
    tier: Annotated[str, Query(pattern="^(|watch|verify|suspend)$")] = "",
    open_only: Annotated[str, Query(pattern="^(|1)$")] = "",
    msisdn: Annotated[str, Query(max_length=16, pattern=r"^\+?[0-9]*$")] = "",
    sort: Annotated[str, Query(pattern="^(|newest|score)$")] = "",
    before: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Response:
    """The alert queue, newest first, filtered and paged on by the last id seen (keyset: a
    deep page costs what the first does)."""
    found = d.cases.alerts(msisdn=msisdn.lstrip("+"), tier=tier, open_only=bool(open_only),
                           page=Page(PAGE + 1, 0), before=before)
    rows = [AlertRow.of(a, user) for a in found[:PAGE]]
    last = found[PAGE - 1].id if len(found) > PAGE else None
    if sort == "score":
        rows.sort(key=lambda r: -r.score)
    query = {"tier": tier, "open_only": open_only, "msisdn": msisdn, "sort": sort}
    return page(request, "alerts.html", user, rows=rows, q=query, before=before, last=last)


@router.get("/cases", response_class=HTMLResponse)
def cases(
    request: Request, d: D, user: Annotated[User, Depends(requires(Permission.CASES_READ))],
    status: Annotated[str, Query(max_length=16)] = "",
    msisdn: Annotated[str, Query(max_length=16, pattern=r"^\+?[0-9]*$")] = "",
    offset: Offset = 0,
) -> Response:
    """Cases, newest first, filtered and paged."""
    found = d.cases.find(msisdn=msisdn.lstrip("+"), status=status, page=Page(PAGE + 1, offset))
    rows = [CaseRow.of(c, user) for c in found[:PAGE]]
    return page(request, "cases.html", user, rows=rows, q={"status": status, "msisdn": msisdn},
                offset=offset, size=PAGE, more=len(found) > PAGE)


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(request: Request, d: D, case_id: Id,
              user: Annotated[User, Depends(requires(Permission.CASES_READ))]) -> Response:
    """One case: its alert's reasons and feature values, the alert's versions, the timeline
    of actions, appeals and the actions the user may take."""
    case = d.cases.get(case_id)
    history = d.cases.alert_history(case.msisdn)
    alert = next((v.alert for v in reversed(history) if v.alert_id == case.alert_id),
                 history[-1].alert if history else None)
    actions = d.cases.actions(case_id=case_id, page=Page(500, 0))
    appeals = d.cases.appeals(case_id=case_id, page=Page(100, 0))
    scores = {"labels": [f"v{v.version} {v.alert.detected_at:%m-%d %H:%M}" for v in history],
              "score": [round(v.alert.score, 3) for v in history]}
    return page(request, "case.html", user, case=case, number=shown(case.msisdn, user),
                alert=alert, history=history, actions=list(reversed(actions)),
                appeals=appeals, possible=possible_actions(case, user), scores=chart(scores),
                may_file=user.may(Permission.APPEALS_FILE),
                may_decide=user.may(Permission.APPEALS_DECIDE),
                may_act=user.may(Permission.CASES_ACT))


def _reason(f: dict[str, str]) -> str:
    reason = f.get("reason", "").strip()
    if not reason:
        raise InvalidInput("field 'reason': give a reason (it is told to the user and audited)")
    return reason[:2000]


@router.post("/cases/{case_id}/act")
def act(d: D, case_id: Id, f: Annotated[dict[str, str], Depends(form)],
        user: Annotated[User, Depends(requires(Permission.CASES_ACT))]) -> Response:
    """Take an action on a case (the same service call as POST /cases/{id}/actions)."""
    d.cases.act(case_id, parse_action(f.get("action", "")), actor=user.name, reason=_reason(f))
    return RedirectResponse(f"/web/cases/{case_id}", status_code=303)


@router.post("/cases/{case_id}/verified")
def verified(d: D, case_id: Id, f: Annotated[dict[str, str], Depends(form)],
             user: Annotated[User, Depends(requires(Permission.CASES_ACT))]) -> Response:
    """The user re-verified their real name: the measure is lifted."""
    d.cases.verified(case_id, actor=user.name, note=f.get("note", "")[:2000])
    return RedirectResponse(f"/web/cases/{case_id}", status_code=303)


@router.post("/cases/{case_id}/appeals")
def file_appeal(d: D, case_id: Id, f: Annotated[dict[str, str], Depends(form)],
                user: Annotated[User, Depends(requires(Permission.APPEALS_FILE))]) -> Response:
    """File the user's appeal against the measure."""
    docs = [x.strip()[:200] for x in f.get("documents", "").split(",") if x.strip()][:50]
    d.cases.file_appeal(case_id, reason=_reason(f)[:4000], documents=docs, actor=user.name)
    return RedirectResponse(f"/web/cases/{case_id}", status_code=303)


@router.post("/appeals/{appeal_id}/decision")
def decide_appeal(d: D, appeal_id: Id, f: Annotated[dict[str, str], Depends(form)],
                  user: Annotated[User, Depends(requires(Permission.APPEALS_DECIDE))]
                  ) -> Response:
    """Decide an appeal; a passed one releases the number."""
    if f.get("passed") not in ("1", "0"):
        raise InvalidInput("field 'passed': 1 (pass) or 0 (reject)")
    a = d.cases.decide_appeal(appeal_id, passed=f["passed"] == "1", actor=user.name,
                              reason=_reason(f))
    return RedirectResponse(f"/web/cases/{a.case_id}", status_code=303)


# -- lists and audit ---------------------------------------------------------------------------

@router.get("/lists", response_class=HTMLResponse)
def lists(
    request: Request, d: D, user: Annotated[User, Depends(requires(Permission.LISTS_READ))],
    colour: Annotated[str, Query(pattern="^(|black|white|grey)$")] = "",
    kind: Annotated[str, Query(max_length=16)] = "",
    value: Annotated[str, Query(max_length=64)] = "",
    offset: Offset = 0,
    from_version: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
    to_version: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
    after_added: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    after_removed: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> Response:
    """Entries in force, newest first, with the current version and a diff between two
    (a page of each side in id order, paged on by the last id seen, with the totals)."""
    found = d.lists.find(value=value, kind=kind, colour=colour, source="",
                         page=Page(PAGE + 1, offset))
    rows = [EntryRow.of(e, user) for e in found[:PAGE]]
    diff = None
    if from_version is not None and to_version is not None:
        x = d.lists.diff_page(from_version, to_version, after_added=after_added,
                              after_removed=after_removed, limit=DIFF_PAGE)
        diff = {"from": x.from_version, "to": x.to_version,
                "added": [EntryRow.of(e, user) for e in x.added],
                "removed": [EntryRow.of(e, user) for e in x.removed],
                "added_total": x.added_total, "removed_total": x.removed_total,
                "after_added": after_added, "after_removed": after_removed,
                "next_added": x.next_added, "next_removed": x.next_removed}
    return page(request, "lists.html", user, rows=rows, version=d.lists.current_version(),
                q={"colour": colour, "kind": kind, "value": value}, offset=offset, size=PAGE,
                more=len(found) > PAGE, diff=diff)


@router.get("/audit", response_class=HTMLResponse)
def audit(
    request: Request, d: D, user: Annotated[User, Depends(requires(Permission.AUDIT_READ))],
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    subject: Annotated[str, Query(max_length=200)] = "",
    actor: Annotated[str, Query(max_length=128)] = "",
) -> Response:
    """Audit events in chain order, paged on by the last seq seen."""
    events = d.audit.events(after=after, limit=PAGE, subject=subject, actor=actor)
    rows = [AuditRow.of(e, user) for e in events]
    return page(request, "audit.html", user, rows=rows, after=after,
                q={"subject": subject, "actor": actor},
                last=rows[-1].seq if len(rows) == PAGE else None)


@router.get("/audit/verify", response_class=HTMLResponse)
def audit_verify(request: Request, d: D,
                 user: Annotated[User, Depends(requires(Permission.AUDIT_READ))],
                 full: Annotated[str, Query(pattern="^(|1)$")] = "") -> Response:
    """Check the chain and say whether it holds (a fragment for htmx, a page without): the
    checkpoints, then a re-hash of the events after the last one; ``full=1`` re-hashes the
    whole chain. The page says which was done."""
    path = request.app.state.checkpoints
    if full or path is None:
        quick = QuickReport(d.audit.verify(), CheckpointReport(True, 0))
    else:
        quick = verify_from_checkpoint(d.audit, path)
    name = "audit_verify.html" if request.headers.get("HX-Request") else "audit_verify_page.html"
    return page(request, name, user, report=quick.chain, quick=quick)
