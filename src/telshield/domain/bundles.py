"""Clue bundles (线索关联号码): the numbers a trace of a police clue's number ties to it, proposed
as one disposal bundle for an analyst to confirm, in whole or in part, or reject.

A clue names one number; the fraud behind it rarely uses one. The trace finds the numbers
registered on the same ID, used in the same phones, calling from the same cells in the same
hours (a den's ports), working the same victims, or held by the same gang. Each such number is a
*member* of the clue's bundle with its link kinds, evidence and strength. The bundle is proposed,
never acted on by itself: disposal is the analyst's decision (an innocent number can share a
cell or a victim), so a member is disposed only when an analyst confirms it. A bundle is decided
once: proposed -> confirmed (every member), partly confirmed (a chosen subset) or rejected.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from telshield.domain.errors import Conflict, InvalidInput


class BundleStatus(StrEnum):
    """Where a bundle stands."""

    PROPOSED = "proposed"
    CONFIRMED = "confirmed"
    PARTLY_CONFIRMED = "partly_confirmed"
    REJECTED = "rejected"


class MemberDecision(StrEnum):
    """What the analyst decided for one member."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


@dataclass(frozen=True)
class BundleMember:
    """A number tied to the clue's number: its combined strength, link kinds and evidence."""

    msisdn: str
    strength: float
    kinds: tuple[str, ...]
    evidence: tuple[dict[str, Any], ...] = ()
    decision: MemberDecision = MemberDecision.PENDING


@dataclass(frozen=True)
class Bundle:
    """One clue's proposed related numbers and what became of them."""

    clue_id: str
    msisdn: str  # the clue's own number (handled by the liaison's police-ordered block)
    case_ref: str
    members: tuple[BundleMember, ...]
    created_at: datetime
    status: BundleStatus = BundleStatus.PROPOSED
    decided_by: str = ""
    decided_at: datetime | None = None
    note: str = ""
    id: int | None = None

    def decide(self, chosen: Collection[str] | None, *, by: str, at: datetime,
               note: str) -> Bundle:
        """The bundle confirmed for the members in ``chosen`` (None: all of them; empty:
        rejected); the rest are rejected. Conflict if it was decided already, InvalidInput if a
        chosen number is not a member."""
        if self.status is not BundleStatus.PROPOSED:
            raise Conflict(
                f"bundle {self.id} was {self.status.value} by {self.decided_by} at "
                f"{self.decided_at}; a bundle is decided once")
        if not note.strip():
            raise InvalidInput("a decision needs a reason: say why (it is audited)")
        numbers = {m.msisdn for m in self.members}
        pick = numbers if chosen is None else set(chosen)
        unknown = sorted(pick - numbers)
        if unknown:
            raise InvalidInput(f"not members of bundle {self.id}: {unknown[:5]}; see "
                               f"`telshield clues bundles show {self.id}`")
        if not pick:
            status = BundleStatus.REJECTED
        elif pick == numbers:
            status = BundleStatus.CONFIRMED
        else:
            status = BundleStatus.PARTLY_CONFIRMED
        members = tuple(replace(m, decision=MemberDecision.CONFIRMED if m.msisdn in pick
                                else MemberDecision.REJECTED) for m in self.members)
        return replace(self, members=members, status=status, decided_by=by, decided_at=at,
                       note=note.strip())

    @property
    def confirmed(self) -> tuple[str, ...]:
        """The members an analyst confirmed."""
        return tuple(m.msisdn for m in self.members if m.decision is MemberDecision.CONFIRMED)


def parse_status(value: str) -> BundleStatus:
    """The status called ``value`` (raises InvalidInput listing the valid ones)."""
    try:
        return BundleStatus(value)
    except ValueError:
        raise InvalidInput(
            f"unknown bundle status {value!r}; use one of {[s.value for s in BundleStatus]}"
        ) from None
