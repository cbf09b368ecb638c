"""Disposal mechanics: moving cases with their actions, notices, BSS commands, list entries and
audit events in one transaction; bulk disposal of a set; and the outbox relay to the BSS."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import structlog

from telshield.domain.audit import AuditEvent
from telshield.domain.cases import (
    Action,
    ActionKind,
    Case,
    Command,
    CommandKind,
    Policy,
    commands_for,
)
from telshield.domain.errors import Conflict, InvalidInput
from telshield.domain.lists import Colour, ListEntry, Source, TargetKind
from telshield.domain.users import mask_number
from telshield.services.store import Clock, Store, UnitOfWork

log = structlog.get_logger(__name__)


def apply(
    tx: UnitOfWork,
    targets: Sequence[Case],
    kind: ActionKind,
    *,
    actor: str,
    reason: str,
    at: datetime,
    policy: Policy,
    group_ref: str = "",
    opened: frozenset[int | None] = frozenset(),
) -> list[Case]:
    """Move ``targets`` by ``kind`` inside ``tx``: save them, record actions, queue BSS
    commands and notices, keep the blacklist in step, and append one audit event per case
    (which also records the opening of the cases in ``opened``, to halve a bulk's events).
    Raises Conflict (and writes nothing the caller keeps) if any move is illegal."""
    if not reason.strip():
        raise InvalidInput("an action needs a reason: say why, it is shown to the user")
    deadline = policy.deadline(kind, at)
    moved: list[Case] = []
    acts: list[Action] = []
    for c in targets:
        m = c.move_to(kind.target, at=at, deadline=deadline, group_ref=group_ref)
        moved.append(m)
        notice = policy.notice(kind, mask_number(c.msisdn), reason)
        acts.append(Action(int(c.id or 0), kind, actor, at, reason, c.status, m.status,
                           deadline, notice))
    tx.cases.save(moved)
    tx.actions.add(acts)
    # One action per case and instant: (case, kind, time) names it for idempotent replays.
    stamp = at.isoformat()
    commands = [
        Command.of(ck, m.msisdn, action_ref=f"case:{m.id}:{kind.value}:{stamp}", at=at,
                   text=a.notice if ck is CommandKind.NOTIFY else "")
        for m, a in zip(moved, acts, strict=True)
        for ck in commands_for(a.from_status, a.to_status)
    ]
    tx.outbox.add(commands)
    _keep_lists(tx, moved, kind, actor=actor, reason=reason, at=at)
    deadline_text = deadline.isoformat() if deadline else None
    tx.audit.append([
        AuditEvent(actor, f"case.{kind.value}", f"case:{m.id}", at, {
            "msisdn": m.msisdn, "from": a.from_status.value, "to": a.to_status.value,
            "reason": reason, "group_ref": m.group_ref, "deadline": deadline_text,
            **({"opened": True} if m.id in opened else {}),
        })
        for m, a in zip(moved, acts, strict=True)
    ])
    return moved


def _keep_lists(
    tx: UnitOfWork, moved: Sequence[Case], kind: ActionKind, *, actor: str, reason: str,
    at: datetime,
) -> None:
    # A confirmed case blacklists its number; a release lifts the disposal's blacklist entry.
    if kind is ActionKind.CONFIRM:
        version = tx.lists.new_version(actor=actor, note=f"confirm {len(moved)} case(s)", at=at)
        tx.lists.add([
            ListEntry.new(TargetKind.NUMBER, m.msisdn, Colour.BLACK, source=Source.DISPOSAL,
                          reason=f"case {m.id} confirmed: {reason}", actor=actor, at=at)
            for m in moved
        ], version)
    elif kind is ActionKind.RELEASE:
        ids = [e.id for m in moved for e in tx.lists.find(value=m.msisdn, source="disposal")
               if e.id is not None]
        if ids:
            version = tx.lists.new_version(actor=actor, note=f"release {len(moved)} case(s)",
                                           at=at)
            tx.lists.remove(ids, version)


@dataclass(frozen=True)
class BulkResult:
    """What a bulk disposal did."""

    action: ActionKind
    moved: int
    opened: int  # numbers that had no open case and got one
    unchanged: int  # numbers already in the target status


def dispose_bulk(
    store: Store,
    clock: Clock,
    policy: Policy,
    msisdns: Sequence[str],
    kind: ActionKind,
    *,
    actor: str,
    reason: str,
    group_ref: str = "",
) -> BulkResult:
    """Dispose of a set of numbers (a den, a gang, one terminal) in one transaction:
    all of them or, if any move is illegal or anything fails, none."""
    with store.transaction() as tx:
        return dispose_bulk_in(tx, clock.now(), policy, msisdns, kind, actor=actor,
                               reason=reason, group_ref=group_ref)


def dispose_bulk_in(
    tx: UnitOfWork,
    at: datetime,
    policy: Policy,
    msisdns: Sequence[str],
    kind: ActionKind,
    *,
    actor: str,
    reason: str,
    group_ref: str = "",
) -> BulkResult:
    """``dispose_bulk`` inside the caller's transaction ``tx`` (a clue bundle's confirmation
    commits its decision with the disposal): opens the missing cases and moves them all, or
    raises and the caller's transaction keeps nothing."""
    numbers = list(dict.fromkeys(n.strip() for n in msisdns if n.strip()))
    if not numbers:
        raise InvalidInput("no numbers given: pass the den's, gang's or terminal's numbers")
    bad = [n for n in numbers if not n.isdigit() or not 3 <= len(n) <= 15]
    if bad:
        raise InvalidInput(f"not E.164 digit numbers: {bad[:5]} (write 8613812345678, no '+')")
    existing = tx.cases.open_for(numbers)
    fresh = [Case.open(n, tier="bulk", at=at) for n in numbers if n not in existing]
    opened = tx.cases.add(fresh)
    cases = list(existing.values()) + opened
    todo = [c for c in cases if c.status is not kind.target]
    illegal = [c for c in todo if not c.status.can_move_to(kind.target)]
    if illegal:
        raise Conflict(
            f"{len(illegal)} number(s) cannot be moved to {kind.target.value}, e.g. "
            + ", ".join(f"case {c.id} ({c.status.value})" for c in illegal[:5])
            + "; leave them out or act on them first. Nothing was changed."
        )
    apply(tx, todo, kind, actor=actor, reason=reason, at=at, policy=policy,
          group_ref=group_ref, opened=frozenset(c.id for c in opened))
    log.info("disposal.bulk", action=kind.value, moved=len(todo), opened=len(opened),
             group_ref=group_ref)
    return BulkResult(kind, len(todo), len(opened), len(cases) - len(todo))


