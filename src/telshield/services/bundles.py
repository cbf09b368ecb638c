"""Clue bundles (线索关联号码): when a police clue arrives, trace its number and propose the
numbers tied to it as one disposal bundle; an analyst confirms it (whole or a chosen subset) or
rejects it.

The liaison blocks the clue's own number (a police-ordered block, ``services.liaison``); the
fraud behind the clue uses more numbers than that one: the den's other ports, the gang's other
cards, the other SIMs registered on the same ID or used in the same phone, the numbers working
the same victims. The trace (``services.trace``) finds them with evidence and a strength; this
service keeps the ones strong enough (``[clues] bundle_min_strength``, at most
``bundle_max_members``) as one bundle per clue, idempotent (the clue id is unique), audited.

Nothing is disposed until an analyst decides: a shared cell or a shared victim can tie an
innocent number. Confirming moves the chosen members that are our subscribers by the chosen
action through the same bulk disposal a den or a gang uses (cases opened where missing), and
stores the decision, in one transaction with their audit events under the analyst's name. The
chosen numbers of other operators are returned for the police and those operators.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from telshield.domain.audit import AuditEvent
from telshield.domain.bundles import Bundle, BundleMember, BundleStatus
from telshield.domain.cases import ActionKind
from telshield.domain.errors import InvalidInput, NotFound
from telshield.domain.numbers import require_canonical
from telshield.domain.paging import Page
from telshield.services.cases import CaseService
from telshield.services.disposal import BulkResult, dispose_bulk_in
from telshield.services.lakeread import FeedReader
from telshield.services.trace import Link, Trace, TraceService

log = structlog.get_logger(__name__)


def bundle_ref(bundle_id: int) -> str:
    """The group reference a bundle's disposals carry (shown on the cases)."""
    return f"bundle-{bundle_id}"


@dataclass(frozen=True)
class ProposeResult:
    """What one pass over the clues did."""

    clues: int  # clues reported in the period
    proposed: int  # bundles created
    already: int  # clues that had a bundle
    invalid: int  # clues whose number cannot be traced (logged)
    members: int  # numbers proposed, over the new bundles


@dataclass(frozen=True)
class Decided:
    """A decided bundle, what its disposal did, and the chosen numbers that are not ours."""

    bundle: Bundle
    disposal: BulkResult | None
    others: tuple[str, ...]


def members_of(links: tuple[Link, ...], *, min_strength: float, limit: int
               ) -> tuple[BundleMember, ...]:
    """The trace's links strong enough to propose, strongest first, at most ``limit``."""
    out = []
    for x in links:
        if x.strength < min_strength:
            continue
        evidence: tuple[dict[str, Any], ...] = tuple(
            {"kind": e.kind, "value": e.value, "strength": e.strength, "via": e.via}
            for e in x.evidence)
        out.append(BundleMember(msisdn=x.msisdn, strength=x.strength,
                                kinds=tuple(sorted({e.kind for e in x.evidence})),
                                evidence=evidence))
    return tuple(out[:limit])


