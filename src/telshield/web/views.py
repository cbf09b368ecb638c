"""What a page shows of the domain's records to one user: numbers masked for roles that need
not see them, exactly as the API's schemas do (``api/schemas.py``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from telshield.domain.alerts import StoredAlert
from telshield.domain.audit import ChainedEvent, masked
from telshield.domain.cases import ActionKind, Case
from telshield.domain.lists import ListEntry
from telshield.domain.users import Permission, User, mask_number
from telshield.services.figures import PeriodFigures

# The navigation: (path, catalogue key, the permission that shows it).
NAV: tuple[tuple[str, str, Permission], ...] = (
    ("/web/", "nav.overview", Permission.CASES_READ),
    ("/web/alerts", "nav.alerts", Permission.ALERTS_READ),
    ("/web/cases", "nav.cases", Permission.CASES_READ),
    ("/web/lists", "nav.lists", Permission.LISTS_READ),
    ("/web/audit", "nav.audit", Permission.AUDIT_READ),
    ("/web/dens", "nav.dens", Permission.DENS_READ),
    ("/web/gangs", "nav.gangs", Permission.GANGS_READ),
    ("/web/police", "nav.police", Permission.POLICE_HANDLE),
    ("/web/map", "nav.map", Permission.DENS_READ),
    ("/web/trace", "nav.trace", Permission.TRACE),
    ("/web/rules", "nav.rules", Permission.RULES_READ),
    ("/web/registrations", "nav.registrations", Permission.REGISTRATIONS_RISK),
)


def nav(user: User) -> list[tuple[str, str]]:
    """The pages ``user`` may open, in menu order."""
    return [(path, key) for path, key, perm in NAV if user.may(perm)]


def shown(number: str, user: User) -> str:
    """``number`` as ``user`` may see it."""
    return number if user.sees_numbers else mask_number(number)


@dataclass(frozen=True)
class AlertRow:
    """One alert as a row of the queue."""

    id: int
    msisdn: str
    score: float
    tier: str
    open: bool
    reasons: list[str]
    detected_at: str

    @classmethod
    def of(cls, s: StoredAlert, user: User) -> AlertRow:
        """The alert as ``user`` may see it."""
        a = s.alert
        return cls(s.id, shown(a.msisdn, user), a.score, a.tier.value, s.is_open,
                   [r.code for r in a.reasons], f"{a.detected_at:%Y-%m-%d %H:%M}")


@dataclass(frozen=True)
class CaseRow:
    """One case as a row."""

    id: int
    msisdn: str
    status: str
    tier: str
    opened_at: str
    deadline: str
    alert_id: int | None

    @classmethod
    def of(cls, c: Case, user: User) -> CaseRow:
        """The case as ``user`` may see it."""
        return cls(c.id or 0, shown(c.msisdn, user), c.status.value, c.tier,
                   f"{c.opened_at:%Y-%m-%d %H:%M}",
                   f"{c.deadline:%Y-%m-%d %H:%M}" if c.deadline else "", c.alert_id)


def possible_actions(case: Case, user: User) -> list[str]:
    """The actions ``user`` may take on ``case`` now: the role's permission and the case's
    state machine both allow them."""
    if not user.may(Permission.CASES_ACT):
        return []
    return [k.value for k in ActionKind if case.status.can_move_to(k.target)]


@dataclass(frozen=True)
class EntryRow:
    """One list entry as a row."""

    id: int | None
    version: int | None
    kind: str
    value: str
    colour: str
    source: str
    police_ordered: bool
    reason: str
    actor: str
    created_at: str
    expires_at: str

    @classmethod
    def of(cls, e: ListEntry, user: User) -> EntryRow:
        """The entry as ``user`` may see it (numbers and ranges masked if need be)."""
        hide = e.kind.value in ("number", "range") and not user.sees_numbers
        value = mask_number(e.value) if hide else e.value
        if e.value_end:
            value += "–" + (mask_number(e.value_end) if hide else e.value_end)
        return cls(e.id, e.version, e.kind.value, value, e.colour.value, e.source.value,
                   e.police_ordered, e.reason, e.actor, f"{e.created_at:%Y-%m-%d %H:%M}",
                   f"{e.expires_at:%Y-%m-%d %H:%M}" if e.expires_at else "")


@dataclass(frozen=True)
class AuditRow:
    """One audit event as a row."""

    seq: int
    at: str
    actor: str
    action: str
    subject: str
    detail: str
    hash: str

    @classmethod
    def of(cls, c: ChainedEvent, user: User) -> AuditRow:
        """The event as ``user`` may see it (numbers and identities masked if need be)."""
        e = c.event if user.sees_numbers else masked(c.event)
        return cls(c.seq, f"{e.at:%Y-%m-%d %H:%M:%S}", e.actor, e.action, e.subject,
                   json.dumps(dict(e.detail), ensure_ascii=False, default=str), c.hash[:12])


def chart(series: dict[str, Any]) -> str:
    """Data for a chart, as JSON for a ``data-`` attribute (escaped by the template)."""
    return json.dumps(series, ensure_ascii=False)


@dataclass(frozen=True)
class RouteRow:
    """One route class's row of the overview: this period and the same one a year before."""

    route: str
    screened: int
    rejected: int
    fraud_calls: int
    intercepted: str  # share, formatted
    legit_blocked: int
    last_screened: int | None
    last_rejected: int | None
    last_intercepted: str


def route_rows(now: PeriodFigures, last: PeriodFigures | None) -> list[RouteRow]:
    """The overview's route table: each route class, then the barred classes together."""
    before = {r.route: r for r in last.routes} if last is not None else {}
    rows = []
    for r in now.routes:
        b = before.get(r.route)
        rows.append(RouteRow(r.route, r.screened, r.rejected, r.fraud_calls,
                             _share(r.intercepted_share), r.legit_blocked,
                             b.screened if b else None, b.rejected if b else None,
                             _share(b.intercepted_share) if b else ""))
    return rows


def _share(x: float) -> str:
    return "—" if x != x else f"{x:.1%}"
