"""Police coordination (警企协同) use cases: a unit's requests and clues, the operator's
maker-checker answer, SLA escalation, sealed response packages and clue feedback.

Every change commits with its audit event; every read of personal data (a response package, a
unit's clues) is an audit event naming who read what, why (the case reference) and for which
request. Officers act only within their unit: another unit's request is NotFound to them, as if
it did not exist. Approving a request executes it in the same transaction that seals its
response: a control's blocks or suspensions, the request's new status, the package and the
audit events commit together or not at all.
"""

from __future__ import annotations

import html
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import structlog

from telshield.domain.audit import AuditEvent
from telshield.domain.cases import ActionKind, Case, Policy
from telshield.domain.clock import feed_now
from telshield.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from telshield.domain.lists import Colour, ListEntry, Source
from telshield.domain.lists import TargetKind as ListTarget
from telshield.domain.paging import Page
from telshield.domain.police import (
    ClueFeedback,
    ControlAction,
    PoliceRequest,
    RequestKind,
    Response,
    TargetKind,
    Unit,
    canonical,
    mask_id_hash,
    parse_outcome,
    parse_unit_code,
    sha256,
)
from telshield.domain.users import Role, User
from telshield.services import police_data
from telshield.services.disposal import apply
from telshield.services.figures import Figures
from telshield.services.lakeread import FeedReader
from telshield.services.police_report import (
    ExportCheck,
    MonthlyReport,
    export,
    monthly,
    sealed_files,
    verify_export,
)
from telshield.services.store import Clock, Store, UnitOfWork

log = structlog.get_logger(__name__)

# Writes clue rows (the clues feed's columns) into the lake the way a feed file would;
# returns how many were new.
ClueSink = Callable[[Sequence[dict[str, Any]]], int]


@dataclass(frozen=True)
class Sla:
    """Hours a unit waits at most for each kind of request."""

    query_hours: int = 24
    control_hours: int = 2

    def of(self, kind: str) -> timedelta:
        """The SLA of a request kind."""
        return timedelta(hours=self.control_hours if kind == "control" else self.query_hours)


@dataclass(frozen=True)
class Clue:
    """A unit's clue as the unit sees it: the clue, the police block on it, the feedback."""

    clue_id: str
    reported_at: datetime
    msisdn: str
    case_ref: str
    fraud_type: str
    unit: str
    blocked: bool
    feedback: tuple[ClueFeedback, ...]


