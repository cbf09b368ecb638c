"""The disposal workflow (预警处置): alerts open or update cases, the policy acts on them,
disposers act by hand, deadlines escalate by themselves, appeals release."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import IO

import structlog

from telshield.domain.alerts import Alert, AlertVersion, Tier
from telshield.domain.audit import AuditEvent
from telshield.domain.cases import (
    ESCALATION_REASON,
    OFFNET_BLOCK_FROM,
    SEVERITY,
    Action,
    ActionKind,
    Appeal,
    AppealStatus,
    Case,
    CaseStatus,
    Command,
    Evidence,
    OffnetReport,
    Policy,
    offnet_blocks,
)
from telshield.domain.errors import Conflict, InvalidInput
from telshield.domain.numbers import require_canonical
from telshield.services.disposal import BulkResult, apply, dispose_bulk
from telshield.services.offnet import EveryNumberOurs, Holders, screen_offnet
from telshield.services.store import Clock, Page, Store, StoredAlert

log = structlog.get_logger(__name__)

SYSTEM = "system"
OFFNET_COLUMNS = ("operator", "msisdn", "kind", "region", "label", "tier", "score", "screening",
                  "reasons", "first_reported", "updated")


@dataclass(frozen=True)
class PolicyRun:
    """What applying the policy did: numbers per action, cases opened, and numbers we do not
    hold that were listed and reported instead."""

    opened: int
    acted: dict[str, int]
    offnet: int = 0
    held: int = 0  # released numbers whose alert brought no new evidence: left alone


def _tier_rank(tier: str) -> int:
    try:
        return Tier(tier).rank
    except ValueError:
        return -1


def _seen(case: Case | None, alert: Alert) -> Evidence:
    """The evidence of ``case`` (if any) with ``alert``'s added."""
    return Evidence.of(alert) if case is None or case.evidence is None \
        else case.evidence.merge(alert)


