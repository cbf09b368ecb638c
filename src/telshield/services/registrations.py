"""The registration check (入网核验) as a use case: gather the facts about one SIM application,
let the domain's rules judge it, record the check with its audit event in one transaction.

Checks of one ID are serialised in the store (``RegistrationRepo.lock_id``), so two requests
racing for the last card under the limit cannot both be allowed: the second counts the first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Protocol

import structlog

from telshield.domain.audit import AuditEvent
from telshield.domain.errors import Conflict, InvalidInput, Unavailable
from telshield.domain.registrations import (
    CheckRecord,
    CheckRequest,
    CheckResult,
    Decision,
    Facts,
    Held,
    Limits,
    Order,
    Retake,
    Sanction,
    StaffSuspension,
    check_id_hash,
    decide,
    judge,
    masked,
)
from telshield.domain.regrisk import RiskBy, RiskRow
from telshield.domain.statement import StatementCheck
from telshield.services.statement import Transcriber, match
from telshield.services.store import Clock, Store, UnitOfWork

log = structlog.get_logger(__name__)

HOUR, DAY, MONTH = timedelta(hours=1), timedelta(days=1), timedelta(days=30)


class Registry(Protocol):
    """Numbers and sanctions by ID hash, as the lake knows them (``services.registry``)."""

    def numbers(self, id_hash: str) -> Mapping[str, Held]:
        """Every number registered under the ID (cancelled ones not live)."""
        ...

    def sanctions(self, id_hash: str) -> tuple[Sanction, ...]:
        """The ID's sanctions, in force or not."""
        ...

    def refresh(self) -> None:
        """Re-read the sources."""
        ...


class RiskLookup(Protocol):
    """The last channel / staff risk ranking, in memory (``services.regrisk.RiskIndex``)."""

    def get(self, by: RiskBy, key: str) -> RiskRow | None:
        """The key's row (None: nothing counted for it)."""
        ...

    def refresh(self) -> None:
        """Recompute the ranking."""
        ...

    def warm(self) -> object:
        """Build the first copy in the background."""
        ...


def _held(lake: Mapping[str, Held], granted: Mapping[str, datetime]) -> dict[str, datetime]:
    # The lake has the last word on a number it knows (a cancelled card no longer counts). A
    # number this check allowed or sent to verification, that the lake does not know yet, is
    # reserved: it may become a card before the next subscribers export, and the limit must
    # hold meanwhile. A reservation the lake never confirms lapses (``pending``).
    out = {m: h.registered_at for m, h in lake.items() if h.live}
    out.update({m: at for m, at in granted.items() if m not in lake})
    return out


def _listed(tx: UnitOfWork, id_hash: str) -> tuple[Sanction, ...]:
    # Black ID-hash list entries are the store's own sanctions (a police order, a decision
    # taken here), beside the lake's sanctions feed.
    entries = tx.lists.find(value=id_hash, kind="id_hash", colour="black")
    return tuple(s for s in map(Sanction.listed, entries) if s is not None)


def _statement_detail(statement: StatementCheck | None, retake: Retake) -> dict[str, object]:
    # The video statement's score and mismatched part for the audit, never the transcript.
    out: dict[str, object] = {} if statement is None else {"statement": statement.audit()}
    return {**out, "retake": retake.value} if retake is not Retake.NONE else out


def _retake(due: bool, sent: bool, reasons: tuple[str, ...]) -> Retake:
    # What became of the retake in this check, for the answer and the audit.
    if due and sent:
        return Retake.FAILED if {"statement_mismatch", "statement_missing"} & set(reasons) \
            else Retake.PASSED
    if "statement_retake" in reasons:
        return Retake.ASKED
    return Retake.IGNORED if sent else Retake.NONE