class BundleService:
    """Propose, list and decide clue bundles."""

    def __init__(self, cases: CaseService, tracer: TraceService, reader: FeedReader, *,
                 min_strength: float = 0.5, max_members: int = 30, depth: int = 2) -> None:
        self.cases, self.tracer, self.reader = cases, tracer, reader
        self.store, self.clock = cases.store, cases.clock
        self.min_strength, self.max_members, self.depth = min_strength, max_members, depth

    # -- proposing ----------------------------------------------------------------------------

    def propose_clues(self, since: datetime | None, until: datetime, *,
                      actor: str) -> ProposeResult:
        """A bundle for every clue reported in [since, until) (feed time) that has none."""
        clues = self.reader.table("clues", since, until)
        return self._propose(clues, actor=actor)

    def propose(self, clue_id: str, *, actor: str) -> Bundle:
        """The bundle of one clue, made now if it has none (on demand); NotFound for a clue
        the clues feed does not hold."""
        clue_id = clue_id.strip()
        if not clue_id:
            raise InvalidInput("give a clue id, as in the clues feed's clue_id column")
        t = self.reader.table("clues")
        self._propose(t.filter(t.clue_id == clue_id), actor=actor)
        with self.store.transaction(write=False) as tx:
            got = tx.bundles.find_clue(clue_id)
            if got is None:
                raise NotFound(f"clue {clue_id!r} is not in the clues feed; ingest it first "
                               "(telshield ingest clues FILE)")
            return tx.bundles.get(got)

    def _propose(self, clues: Any, *, actor: str) -> ProposeResult:
        rows = self.reader.con.to_pyarrow(
            clues.select("clue_id", "reported_at", "msisdn", "case_ref")
            .order_by(["reported_at", "clue_id"])).to_pylist()
        if not rows:
            return ProposeResult(0, 0, 0, 0, 0)
        with self.store.transaction(write=False) as tx:
            done = tx.bundles.clue_ids(sorted({str(r["clue_id"]) for r in rows}))
        proposed = already = invalid = members = 0
        todo: list[dict[str, Any]] = []
        for r in rows:
            clue_id = str(r["clue_id"])
            if clue_id in done:
                already += 1
                continue
            done.add(clue_id)
            todo.append(r)
        traces = self._traces([str(r["msisdn"]) for r in todo], actor=actor)
        for r in todo:
            clue_id = str(r["clue_id"])
            try:
                b = self.bundle_clue(clue_id, str(r["msisdn"]), str(r["case_ref"] or ""),
                                     actor=actor, trace=traces.get(str(r["msisdn"])))
            except InvalidInput as e:
                invalid += 1
                log.warning("bundles.clue_invalid", clue_id=clue_id, error=str(e))
                continue
            proposed += 1
            members += len(b.members)
        log.info("bundles.proposed", clues=len(rows), proposed=proposed, already=already,
                 invalid=invalid, members=members)
        return ProposeResult(len(rows), proposed, already, invalid, members)

    def _traces(self, numbers: list[str], *, actor: str) -> dict[str, Trace]:
        """The traces of the clues' valid numbers in one batch (the invalid ones are left to
        ``bundle_clue`` to report)."""
        valid = []
        for n in dict.fromkeys(numbers):
            try:
                valid.append(require_canonical(n, what="number"))
            except InvalidInput:
                continue
        if not valid:
            return {}
        return {t.number: t for t in self.tracer.trace_many(valid, actor=actor,
                                                             depth=self.depth)}

    def bundle_clue(self, clue_id: str, msisdn: str, case_ref: str, *, actor: str,
                    trace: Trace | None = None) -> Bundle:
        """Trace one clue's number (or take ``trace``, its trace made in a batch) and store its
        bundle with the audit event (Conflict if the clue has one; InvalidInput if its number
        is not an E.164 number)."""
        if trace is None:
            trace = self.tracer.trace(msisdn, actor=actor, depth=self.depth)
        found = members_of(trace.links, min_strength=self.min_strength, limit=self.max_members)
        at = self.clock.now()
        with self.store.transaction() as tx:
            b = tx.bundles.add(Bundle(clue_id=clue_id, msisdn=trace.number, case_ref=case_ref,
                                      members=found, created_at=at))
            tx.audit.append([AuditEvent(actor, "bundle.propose", f"bundle:{b.id}", at, {
                "clue_id": clue_id, "msisdn": trace.number, "members": len(found),
                "min_strength": self.min_strength})])
        return b

    # -- reading ------------------------------------------------------------------------------

    def list(self, *, status: BundleStatus | None = None, page: Page = Page()
             ) -> list[tuple[Bundle, int]]:
        """Bundles, newest first, each with its number of members."""
        with self.store.transaction(write=False) as tx:
            found = tx.bundles.find(status=status, page=page)
            sizes = tx.bundles.sizes([int(b.id or 0) for b in found])
        return [(b, sizes.get(int(b.id or 0), 0)) for b in found]

    def get(self, bundle_id: int) -> Bundle:
        """One bundle with its members; NotFound if absent."""
        with self.store.transaction(write=False) as tx:
            return tx.bundles.get(bundle_id)

    # -- deciding -----------------------------------------------------------------------------

    def confirm(self, bundle_id: int, *, actor: str, reason: str,
                members: Collection[str] | None = None,
                kind: ActionKind = ActionKind.VERIFY) -> Decided:
        """Confirm a bundle (``members``: a chosen subset; None: all) and dispose of the chosen
        numbers that are ours by ``kind``, in one transaction with the audit events; the rest
        of the members are rejected. Conflict if it was decided, or a move is illegal."""
        if members is not None and not members:
            raise InvalidInput("no members chosen: name at least one, or reject the bundle")
        at = self.clock.now()
        with self.store.transaction() as tx:
            decided = tx.bundles.get(bundle_id).decide(members, by=actor, at=at, note=reason)
            chosen = list(decided.confirmed)
            holders = self.cases.holders.of(chosen) if chosen else {}
            ours = [m for m in chosen if holders[m].own]
            others = tuple(m for m in chosen if not holders[m].own)
            result = None
            if ours:
                result = dispose_bulk_in(
                    tx, at, self.cases.policy, ours, kind, actor=actor,
                    reason=f"clue {decided.clue_id} bundle: {reason.strip()}",
                    group_ref=bundle_ref(bundle_id))
            tx.bundles.decide(decided)
            tx.audit.append([AuditEvent(actor, "bundle.confirm", f"bundle:{bundle_id}", at, {
                "clue_id": decided.clue_id, "status": decided.status.value,
                "action": kind.value, "confirmed": chosen, "others": list(others),
                "reason": decided.note})])
        log.info("bundles.confirmed", bundle_id=bundle_id, status=decided.status.value,
                 confirmed=len(chosen), ours=len(ours), action=kind.value)
        return Decided(decided, result, others)

    def reject(self, bundle_id: int, *, actor: str, reason: str) -> Bundle:
        """Reject every member of a bundle (nothing is disposed); audited."""
        at = self.clock.now()
        with self.store.transaction() as tx:
            decided = tx.bundles.get(bundle_id).decide((), by=actor, at=at, note=reason)
            tx.bundles.decide(decided)
            tx.audit.append([AuditEvent(actor, "bundle.reject", f"bundle:{bundle_id}", at, {
                "clue_id": decided.clue_id, "members": len(decided.members),
                "reason": decided.note})])
        return decided