class CaseService:
    """Use cases of the disposal workflow; each runs in one transaction with its audit events."""

    def __init__(self, store: Store, clock: Clock, policy: Policy, *,
                 holders: Holders | None = None,
                 offnet_block_from: str = OFFNET_BLOCK_FROM) -> None:
        """``holders`` says which numbers are ours (default: all of them, for a store used
        without feeds); only ours get cases and measures, the others list entries and reports:
        a block from the ``offnet_block_from`` tier up (verify or suspend), a label below."""
        offnet_blocks("suspend", offnet_block_from)  # fail at start-up on a bad tier
        self.store, self.clock, self.policy = store, clock, policy
        self.holders: Holders = holders if holders is not None else EveryNumberOurs()
        self.offnet_block_from = offnet_block_from

    # -- alerts in ---------------------------------------------------------------------------

    def intake(self, alerts: Sequence[Alert], *, apply_policy: bool = True) -> PolicyRun:
        """Store alerts; for our own numbers open a case for each number without one (or update
        its open case) and apply the policy's action for the tier where it is more severe than
        the status; list and report the numbers we do not hold (``services.offnet``)."""
        at = self.clock.now()
        acted: dict[str, int] = {}
        holders = self.holders.of([a.msisdn for a in alerts])
        with self.store.transaction() as tx:
            stored = tx.alerts.upsert(alerts)
            latest = {a.msisdn: (a, u) for a, u in zip(alerts, stored, strict=True)}
            alert_of = {m: au for m, au in latest.items() if holders[m].own}
            offnet = screen_offnet(
                tx, [(a, u.id, holders[m]) for m, (a, u) in latest.items() if not holders[m].own],
                at=at, days=self.policy.offnet_days, block_from=self.offnet_block_from)
            existing = tx.cases.open_for(list(alert_of))
            released = tx.cases.last_released([m for m in alert_of if m not in existing])
            # A release holds until new evidence (Art. 32): the same behaviour seen again after
            # an appeal or re-verification released the number opens no case and acts on nothing.
            held = {m for m, c in released.items() if c.evidence is not None
                    and not c.evidence.is_new(alert_of[m][0],
                                              margin=self.policy.new_evidence_margin)}
            fresh = [Case.open(m, tier=a.tier.value, at=at, alert_id=u.id,
                               evidence=_seen(released.get(m), a))
                     for m, (a, u) in alert_of.items() if m not in existing and m not in held]
            opened = tx.cases.add(fresh)
            # An open case whose alert did not change has nothing new to act on: detection run
            # again over the same period changes nothing (not even a disposer's step back).
            updated = [
                replace(c, alert_id=alert_of[m][1].id, updated_at=at,
                        tier=max(c.tier, alert_of[m][0].tier.value, key=_tier_rank),
                        evidence=_seen(c, alert_of[m][0]))
                for m, c in existing.items() if alert_of[m][1].changed
            ]
            tx.cases.save(updated)
            tx.audit.append(
                [AuditEvent(SYSTEM, "case.open", f"case:{c.id}", at,
                            {"msisdn": c.msisdn, "tier": c.tier, "alert_id": c.alert_id})
                 for c in opened]
                + [AuditEvent(SYSTEM, "case.alert", f"case:{c.id}", at,
                              {"msisdn": c.msisdn, "tier": c.tier, "alert_id": c.alert_id,
                               "alert_version": alert_of[c.msisdn][1].version})
                   for c in updated]
            )
            if apply_policy:
                by_action: dict[ActionKind, list[Case]] = {}
                for c in opened + updated:
                    kind = self.policy.action_for(c.tier)
                    if kind is not None and SEVERITY[kind.target] > SEVERITY[c.status] \
                            and c.status.can_move_to(kind.target):
                        by_action.setdefault(kind, []).append(c)
                for kind, cs in by_action.items():
                    why = f"alert tier {cs[0].tier}: disposal policy"
                    apply(tx, cs, kind, actor=SYSTEM, reason=why, at=at, policy=self.policy)
                    acted[kind.value] = len(cs)
        log.info("cases.intake", alerts=len(alerts), opened=len(opened), acted=acted,
                 offnet=offnet.reported, held=len(held))
        return PolicyRun(len(opened), acted, len(latest) - len(alert_of), len(held))

    # -- disposers act -----------------------------------------------------------------------

    def act(self, case_id: int, kind: ActionKind, *, actor: str, reason: str) -> Case:
        """Take one action on one case (Conflict if the state machine forbids it)."""
        with self.store.transaction() as tx:
            case = tx.cases.get(case_id)
            (moved,) = apply(tx, [case], kind, actor=actor, reason=reason,
                             at=self.clock.now(), policy=self.policy)
        log.info("case.acted", case_id=case_id, action=kind.value, actor=actor)
        return moved

    def bulk(self, msisdns: Sequence[str], kind: ActionKind, *, actor: str, reason: str,
             group_ref: str = "") -> BulkResult:
        """Dispose of a set of numbers in one transaction (all or nothing); Conflict if any of
        them is not ours (measures and BSS commands are for our own subscribers only)."""
        # One number law on every face: a full-width or '+' spelling would be a BSS command
        # for a number that does not exist, so it is refused with the canonical form.
        wanted = [require_canonical(n, what="msisdn") for n in msisdns]
        others = [m for m, h in self.holders.of(wanted).items() if not h.own]
        if others:
            raise Conflict(
                f"{len(others)} number(s) are not our subscribers, e.g. {', '.join(others[:5])}: "
                "only our own numbers can be verified, restricted or suspended. Leave them out, "
                "and block them instead (telshield lists add number N black --source manual "
                "--reason ...). Nothing was changed.")
        return dispose_bulk(self.store, self.clock, self.policy, msisdns, kind, actor=actor,
                            reason=reason, group_ref=group_ref)

    def verified(self, case_id: int, *, actor: str, note: str = "") -> Case:
        """The user re-verified their real name: the measure is lifted at once."""
        why = "real name re-verified" + (f": {note}" if note else "")
        return self.act(case_id, ActionKind.RELEASE, actor=actor, reason=why)

    def escalate_overdue(self) -> dict[str, int]:
        """Suspend every case whose verification or restriction deadline has passed."""
        at = self.clock.now()
        with self.store.transaction() as tx:
            late = tx.cases.overdue(at, [CaseStatus.VERIFYING, CaseStatus.RESTRICTED])
            if late:
                apply(tx, late, ActionKind.SUSPEND, actor=SYSTEM, at=at, policy=self.policy,
                      reason=ESCALATION_REASON)
        log.info("cases.escalated", suspended=len(late))
        return {"suspend": len(late)}

    # -- appeals -----------------------------------------------------------------------------

    def file_appeal(self, case_id: int, *, reason: str, documents: Sequence[str], actor: str
                    ) -> Appeal:
        """Record a user's appeal with its documents."""
        if not reason.strip():
            raise InvalidInput("an appeal needs the user's reason")
        at = self.clock.now()
        with self.store.transaction() as tx:
            case = tx.cases.get(case_id)
            if case.status in (CaseStatus.OPEN, CaseStatus.RELEASED):
                raise Conflict(f"case {case_id} is {case.status.value}: there is no measure "
                               "to appeal against")
            if tx.appeals.find(case_id=case_id, status=AppealStatus.PENDING.value):
                raise Conflict(f"case {case_id} already has a pending appeal; decide it first")
            appeal = tx.appeals.add(Appeal(case_id, reason.strip(), tuple(documents), at, actor))
            tx.audit.append([AuditEvent(actor, "appeal.file", f"case:{case_id}", at, {
                "appeal_id": appeal.id, "msisdn": case.msisdn, "reason": appeal.reason,
                "documents": list(appeal.documents)})])
        return appeal

    def decide_appeal(self, appeal_id: int, *, passed: bool, actor: str, reason: str
                      ) -> Appeal:
        """Decide an appeal; one that passes releases the number at once."""
        if not reason.strip():
            raise InvalidInput("a decision needs a reason: it is told to the user")
        at = self.clock.now()
        with self.store.transaction() as tx:
            appeal = tx.appeals.get(appeal_id).decide(passed, by=actor, at=at, reason=reason)
            tx.appeals.save(appeal)
            tx.audit.append([AuditEvent(actor, "appeal.decide", f"case:{appeal.case_id}", at, {
                "appeal_id": appeal_id, "outcome": appeal.status.value, "reason": reason})])
            if passed:
                case = tx.cases.get(appeal.case_id)
                if not case.status.closed or case.status is CaseStatus.CONFIRMED:
                    apply(tx, [case], ActionKind.RELEASE, actor=actor, at=at,
                          reason=f"appeal {appeal_id} passed: {reason}", policy=self.policy)
        return appeal

    # -- reading -----------------------------------------------------------------------------

    def summary(self) -> dict[str, dict[str, int]]:
        """Cases per status and actions per kind, for people and dashboards."""
        with self.store.transaction(write=False) as tx:
            return {"cases": tx.cases.counts(), "actions": tx.actions.counts()}

    def get(self, case_id: int) -> Case:
        """One case."""
        with self.store.transaction(write=False) as tx:
            return tx.cases.get(case_id)

    def find(self, *, msisdn: str = "", status: str = "", group_ref: str = "",
             page: Page = Page()) -> list[Case]:
        """Cases, newest first."""
        if status and status not in {s.value for s in CaseStatus}:
            raise InvalidInput(f"unknown status {status!r}; use one of "
                               f"{[s.value for s in CaseStatus]}")
        with self.store.transaction(write=False) as tx:
            return tx.cases.find(msisdn=msisdn, status=status, group_ref=group_ref, page=page)

    def numbers(self, status: CaseStatus, *, batch: int = 10_000) -> set[str]:
        """Every number whose case stands at ``status`` (e.g. the labels a model learns from:
        confirmed fraud, released on appeal or re-verification)."""
        out: set[str] = set()
        offset = 0
        while True:
            page = self.find(status=status.value, page=Page(batch, offset))
            out.update(c.msisdn for c in page)
            if len(page) < batch:
                return out
            offset += batch

    def actions(self, *, case_id: int | None = None, kind: str = "", page: Page = Page()
                ) -> list[Action]:
        """Actions, newest first."""
        with self.store.transaction(write=False) as tx:
            return tx.actions.find(case_id=case_id, kind=kind, page=page)

    def appeals(self, *, case_id: int | None = None, status: str = "", page: Page = Page()
                ) -> list[Appeal]:
        """Appeals, newest first."""
        with self.store.transaction(write=False) as tx:
            return tx.appeals.find(case_id=case_id, status=status, page=page)

    def outbox(self, *, msisdn: str = "", pending_only: bool = False, page: Page = Page()
               ) -> list[Command]:
        """Provisioning commands, oldest first."""
        with self.store.transaction(write=False) as tx:
            return tx.outbox.find(msisdn=msisdn, pending_only=pending_only, page=page)

    def offnet(self, *, party: str = "", since: datetime | None = None, page: Page = Page()
               ) -> list[OffnetReport]:
        """Report lines on suspected numbers we do not hold, most recently changed first."""
        with self.store.transaction(write=False) as tx:
            return tx.offnet.find(party=party, since=since, page=page)

    def offnet_screening(self, line: OffnetReport) -> str:
        """What screening does with the calls of ``line``'s number: ``block`` or ``label``."""
        return "block" if line.is_blocked(self.offnet_block_from) else "label"

    def export_offnet(self, out: IO[str], *, party: str = "", since: datetime | None = None
                      ) -> int:
        """Write the report lines (of ``party``, changed since ``since``) as CSV for the
        operators they belong to; returns the number of lines."""
        w = csv.writer(out)
        w.writerow(OFFNET_COLUMNS)
        n, offset = 0, 0
        while True:
            page = self.offnet(party=party, since=since, page=Page(1000, offset))
            for x in page:
                w.writerow([x.party, x.msisdn, x.kind, x.region, x.label, x.tier,
                            f"{x.score:.3f}", self.offnet_screening(x),
                            " ".join(x.reasons), x.first_at.isoformat(sep=" "),
                            x.updated_at.isoformat(sep=" ")])
            n += len(page)
            if len(page) < 1000:
                return n
            offset += 1000

    def alert_history(self, msisdn: str) -> list[AlertVersion]:
        """Every version of a number's alert, oldest first (what changed and when)."""
        with self.store.transaction(write=False) as tx:
            return tx.alerts.versions(msisdn)

    def alerts(self, *, msisdn: str = "", tier: str = "", open_only: bool = False,
               page: Page = Page(), before: int | None = None) -> list[StoredAlert]:
        """Alerts, newest first (``before``: ids below it, for keyset paging)."""
        with self.store.transaction(write=False) as tx:
            return tx.alerts.find(msisdn=msisdn, tier=tier, open_only=open_only, page=page,
                                  before=before)


class CaseAlertSink:
    """The AlertSink seam for detection runs: every batch of alerts goes through intake."""

    def __init__(self, cases: CaseService, *, apply_policy: bool = True) -> None:
        self.cases, self.apply_policy = cases, apply_policy

    def upsert(self, alerts: Sequence[Alert]) -> None:
        """Store the alerts and open or update their cases."""
        self.cases.intake(alerts, apply_policy=self.apply_policy)

    def open_alerts(self) -> list[Alert]:
        """The open alert of every number."""
        with self.cases.store.transaction(write=False) as tx:
            return tx.alerts.open_alerts()
