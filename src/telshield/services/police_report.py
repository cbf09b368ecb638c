"""The monthly police coordination report (警企协同月报): requests received, answered,
rejected, within SLA, breached and escalated, by kind and by unit; clues received, blocked and
given feedback; and the month's period figures (numbers warned and disposed, alerts by tier,
calls screened and intercepted per route class, appeals, SLA breaches) from
``services.figures``, the query the overview page and the replay use. Counts only, no number or
identity; sealed as canonical JSON with its SHA-256 and its export audited.

``export`` writes the report's files into a folder with a ``SHA256SUMS`` manifest and audits
each file's hash; ``verify_export`` checks the files against the manifest and the audit trail.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from telshield.domain.audit import AuditEvent
from telshield.domain.clock import FEED_OFFSET
from telshield.domain.errors import InvalidInput
from telshield.domain.police import RequestStatus, canonical, sha256
from telshield.services.figures import Figures, PeriodFigures
from telshield.services.lakeread import FeedReader
from telshield.services.store import Clock, Store

MANIFEST = "SHA256SUMS"

_MONTH = re.compile(r"(\d{4})-(\d{2})")


@dataclass(frozen=True)
class MonthlyReport:
    """A month's report as canonical JSON and its SHA-256."""

    month: str
    package: str
    sha256: str
    figures: PeriodFigures | None = None


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """[first day, first day of the next month) of ``YYYY-MM``; InvalidInput otherwise."""
    m = _MONTH.fullmatch(month.strip())
    if m is None or not 1 <= int(m[2]) <= 12:
        raise InvalidInput(f"month {month!r}: write YYYY-MM, e.g. 2026-03")
    y, mo = int(m[1]), int(m[2])
    return datetime(y, mo, 1), datetime(y + mo // 12, mo % 12 + 1, 1)


def cst_month(month: str) -> tuple[datetime, datetime]:
    """The store times (UTC) bounding the China Standard Time month ``YYYY-MM``: the period
    of the month's figures, as the overview's "this month"."""
    since, until = month_bounds(month)
    return since - FEED_OFFSET, until - FEED_OFFSET


def monthly(store: Store, clock: Clock, reader: FeedReader, month: str, *, actor: str,
            figures: Figures | None = None) -> MonthlyReport:
    """The month's report (requests by store time, UTC; clues by feed time; the figures by the
    China Standard Time month), audited."""
    since, until = month_bounds(month)
    period = figures.period(*cst_month(month)) if figures is not None else None
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
        "times": "requests by arrival in UTC; clues by report time in China Standard Time; "
                 "figures by the China Standard Time month (start and end in UTC)",
    }
    if period is not None:
        body["figures"] = period.as_dict()
    text = canonical(body)
    digest = sha256(text)
    with store.transaction() as tx:
        tx.audit.append([AuditEvent(actor, "police.report", f"police_report:{month}", now,
                                    {"month": month, "sha256": digest})])
    return MonthlyReport(month, text, digest, period)


def report_files(r: MonthlyReport) -> dict[str, bytes]:
    """The report's files: the canonical JSON, and the route figures as CSV when it has them."""
    files = {f"police-report-{r.month}.json": r.package.encode()}
    if r.figures is not None:
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["route", "screened", "rejected", "fraud_calls", "intercepted", "warned",
                    "legit_calls", "legit_blocked"])
        for x in r.figures.routes:
            w.writerow([x.route, x.screened, x.rejected, x.fraud_calls, x.intercepted,
                        x.warned, x.legit_calls, x.legit_blocked])
        files[f"police-report-{r.month}-routes.csv"] = out.getvalue().encode()
    return files


def export(store: Store, clock: Clock, r: MonthlyReport, folder: Path, *, actor: str
           ) -> dict[str, str]:
    """Write the report's files and their ``SHA256SUMS`` manifest into ``folder``; audit each
    file's hash (``police.report.file``) and the manifest's. Returns name -> SHA-256."""
    folder.mkdir(parents=True, exist_ok=True)
    files = sealed_files(store, clock, r, actor=actor)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return {n: hashlib.sha256(data).hexdigest() for n, data in files.items()}


def sealed_files(store: Store, clock: Clock, r: MonthlyReport, *, actor: str
                 ) -> dict[str, bytes]:
    """The report's files and their ``SHA256SUMS`` manifest (name -> bytes, the manifest
    first), each file's hash audited (``police.report.file``) as ``export`` audits them: the
    web page's download, which ``verify_export`` checks once unpacked into a folder."""
    files = report_files(r)
    sums = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    manifest = "".join(f"{h}  {n}\n" for n, h in sorted(sums.items())).encode()
    sums[MANIFEST] = hashlib.sha256(manifest).hexdigest()
    at = clock.now()
    with store.transaction() as tx:
        tx.audit.append([AuditEvent(actor, "police.report.file", f"police_report:{r.month}", at,
                                    {"file": n, "sha256": sums[n]})
                         for n in [MANIFEST, *sorted(set(sums) - {MANIFEST})]])
    return {MANIFEST: manifest, **files}


@dataclass(frozen=True)
class ExportCheck:
    """What ``verify_export`` found: per file, ok or why not."""

    month: str
    files: dict[str, str]  # name -> "ok" or the problem

    @property
    def ok(self) -> bool:
        """Whether every file is intact."""
        return bool(self.files) and all(v == "ok" for v in self.files.values())


def verify_export(store: Store, folder: Path) -> ExportCheck:
    """Check a report folder: each file in ``SHA256SUMS`` has its hash, nothing listed is
    missing, and the manifest and each file hash as the audit trail recorded at export (the
    latest export of the month), so a folder rewritten with a new manifest is found too."""
    path = folder / MANIFEST
    if not path.exists():
        raise InvalidInput(f"{folder} has no {MANIFEST}: give the folder "
                           "`telshield police report --out-dir` wrote")
    listed: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        h, _, name = line.partition("  ")
        if name:
            listed[name] = h
    months = {m[1] for n in listed if (m := re.match(r"police-report-(\d{4}-\d{2})", n))}
    if len(months) != 1:
        raise InvalidInput(f"{path} names no single month's report files")
    month = months.pop()
    recorded = _recorded(store, month)
    found: dict[str, str] = {}
    for name, h in [*sorted(listed.items()), (MANIFEST, "")]:
        f = folder / name
        if not f.exists():
            found[name] = "missing"
            continue
        got = hashlib.sha256(f.read_bytes()).hexdigest()
        if h and got != h:
            found[name] = "altered (hash differs from SHA256SUMS)"
        elif recorded.get(name) != got:
            found[name] = "not as exported (hash differs from the audit trail)"
        else:
            found[name] = "ok"
    return ExportCheck(month, found)


def _recorded(store: Store, month: str) -> dict[str, str]:
    """File name -> SHA-256 of the month's latest export, from the audit trail."""
    out: dict[str, str] = {}
    after = 0
    with store.transaction(write=False) as tx:
        while True:
            events = tx.audit.read(after=after, limit=1000, subject=f"police_report:{month}")
            for e in events:
                if e.event.action == "police.report.file":
                    if e.event.detail.get("file") == MANIFEST:
                        out = {}  # each export audits its manifest first: a later one wins
                    out[str(e.event.detail["file"])] = str(e.event.detail["sha256"])
            if len(events) < 1000:
                return out
            after = events[-1].seq
