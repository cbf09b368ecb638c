"""The monthly police coordination report (警企协同月报): requests received, answered,
rejected, within SLA, breached and escalated, by kind and by unit; clues received, blocked and
given feedback. Counts only, no number or identity; sealed as canonical JSON with its SHA-256
and its export audited."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from telshield.domain.audit import AuditEvent
from telshield.domain.errors import InvalidInput
from telshield.domain.police import RequestStatus, canonical, sha256
from telshield.services.lakeread import FeedReader
from telshield.services.store import Clock, Store

_MONTH = re.compile(r"(\d{4})-(\d{2})")


@dataclass(frozen=True)
class MonthlyReport:
    """A month's report as canonical JSON and its SHA-256."""

    month: str
    package: str
    sha256: str


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """[first day, first day of the next month) of ``YYYY-MM``; InvalidInput otherwise."""
    m = _MONTH.fullmatch(month.strip())
    if m is None or not 1 <= int(m[2]) <= 12:
        raise InvalidInput(f"month {month!r}: write YYYY-MM, e.g. 2026-03")
    y, mo = int(m[1]), int(m[2])
    return datetime(y, mo, 1), datetime(y + mo // 12, mo % 12 + 1, 1)


def monthly(store: Store, clock: Clock, reader: FeedReader, month: str, *, actor: str
            ) -> MonthlyReport:
    """The month's report (requests by store time, UTC; clues by feed time), audited."""
    since, until = month_bounds(month)
    now = clock.now()
    with store.transaction(write=False) as tx:
        qs = tx.police.submitted_between(since, until)
        feedback = tx.police.feedback()
    kinds = Counter(q.kind.value + (f"/{q.action.value}" if q.action else "") for q in qs)
    units: dict[str, Counter[str]] = {}
    for q in qs:
        units.setdefault(q.unit, Counter())["received"] += 1
        units[q.unit][q.status.value] += 1
    answered = [q for q in qs if q.status is RequestStatus.ANSWERED]
    clue_ids: list[str] = []
    if reader.files("clues"):
        t = reader.table("clues", since, until)
        clue_ids = [str(r["clue_id"]) for r in t.select("clue_id").to_pyarrow().to_pylist()]
    given = {f.clue_id for f in feedback if f.clue_id in set(clue_ids)}
    outcomes = Counter(f.outcome for f in feedback if f.clue_id in given)
    body: dict[str, Any] = {
        "month": month,
        "requests": {
            "received": len(qs), "by_kind": dict(sorted(kinds.items())),
            "answered": len(answered),
            "rejected": sum(q.status is RequestStatus.REJECTED for q in qs),
            "open": sum(not q.status.closed for q in qs),
            "answered_within_sla": sum(not q.breached(now) for q in answered),
            "breached": sum(q.breached(now) for q in qs),
            "escalated": sum(q.escalated_at is not None for q in qs),
        },
        "by_unit": {u: dict(sorted(c.items())) for u, c in sorted(units.items())},
        "clues": {"received": len(set(clue_ids)), "with_feedback": len(given),
                  "feedback": dict(sorted(outcomes.items()))},
        "times": "requests by arrival in UTC; clues by report time in China Standard Time",
    }
    text = canonical(body)
    digest = sha256(text)
    with store.transaction() as tx:
        tx.audit.append([AuditEvent(actor, "police.report", f"police_report:{month}", now,
                                    {"month": month, "sha256": digest})])
    return MonthlyReport(month, text, digest)