class PoliceService:
    """Police coordination over the store and the lake."""

    def __init__(self, store: Store, clock: Clock, reader: FeedReader, policy: Policy, *,
                 sla: Sla = Sla(), lookback_days: int = 30, clue_sink: ClueSink | None = None,
                 figures: Figures | None = None) -> None:
        self.store, self.clock, self.reader, self.policy = store, clock, reader, policy
        self.sla, self.lookback_days, self.clue_sink = sla, lookback_days, clue_sink
        self.figures = figures  # the month's period figures in the monthly report

    # --- units -------------------------------------------------------------------------------
    def add_unit(self, code: str, name: str, *, actor: str) -> Unit:
        """Register a police unit (officers are users of role police with --unit CODE)."""
        code = parse_unit_code(code)
        if not name.strip():
            raise InvalidInput("a unit needs a --name (e.g. 'Nanjing PSB anti-fraud centre')")
        at = self.clock.now()
        with self.store.transaction() as tx:
            unit = tx.police.add_unit(Unit(code, name.strip(), at))
            tx.audit.append([AuditEvent(actor, "police.unit.add", f"police_unit:{code}", at,
                                        {"name": unit.name})])
        return unit

    def units(self) -> list[Unit]:
        """Every registered unit."""
        with self.store.transaction(write=False) as tx:
            return tx.police.units()

    def _unit_of(self, tx: UnitOfWork, user: User) -> str:
        if user.role is not Role.POLICE or not user.unit:
            raise InvalidInput(f"user {user.name!r} acts for no police unit: requests and clues "
                            "come from police users (`telshield users add --role police "
                            "--unit CODE`)")
        if tx.police.unit(user.unit) is None:
            raise Forbidden(f"police unit {user.unit!r} of user {user.name!r} is not "
                            "registered: an admin adds it with `telshield users unit-add`")
        return user.unit

    # --- the unit's side ---------------------------------------------------------------------
    def submit(self, user: User, *, kind: str, target_kind: str, target: str, action: str,
               legal_doc: str, case_ref: str, reason: str) -> PoliceRequest:
        """File a request for the user's unit; its SLA clock starts now."""
        at = self.clock.now()
        with self.store.transaction() as tx:
            unit = self._unit_of(tx, user)
            q = tx.police.add(PoliceRequest.new(
                unit=unit, kind=kind, target_kind=target_kind, target=target, action=action,
                legal_doc=legal_doc, case_ref=case_ref, reason=reason, by=user.name, at=at,
                sla=self.sla.of(kind)))
            tx.audit.append([AuditEvent(user.name, "police.request", q.subject, at, {
                "unit": unit, "kind": q.kind.value, "action": q.action.value if q.action else "",
                **_target(q), "legal_doc": q.legal_doc, "case_ref": q.case_ref,
                "reason": q.reason, "deadline": q.deadline.isoformat()})])
        log.info("police.request", id=q.id, unit=unit, kind=q.kind.value)
        return q

    def get(self, user: User, request_id: int) -> PoliceRequest:
        """One request as ``user`` may see it: an officer only their unit's (NotFound else)."""
        with self.store.transaction(write=False) as tx:
            return self._visible(tx, user, request_id)

    def _visible(self, tx: UnitOfWork, user: User, request_id: int) -> PoliceRequest:
        try:
            q = tx.police.get(request_id)
        except NotFound:
            q = None
        if q is None or (user.role is Role.POLICE and q.unit != user.unit):
            # Another unit's request does not exist for this officer, not even its number.
            raise NotFound(f"no police request {request_id} for unit {user.unit or '-'}")
        return q

    def mine(self, user: User, *, status: str = "", page: Page = Page()) -> list[PoliceRequest]:
        """The requests an officer's unit filed (an admin: every unit's)."""
        unit = user.unit if user.role is Role.POLICE else ""
        if user.role is Role.POLICE and not unit:
            return []
        with self.store.transaction(write=False) as tx:
            return tx.police.find(unit=unit, status=status, page=page)

    def response(self, user: User, request_id: int) -> tuple[PoliceRequest, Response]:
        """The sealed response to a request, read by ``user``: an audit event (who, what,
        why, which request) commits before the data is handed over."""
        return self._read(request_id, actor=user.name, user=user)

    def package(self, request_id: int, *, actor: str) -> tuple[PoliceRequest, Response]:
        """The sealed response, read by the operator's ``actor`` (audited like any read)."""
        return self._read(request_id, actor=actor, user=None)

    def _read(self, request_id: int, *, actor: str, user: User | None
              ) -> tuple[PoliceRequest, Response]:
        at = self.clock.now()
        with self.store.transaction() as tx:
            q = self._visible(tx, user, request_id) if user else tx.police.get(request_id)
            resp = tx.police.response(request_id)
            if resp is None:
                raise Conflict(f"request {request_id} is {q.status.value}: its response comes "
                               "once it is approved (maker-checker)")
            tx.audit.append([AuditEvent(actor, "police.read", q.subject, at, {
                "what": "response", "request": request_id, **_target(q),
                "why": f"{q.case_ref}: {q.reason}", "unit": q.unit, "sha256": resp.sha256})])
        return q, resp

    def verify(self, request_id: int) -> tuple[bool, str]:
        """Whether the stored response still matches its recorded hash; (ok, sha256)."""
        with self.store.transaction(write=False) as tx:
            resp = tx.police.response(request_id)
        if resp is None:
            raise NotFound(f"request {request_id} has no response yet")
        ok = sha256(resp.package) == resp.sha256 and sha256(resp.html) == resp.html_sha256
        return ok, resp.sha256

    # --- the operator's side: maker-checker ---------------------------------------------------
    def queue(self, *, status: str = "", unit: str = "", page: Page = Page()
              ) -> list[PoliceRequest]:
        """Every unit's requests for the operator, newest first."""
        with self.store.transaction(write=False) as tx:
            return tx.police.find(unit=unit, status=status, page=page)

    def prepare(self, request_id: int, *, actor: str, note: str = "") -> PoliceRequest:
        """The maker's step: the request is checked and proposed for approval."""
        at = self.clock.now()
        with self.store.transaction() as tx:
            q = tx.police.get(request_id, lock=True).prepare(by=actor, at=at, note=note)
            tx.police.save(q)
            tx.audit.append([AuditEvent(actor, "police.prepare", q.subject, at,
                                        {"note": q.note})])
        return q

    def reject(self, request_id: int, *, actor: str, reason: str) -> PoliceRequest:
        """Refuse a request, saying why; the unit sees the reason."""
        at = self.clock.now()
        with self.store.transaction() as tx:
            q = tx.police.get(request_id, lock=True).reject(by=actor, at=at, reason=reason)
            tx.police.save(q)
            tx.audit.append([AuditEvent(actor, "police.reject", q.subject, at,
                                        {"reason": q.note})])
        return q

    def approve(self, request_id: int, *, actor: str, note: str = "") -> tuple[PoliceRequest,
                                                                              Response]:
        """The checker's step (never the maker): execute the request and seal its response,
        all in one transaction."""
        with self.store.transaction(write=False) as tx:
            draft = tx.police.get(request_id)
        at = self.clock.now()
        draft.approve(by=actor, at=at)  # the law first: fail before reading the lake
        numbers = self._numbers(draft)
        result = self._query(draft, numbers) if draft.kind is RequestKind.QUERY else {}
        with self.store.transaction() as tx:
            q = tx.police.get(request_id, lock=True).approve(by=actor, at=at, note=note)
            if q.kind is RequestKind.CONTROL:
                result = self._control(tx, q, numbers, actor=actor, at=at)
            resp = _seal(q, result, at)
            tx.police.save(q)
            tx.police.add_response(resp)
            tx.audit.append([AuditEvent(actor, "police.approve", q.subject, at, {
                "kind": q.kind.value, **_target(q), "prepared_by": q.prepared_by,
                "numbers": numbers, "why": f"{q.case_ref}: {q.reason}", "request": q.id,
                "sha256": resp.sha256})])
        log.info("police.approved", id=q.id, kind=q.kind.value, numbers=len(numbers))
        return q, resp

    def _numbers(self, q: PoliceRequest) -> list[str]:
        if q.target_kind is TargetKind.NUMBER:
            return [q.target]
        numbers = police_data.subscriber_numbers(self.reader, q.target)
        if not numbers and q.kind is RequestKind.CONTROL:
            raise Conflict(f"request {q.id}: no number is registered under the ID; nothing "
                           "to control (reject it saying so)")
        return numbers

    def _query(self, q: PoliceRequest, numbers: list[str]) -> dict[str, Any]:
        id_hash = q.target if q.target_kind is TargetKind.ID else \
            police_data.id_of(self.reader, q.target)
        same_id = police_data.subscriber_numbers(self.reader, id_hash) if id_hash else []
        return {
            "subscribers": police_data.records(self.reader, numbers),
            "recent": police_data.activity(self.reader, numbers, self.lookback_days),
            "same_id": police_data.records(self.reader, same_id),
            "lookback_days": self.lookback_days,
        }

    def _control(self, tx: UnitOfWork, q: PoliceRequest, numbers: list[str], *, actor: str,
                 at: datetime) -> dict[str, Any]:
        reason = f"police request {q.id}: {q.case_ref} under {q.legal_doc}"
        if q.action is ControlAction.BLOCK:
            already = {n for n in numbers for e in tx.lists.covering(n)
                       if e.police_ordered and e.kind is ListTarget.NUMBER}
            todo = [n for n in numbers if n not in already]
            ids: list[int] = []
            if todo:
                version = tx.lists.new_version(actor=actor, note=reason, at=at)
                stored = tx.lists.add([ListEntry.new(
                    ListTarget.NUMBER, n, Colour.BLACK, source=Source.POLICE, reason=reason,
                    actor=actor, at=at, police_ordered=True) for n in todo], version)
                ids = [int(e.id or 0) for e in stored]
                tx.audit.append([AuditEvent(actor, "list.add", f"list:v{version}", at, {
                    "version": version, "added": len(stored), "source": "police",
                    "numbers": todo, "reason": reason})])
            return {"action": "block", "blocked": todo, "already_blocked": sorted(already),
                    "list_entries": ids}
        existing = tx.cases.open_for(numbers)
        opened = tx.cases.add([Case.open(n, tier="police", at=at) for n in numbers
                               if n not in existing])
        cases = list(existing.values()) + opened
        kind = ActionKind.SUSPEND
        todo_cases = [c for c in cases if c.status is not kind.target]
        illegal = [c for c in todo_cases if not c.status.can_move_to(kind.target)]
        if illegal:
            raise Conflict(f"{len(illegal)} number(s) cannot be suspended, e.g. case "
                           f"{illegal[0].id} ({illegal[0].status.value}); nothing was changed")
        apply(tx, todo_cases, kind, actor=actor, reason=reason, at=at, policy=self.policy,
              group_ref=f"police:{q.id}", opened=frozenset(c.id for c in opened))
        return {"action": "suspend", "suspended": sorted(c.msisdn for c in todo_cases),
                "already_suspended": sorted(c.msisdn for c in cases if c not in todo_cases),
                "cases": sorted(int(c.id or 0) for c in cases)}

    # --- SLA ---------------------------------------------------------------------------------
    def escalate(self, *, actor: str = "system") -> list[PoliceRequest]:
        """Mark every open request past its deadline as escalated (once each, audited)."""
        at = self.clock.now()
        with self.store.transaction() as tx:
            late = [replace(q, escalated_at=at) for q in tx.police.open_past(at)
                    if q.escalated_at is None]
            for q in late:
                tx.police.save(q)
            if late:
                tx.audit.append([AuditEvent(actor, "police.escalate", q.subject, at, {
                    "unit": q.unit, "kind": q.kind.value, "deadline": q.deadline.isoformat(),
                    "status": q.status.value}) for q in late])
        if late:
            log.warning("police.escalated", requests=[q.id for q in late])
        return late

    def breaches(self) -> list[PoliceRequest]:
        """Requests that missed their SLA: answered late, or open past the deadline now."""
        with self.store.transaction(write=False) as tx:
            return tx.police.breached(self.clock.now())

    def monthly(self, month: str, *, actor: str) -> MonthlyReport:
        """The month's coordination statistics, sealed with their SHA-256 (audited)."""
        return monthly(self.store, self.clock, self.reader, month, actor=actor,
                       figures=self.figures)

    def export_monthly(self, month: str, folder: Path, *, actor: str
                       ) -> tuple[MonthlyReport, dict[str, str]]:
        """The month's report written into ``folder`` with a ``SHA256SUMS`` manifest, each
        file's hash audited; returns the report and name -> SHA-256."""
        r = self.monthly(month, actor=actor)
        return r, export(self.store, self.clock, r, folder, actor=actor)

    def monthly_files(self, month: str, *, actor: str) -> dict[str, bytes]:
        """The month's report files and their ``SHA256SUMS`` manifest, as ``export_monthly``
        writes them (each hash audited), for a download."""
        return sealed_files(self.store, self.clock, self.monthly(month, actor=actor),
                            actor=actor)

    def verify_monthly(self, folder: Path) -> ExportCheck:
        """Check an exported report folder against its manifest and the audit trail."""
        return verify_export(self.store, folder)

    # --- clues -------------------------------------------------------------------------------
    def submit_clue(self, user: User, *, msisdn: str, case_ref: str, fraud_type: str,
                    clue_id: str = "") -> str:
        """Send a clue from the user's unit into the lake's clues feed, as a feed file would;
        the operating cycle blocks its number. Returns the clue id."""
        if self.clue_sink is None:
            raise InvalidInput("clues cannot be written here: no lake is configured")
        with self.store.transaction(write=False) as tx:
            unit = self._unit_of(tx, user)
        cid = clue_id.strip() or f"{unit}-{uuid.uuid4().hex[:12]}"
        row = {"clue_id": cid, "reported_at": feed_now().replace(microsecond=0),
               "msisdn": msisdn.strip(), "case_ref": case_ref.strip(),
               "fraud_type": fraud_type.strip(), "unit": unit}
        added = self.clue_sink([row])
        at = self.clock.now()
        with self.store.transaction() as tx:
            tx.audit.append([AuditEvent(user.name, "police.clue", f"clue:{cid}", at, {
                "unit": unit, "number": row["msisdn"], "case_ref": row["case_ref"],
                "fraud_type": row["fraud_type"], "new": bool(added)})])
        return cid

    def clues(self, user: User) -> list[Clue]:
        """The clues of the user's unit (an admin: all), each with its block and feedback;
        the read is audited."""
        unit = user.unit if user.role is Role.POLICE else ""
        if user.role is Role.POLICE and not unit:
            return []
        rows: list[dict[str, Any]] = []
        if self.reader.files("clues"):
            t = self.reader.table("clues")
            if unit:
                t = t.filter(t.unit == unit)
            rows = t.order_by(t.reported_at.desc()).to_pyarrow().to_pylist()
        at = self.clock.now()
        with self.store.transaction() as tx:
            fb = tx.police.feedback(unit=unit)
            out = [Clue(str(r["clue_id"]), r["reported_at"], str(r["msisdn"]),
                        str(r["case_ref"] or ""), str(r["fraud_type"] or ""), str(r["unit"]),
                        any(e.police_ordered and e.reason.startswith(
                            f"police clue {r['clue_id']}") for e in tx.lists.covering(
                                str(r["msisdn"]))),
                        tuple(f for f in fb if f.clue_id == r["clue_id"])) for r in rows]
            tx.audit.append([AuditEvent(user.name, "police.read", f"clues:{unit or '*'}", at,
                                        {"what": "clues", "unit": unit, "clues": len(out),
                                         "why": "the unit's own clues and their feedback"})])
        return out

    def feedback(self, clue_id: str, *, outcome: str, note: str, actor: str) -> ClueFeedback:
        """Tell the clue's unit what was done with it."""
        outcome = parse_outcome(outcome)
        t = self.reader.table("clues")
        got = t.filter(t.clue_id == clue_id).select("unit").limit(1).to_pyarrow().to_pylist()
        if not got:
            raise NotFound(f"no clue {clue_id!r} in the clues feed")
        at = self.clock.now()
        fb = ClueFeedback(clue_id, str(got[0]["unit"]), outcome, note.strip(), actor, at)
        with self.store.transaction() as tx:
            tx.police.add_feedback(fb)
            tx.audit.append([AuditEvent(actor, "police.clue.feedback", f"clue:{clue_id}", at,
                                        {"unit": fb.unit, "outcome": outcome, "note": fb.note})])
        return fb