class Provisioner(Protocol):
    """The operator's BSS: carries out a command; must ignore a key it has already seen."""

    def send(self, command: Command) -> None:
        """Carry out ``command`` (raise to have it retried later)."""
        ...


class InMemoryBss:
    """A BSS in memory that applies each key once: the line state of each number."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.state: dict[str, str] = {}
        self.notices: dict[str, list[str]] = {}

    def send(self, command: Command) -> None:
        """Apply ``command`` unless its key was applied before."""
        if command.key in self.seen:
            return
        self.seen.add(command.key)
        if command.kind is CommandKind.NOTIFY:
            self.notices.setdefault(command.msisdn, []).append(command.text)
        else:
            self.state[command.msisdn] = {"release": "active", "restrict": "restricted",
                                          "suspend": "suspended"}[command.kind.value]


@dataclass(frozen=True)
class RelayResult:
    """What one relay pass did."""

    delivered: int
    failed: int


def relay(store: Store, clock: Clock, bss: Provisioner, *, limit: int = 1000) -> RelayResult:
    """Send pending outbox commands to the BSS, at least once: an attempt is counted before
    sending and delivery marked after, so a crash in between re-sends (the key dedupes)."""
    with store.transaction() as tx:
        batch = tx.outbox.pending(limit)
        tx.outbox.attempted([c.id for c in batch if c.id is not None])
    done: list[int] = []
    failed = 0
    for c in batch:
        try:
            bss.send(c)
        except Exception as e:  # the BSS is outside: any failure means "try again later"
            failed += 1
            log.warning("outbox.send_failed", key=c.key, error=str(e))
            continue
        done.append(int(c.id or 0))
    with store.transaction() as tx:
        tx.outbox.delivered(done, clock.now())
    return RelayResult(len(done), failed)

