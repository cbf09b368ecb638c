"""Suspected numbers we do not hold (其他运营商号码、固话、服务号码、境外号码).

Disposal — re-verification, restriction, suspension and the BSS commands and texts that carry
them out — acts only on our own subscribers: we cannot restrict another operator's mobile, and a
"your number has been restricted" text sent to a bank's service number or a landline reaches
nobody it concerns. A suspected number we do not hold gets what we *can* do instead:

- a screening entry (source ``detection``): a block (black) from the tier at which blocking
  starts up (verify when screening refuses our own numbers under re-verification, else
  suspend: ``domain.cases.offnet_blocks``), a label (grey) below it, expiring after
  ``Policy.offnet_days`` unless the number is alerted again; whitelists and police orders
  still win (the list law in ``domain.lists``);
- a report line for the operator it belongs to (one per number, updated in place), which the
  disposal operator exports and sends on (``telshield cases offnet``).

Who is ours comes from the ``subscribers`` feed (a SIM registered with us, not cancelled); the
numbering plan says whom the others belong to.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

import structlog

from telshield.domain.alerts import Alert, Tier
from telshield.domain.audit import AuditEvent
from telshield.domain.cases import Holder, OffnetReport, offnet_blocks
from telshield.domain.lists import Colour, ListEntry, Source, TargetKind
from telshield.domain.numbers import NumberingPlan, classify
from telshield.services.store import UnitOfWork

log = structlog.get_logger(__name__)

SYSTEM = "system"


class Holders(Protocol):
    """Says who holds each number: one of our subscribers or someone else."""

    def of(self, msisdns: Sequence[str]) -> dict[str, Holder]:
        """The holder of every number in ``msisdns``."""
        ...


class EveryNumberOurs:
    """Holders for a store used without feeds (tests, tools): every number is ours."""

    def of(self, msisdns: Sequence[str]) -> dict[str, Holder]:
        """Every number as one of our subscribers."""
        return {m: Holder(m, own=True) for m in msisdns}


class InMemoryHolders:
    """Holders from a set of our numbers; the others are described by ``describe``."""

    def __init__(self, own: Iterable[str],
                 describe: Callable[[str], Holder] | None = None) -> None:
        self.own = frozenset(own)
        self.describe = describe or (lambda m: Holder(m, own=False))

    def of(self, msisdns: Sequence[str]) -> dict[str, Holder]:
        """Ours if in the set, otherwise as ``describe`` says."""
        return {m: Holder(m, own=True) if m in self.own else self.describe(m) for m in msisdns}


def describe(number: str, plan: NumberingPlan) -> Holder:
    """A number we do not hold, as the numbering plan describes it."""
    info = classify(number, plan)
    return Holder(number, own=False, operator=info.operator.value, kind=info.kind.value,
                  region=(info.province or "") if info.country in (None, "CN")
                  else (info.country or ""),
                  label=info.label or "")


@dataclass(frozen=True)
class OffnetRun:
    """What the off-net handling of one intake did."""

    reported: int  # numbers whose report line was opened or changed
    blocked: int  # screening blocks added
    labelled: int  # screening labels added


def screen_offnet(tx: UnitOfWork, alerts: Sequence[tuple[Alert, int, Holder]], *, at: datetime,
                  days: int, block_from: str) -> OffnetRun:
    """Inside ``tx``: give each suspected number we do not hold a screening entry (block from the
    ``block_from`` tier up, label below; never weakened) and a report line for its operator,
    with audit events. An entry still in force of the same or a stronger colour is kept as it
    is."""
    if not alerts:
        return OffnetRun(0, 0, 0)
    numbers = [a.msisdn for a, _, _ in alerts]
    lines = tx.offnet.for_numbers(numbers)
    new_entries: list[ListEntry] = []
    stale: list[int] = []
    changed: list[OffnetReport] = []
    for a, alert_id, h in alerts:
        old = lines.get(a.msisdn)
        tier = a.tier.value if old is None else max(old.tier, a.tier.value,
                                                    key=lambda t: Tier(t).rank)
        colour = Colour.BLACK if offnet_blocks(tier, block_from) else Colour.GREY
        mine = [e for e in tx.lists.find(value=a.msisdn, kind="number", source="detection")
                if e.active(at)]
        keep = next((e for e in mine if e.colour is colour or e.colour is Colour.BLACK), None)
        if keep is None:
            stale += [e.id for e in mine if e.id is not None]
            new_entries.append(ListEntry.new(
                TargetKind.NUMBER, a.msisdn, colour, source=Source.DETECTION, actor=SYSTEM, at=at,
                expires_at=at + timedelta(days=days),
                reason=f"alert tier {tier} on a number we do not hold ({h.party}): reported",
            ))
        line = OffnetReport(
            a.msisdn, h.party, h.kind, h.region, tier, float(a.score),
            tuple(r.code for r in a.reasons), old.first_at if old else at, at, alert_id,
            keep.id if keep else None, h.label, old.id if old else None)
        if old is None or keep is None or _differs(old, line):
            changed.append(line)
    if new_entries or stale:
        version = tx.lists.new_version(actor=SYSTEM, at=at,
                                       note=f"off-net alerts: {len(new_entries)} entr(ies)")
        if stale:
            tx.lists.remove(stale, version)
        added = {e.value: e for e in tx.lists.add(new_entries, version)}
        changed = [replace(x, list_entry_id=added[x.msisdn].id) if x.msisdn in added else x
                   for x in changed]
        tx.audit.append([AuditEvent(SYSTEM, "list.add", f"list:v{version}", at, {
            "version": version, "added": len(added), "removed": len(stale),
            "source": "detection", "why": "off-net alerts"})])
    tx.offnet.save(changed)
    tx.audit.append([
        AuditEvent(SYSTEM, "offnet.report", f"number:{x.msisdn}", at, {
            "party": x.party, "kind": x.kind, "tier": x.tier, "score": x.score,
            "alert_id": x.alert_id, "list_entry_id": x.list_entry_id})
        for x in changed])
    blocked = sum(e.colour is Colour.BLACK for e in new_entries)
    log.info("offnet.screened", reported=len(changed), blocked=blocked,
             labelled=len(new_entries) - blocked)
    return OffnetRun(len(changed), blocked, len(new_entries) - blocked)


def _differs(old: OffnetReport, new: OffnetReport) -> bool:
    return (old.tier, round(old.score, 6), old.reasons, old.list_entry_id, old.party) != (
        new.tier, round(new.score, 6), new.reasons,
        new.list_entry_id if new.list_entry_id is not None else old.list_entry_id, new.party)