def _target(q: PoliceRequest) -> dict[str, str]:
    # Keyed so the audit masks it for roles that see numbers masked (domain.audit).
    return {"number": q.target} if q.target_kind is TargetKind.NUMBER else {"id_hash": q.target}


def _seal(q: PoliceRequest, result: dict[str, Any], at: datetime) -> Response:
    package = {
        "request": {
            "id": q.id, "unit": q.unit, "kind": q.kind.value,
            "action": q.action.value if q.action else "", "target_kind": q.target_kind.value,
            "target": q.target if q.target_kind is TargetKind.NUMBER else mask_id_hash(q.target),
            "legal_doc": q.legal_doc, "case_ref": q.case_ref, "reason": q.reason,
            "submitted_by": q.submitted_by, "submitted_at": q.submitted_at.isoformat(),
            "deadline": q.deadline.isoformat()},
        "answer": {"prepared_by": q.prepared_by, "approved_by": q.decided_by,
                   "answered_at": at.isoformat(), "note": q.note,
                   "within_sla": at <= q.deadline},
        "result": result,
        "times": "UTC for request and answer; feed data times in China Standard Time",
    }
    text = canonical(package)
    digest = sha256(text)
    page = _html(package, digest)
    return Response(int(q.id or 0), text, page, digest, sha256(page), at)


def _html(package: dict[str, Any], digest: str) -> str:
    r = package["request"]
    body = html.escape(json.dumps(package["result"], indent=2, ensure_ascii=False,
                                  sort_keys=True))
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
                   for k, v in {**r, **package["answer"]}.items())
    return ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>telshield response to "
            f"police request {r['id']}</title></head><body><h1>Response to police request "
            f"{r['id']} ({html.escape(r['unit'])})</h1><table>{rows}</table><h2>Result</h2>"
            f"<pre>{body}</pre><p>SHA-256 of the JSON package: <code>{digest}</code></p>"
            "</body></html>\n")