class RegistrationService:
    """Registration use cases: check an application, list the numbers under an ID, suspend
    and lift staff IDs. Every check and every change is recorded with its audit event."""

    def __init__(self, store: Store, clock: Clock, registry: Registry, limits: Limits, *,
                 appeal_channel: str, pending: timedelta = timedelta(days=7),
                 transcriber: Transcriber | None = None,
                 risk: RiskLookup | None = None) -> None:
        self.store, self.clock, self.registry, self.risk = store, clock, registry, risk
        self.limits, self.appeal_channel, self.pending = limits, appeal_channel, pending
        self.transcriber = transcriber

    def check(self, *, id_hash: str, holder_kind: str, channel_id: str, staff_id: str,
              terminal_id: str, msisdn: str, actor: str, order: Order = Order(),
              transcript: str | None = None, retake_transcript: str | None = None
              ) -> CheckResult:
        """Judge one SIM application and record it; a raw ID number is refused unrecorded.
        ``transcript``: the video statement as recognised (None: none sent).
        ``retake_transcript``: the second recording, after this ID and number's last check
        answered ``retake``; it is then what is judged, strictly, once. A retake sent where
        none was asked (or a second one) is ignored: the application is judged on
        ``transcript`` as if none had been sent."""
        request = CheckRequest.new(id_hash=id_hash, holder_kind=holder_kind,
                                   channel_id=channel_id, staff_id=staff_id,
                                   terminal_id=terminal_id, msisdn=msisdn, order=order,
                                   transcript=transcript, retake_transcript=retake_transcript)
        first = self.statement(request)
        second = self.statement(request, retake=True)
        at = self.clock.now()
        lake = self.registry.numbers(request.id_hash)
        sanctions = self.registry.sanctions(request.id_hash)
        channel_risk, staff_risk = self._risk(request)
        with self.store.transaction() as tx:
            tx.registrations.lock_id(request.id_hash)
            held = _held(lake, tx.registrations.granted(request.id_hash, at - self.pending))
            # One retake per ID and number, read only right after the check that asked it.
            before = tx.registrations.decisions(request.id_hash, request.msisdn,
                                                at - self.pending)
            due = bool(before) and before[-1] is Decision.RETAKE
            facts = replace(self._facts(tx, request, held,
                                        sanctions + _listed(tx, request.id_hash), at),
                            channel_risk=channel_risk, staff_risk=staff_risk,
                            statement=first, retake=second if due else None,
                            retake_asked=Decision.RETAKE in before)
            reasons = judge(request, facts, self.limits, at)
            decision = decide(reasons)
            retake = _retake(due, second is not None, tuple(r.code for r in reasons))
            statement = second if retake in (Retake.PASSED, Retake.FAILED) else first
            check_id = tx.registrations.add(request, decision, reasons, actor=actor, at=at)
            tx.audit.append([AuditEvent(actor, "registration.check", f"registration:{check_id}",
                                        at, {"decision": decision.value,
                                             "reasons": [r.code for r in reasons],
                                             "msisdn": request.msisdn,
                                             "channel_id": request.channel_id,
                                             "staff_id": request.staff_id,
                                             **_statement_detail(statement, retake)})])
        log.info("registrations.checked", check_id=check_id, decision=decision.value,
                 reasons=[r.code for r in reasons])
        appeal = "" if decision in (Decision.ALLOW, Decision.RETAKE) else self.appeal_channel
        return CheckResult(check_id, decision, tuple(reasons), masked(held), appeal, at,
                           statement, retake)

    def statement(self, request: CheckRequest, *, retake: bool = False
                  ) -> StatementCheck | None:
        """The video statement's check for ``request``, or (``retake``) its retake's (None:
        no such transcript was sent)."""
        text = request.retake_transcript if retake else request.transcript
        if text is None:
            return None
        return match(text, self.limits.statement, request.msisdn[-4:])

    def transcribe(self, audio: bytes, sample_rate: int) -> str:
        """The transcript of a video statement's sound (mono 16-bit PCM), by the configured
        speech recogniser; Unavailable when none is configured."""
        if self.transcriber is None:
            raise Unavailable("no speech recogniser is configured: set "
                              "registration.statement_model to the recogniser's model folder "
                              "(docs/registration.md says how to install one)")
        if not audio:
            raise InvalidInput("the audio is empty: send the statement's sound as mono 16-bit "
                               "PCM")
        return self.transcriber.transcribe(audio, sample_rate)

    def _risk(self, request: CheckRequest) -> tuple[RiskRow | None, RiskRow | None]:
        # From the ranking kept in memory: a check never computes it.
        if self.risk is None:
            return None, None
        return (self.risk.get(RiskBy.CHANNEL, request.channel_id),
                self.risk.get(RiskBy.STAFF, request.staff_id))

    def _facts(self, tx: UnitOfWork, request: CheckRequest, held: Mapping[str, datetime],
               sanctions: tuple[Sanction, ...], at: datetime) -> Facts:
        repo = tx.registrations
        suspended = repo.suspension(request.staff_id)
        return Facts(
            held=frozenset(held),
            # The number asked for is counted by the rule itself, even if it is held already.
            cards_30d=sum(1 for m, since in held.items()
                          if since >= at - MONTH and m != request.msisdn),
            staff_hour=repo.count_since("staff_id", request.staff_id, at - HOUR),
            terminal_hour=repo.count_since("terminal_id", request.terminal_id, at - HOUR)
            if request.terminal_id else 0,
            order_24h={k: repo.count_since(k, v, at - DAY)
                       for k, v in request.order.keys().items()},
            sanctions=sanctions,
            staff_suspended=suspended.reason if suspended else "",
        )

    def numbers(self, id_hash: str, *, actor: str) -> tuple[str, ...]:
        """The numbers under an ID (名下号码), masked; the look-up is audited."""
        h = check_id_hash(id_hash)
        lake = self.registry.numbers(h)
        at = self.clock.now()
        with self.store.transaction() as tx:
            held = _held(lake, tx.registrations.granted(h, at - self.pending))
            tx.audit.append([AuditEvent(actor, "registration.numbers", f"id:{h[:12]}", at,
                                        {"count": len(held)})])
        return masked(held)

    def refresh(self) -> None:
        """Re-read the lake's subscribers and sanctions (after an ingest), and recompute the
        channel / staff risk ranking."""
        self.registry.refresh()
        if self.risk is not None:
            self.risk.refresh()

    def warm(self) -> None:
        """Start building the in-memory risk ranking in the background (at service start)."""
        if self.risk is not None:
            self.risk.warm()

    def suspend_staff(self, staff_id: str, *, reason: str, actor: str) -> StaffSuspension:
        """Suspend a staff ID from registering; Conflict if it already is."""
        staff_id, reason = staff_id.strip(), reason.strip()
        if not staff_id or not reason:
            raise InvalidInput("suspending a staff ID needs the ID and a reason")
        at = self.clock.now()
        with self.store.transaction() as tx:
            if tx.registrations.suspension(staff_id) is not None:
                raise Conflict(f"staff ID {staff_id!r} is already suspended; lift it first to "
                               "change the reason")
            s = tx.registrations.suspend(StaffSuspension(staff_id, reason, actor, at))
            tx.audit.append([AuditEvent(actor, "registration.staff_suspend",
                                        f"staff:{staff_id}", at, {"reason": reason})])
        log.info("registrations.staff_suspended", staff_id=staff_id)
        return s

    def lift_staff(self, staff_id: str, *, reason: str, actor: str) -> StaffSuspension:
        """Lift a staff ID's suspension; NotFound if it is not suspended."""
        if not reason.strip():
            raise InvalidInput("lifting a staff suspension needs a reason")
        at = self.clock.now()
        with self.store.transaction() as tx:
            s = tx.registrations.lift(staff_id.strip(), by=actor, at=at)
            tx.audit.append([AuditEvent(actor, "registration.staff_lift",
                                        f"staff:{s.staff_id}", at, {"reason": reason.strip()})])
        log.info("registrations.staff_lifted", staff_id=s.staff_id)
        return s

    def suspended_staff(self, *, include_lifted: bool = False) -> list[StaffSuspension]:
        """Staff suspensions, newest first (in force only, unless ``include_lifted``)."""
        with self.store.transaction(write=False) as tx:
            return tx.registrations.suspensions(active_only=not include_lifted)

    def recent(self, *, decision: str = "", channel_id: str = "", staff_id: str = "",
               before: int | None = None, limit: int = 50) -> list[CheckRecord]:
        """Checks newest first (the registrations page), filtered and paged on by the last id
        seen; the decision is checked to be one of allow, retake, verify, refuse."""
        if decision and decision not in {d.value for d in Decision}:
            raise InvalidInput(f"decision {decision!r}: use allow, retake, verify or refuse")
        with self.store.transaction(write=False) as tx:
            return tx.registrations.recent(decision=decision, channel_id=channel_id,
                                           staff_id=staff_id, before=before, limit=limit)
