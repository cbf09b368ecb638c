"""Redress against a screening decision (Art. 32): the person whose call was rejected quotes the
decision id the 608 carried, and the appeal goes where the measure that blocked the number is.

- The number has a case with a measure on it (verifying, restricted, suspended, or confirmed
  and blacklisted): the appeal is filed on that case (``CaseService.file_appeal``), the
  decision id among its documents, and disposers decide it like any appeal.
- No such case, but a list entry covers the number (a manual or partner blacklist, a grey
  entry, a police order): a list entry has no appeal of its own and only a person changes it,
  so the appeal is recorded as an audit event on the entry (``appeal.list_entry``, subject
  ``list-appeals``), which disposers read with ``list_entry_appeals`` and answer by hand —
  lifting the entry, or telling the person why it stays (a police order goes back to the unit
  that gave it).
- Neither: what stopped the call was the call itself (a spoofed caller ID, velocity, a device
  class) and nothing stands against the number now: Conflict, saying so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import structlog

from telshield.domain.audit import AuditEvent, ChainedEvent
from telshield.domain.cases import CaseStatus
from telshield.domain.errors import Conflict, InvalidInput
from telshield.domain.lists import Colour
from telshield.domain.users import mask_number
from telshield.services.cases import CaseService
from telshield.services.lists import ListService
from telshield.services.store import Clock, Store

log = structlog.get_logger(__name__)

LIST_APPEALS = "list-appeals"  # the audit subject of appeals against list entries
_MEASURES = (CaseStatus.VERIFYING, CaseStatus.RESTRICTED, CaseStatus.SUSPENDED,
             CaseStatus.CONFIRMED)


@dataclass(frozen=True)
class RedressAppeal:
    """Where an appeal against a decision went: a case's appeal, or a list entry's record."""

    decision_id: str
    msisdn: str
    kind: str  # "case" or "list_entry"
    at: datetime
    case_id: int | None = None
    appeal_id: int | None = None
    entry_id: int | None = None


class RedressService:
    """Appeals against screening decisions, filed where the blocking measure is."""

    def __init__(self, store: Store, clock: Clock, cases: CaseService,
                 lists: ListService) -> None:
        self.store, self.clock, self.cases, self.lists = store, clock, cases, lists

    def appeal(self, msisdn: str, *, decision_id: str, decided: Sequence[str], reason: str,
               actor: str, documents: Sequence[str] = ()) -> RedressAppeal:
        """File the appeal of the number ``msisdn`` against decision ``decision_id`` (whose
        reasons were ``decided``) on its case, else record it on its list entry."""
        if not reason.strip():
            raise InvalidInput("an appeal needs the user's reason")
        case = next((c for c in self.cases.find(msisdn=msisdn) if c.status in _MEASURES), None)
        if case is not None and case.id is not None:
            a = self.cases.file_appeal(case.id, reason=reason,
                                       documents=(f"decision:{decision_id}", *documents),
                                       actor=actor)
            return RedressAppeal(decision_id, msisdn, "case", a.filed_at, case_id=case.id,
                                 appeal_id=a.id)
        entry = self.lists.decide(msisdn)
        if entry is None or entry.id is None or entry.colour is Colour.WHITE:
            raise Conflict(
                f"nothing stands against {mask_number(msisdn)} now (no case with a measure, no "
                f"list entry): decision {decision_id} ({', '.join(decided) or 'no reason'}) "
                "judged the call itself (its caller ID, its rate or its device), or the "
                "measure has been lifted since")
        at = self.clock.now()
        with self.store.transaction() as tx:
            tx.audit.append([AuditEvent(actor, "appeal.list_entry", LIST_APPEALS, at, {
                "decision_id": decision_id, "msisdn": msisdn, "entry_id": entry.id,
                "entry": f"{entry.kind.value} {entry.value}", "colour": entry.colour.value,
                "source": entry.source.value, "police_ordered": entry.police_ordered,
                "decided": list(decided), "reason": reason.strip(),
                "documents": list(documents)})])
        log.info("redress.list_entry", decision_id=decision_id, entry_id=entry.id)
        return RedressAppeal(decision_id, msisdn, "list_entry", at, entry_id=entry.id)

    def list_entry_appeals(self, *, after: int = 0, limit: int = 100) -> list[ChainedEvent]:
        """Appeals recorded against list entries, oldest first (after audit seq ``after``)."""
        with self.store.transaction(write=False) as tx:
            return tx.audit.read(after=after, limit=limit, subject=LIST_APPEALS)
