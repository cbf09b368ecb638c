"""Card-trafficking gangs (开卡贩卡团伙): the cards of a community, what links them, and the law
that scores a community as a gang.

A gang recruits openers who each open several cards under their own ID within days, at a few
colluding stores (staff IDs) or through e-channel orders sharing the gang's delivery addresses,
contact numbers, ordering devices and IPs. Honest life shares attributes too — a family shares
an address, an office NAT an IP, a busy staff ID registers hundreds — but honest people rarely
open several cards each within days. The score therefore weighs *bulk opening* (cards per ID
within days) most, then *cross-ID links* (cards of different IDs tied by an order attribute, a
first phone or a staff ID's burst), then what happened to the cards later (alerts, police clues,
disposals). A community becomes a gang case only with enough cards and IDs, above a threshold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from telshield.domain.errors import InvalidInput


class LinkKind(StrEnum):
    """An attribute two cards share."""

    ID = "id"  # same ID (individual holders), registered within days of each other
    ADDRESS = "address"  # e-channel order delivery address (hashed)
    CONTACT = "contact"  # e-channel order contact number
    DEVICE = "device"  # e-channel ordering device
    IP = "ip"  # e-channel ordering IP
    IMEI = "imei"  # the first phone the card was used in
    STAFF = "staff"  # same staff ID within a short window (a bulk opening)
    TERMINAL = "terminal"  # same terminal within a short window


# Links between cards of different IDs that show collusion (the ID link is the bulk signal).
CROSS_KINDS = frozenset(LinkKind) - {LinkKind.ID}
# Links that alone tie a card to a gang; a staff ID's burst or a shared phone only corroborate.
STRONG_KINDS = frozenset({LinkKind.ID, LinkKind.ADDRESS, LinkKind.CONTACT, LinkKind.DEVICE,
                          LinkKind.IP})


@dataclass(frozen=True)
class GangMember:
    """One card of a gang, with how it was registered and the kinds of link that tie it in."""

    msisdn: str
    id_hash: str
    channel_id: str
    staff_id: str
    registered_at: datetime
    links: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()  # alert / clue / case, from what happened to the card later


@dataclass(frozen=True)
class GangLink:
    """Two member cards, the attribute kinds they share and the link's weight."""

    a: str
    b: str
    kinds: tuple[str, ...]
    weight: float


@dataclass(frozen=True)
class Signals:
    """A community's evidence, in shares of its cards (0..1) and counts."""

    cards: int
    ids: int
    bulk_share: float  # cards whose ID holds another card of the community opened within days
    cross_share: float  # cards linked to a card of another ID (CROSS_KINDS)
    flagged_share: float  # cards later alerted, clued or disposed
    staff_hour_max: int  # most cards one staff ID opened for the community within an hour
    cards_per_id_max: int
    openers: int = 0  # IDs holding two or more of the cards, opened within days


@dataclass(frozen=True)
class ScoreRule:
    """How signals make a score, and what a gang case needs."""

    bulk: float = 0.45
    cross: float = 0.35
    flagged: float = 0.2
    flagged_full: float = 0.3  # a flagged share from which the flagged term counts in full
    threshold: float = 0.5
    min_cards: int = 5
    min_openers: int = 3

    def __post_init__(self) -> None:
        if min(self.bulk, self.cross, self.flagged) < 0 or self.flagged_full <= 0:
            raise InvalidInput("gang score weights must be ≥ 0 and flagged_full > 0; fix [gangs]")
        if self.min_cards < 2 or self.min_openers < 1:
            raise InvalidInput("[gangs] min_cards must be ≥ 2 and min_openers ≥ 1")

    def score(self, s: Signals) -> float:
        """The community's score in 0..1 (0 when it is too small to be a gang)."""
        # A gang recruits several openers who each open several cards within days; a family
        # or an office shares an address or an IP, but its members do not.
        if s.cards < self.min_cards or s.openers < self.min_openers:
            return 0.0
        total = self.bulk + self.cross + self.flagged
        if total == 0:
            return 0.0
        flagged = min(1.0, s.flagged_share / self.flagged_full)
        return (self.bulk * s.bulk_share + self.cross * s.cross_share
                + self.flagged * flagged) / total

    def is_gang(self, s: Signals) -> bool:
        """Whether the community becomes a gang case."""
        return self.score(s) >= self.threshold


@dataclass(frozen=True)
class Gang:
    """A gang case: its member cards, the links among them and the evidence."""

    score: float
    members: tuple[GangMember, ...]
    links: tuple[GangLink, ...]
    signals: Signals
    found_at: datetime
    updated_at: datetime
    status: str = "open"
    id: int | None = None
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def msisdns(self) -> tuple[str, ...]:
        """The member cards' numbers."""
        return tuple(m.msisdn for m in self.members)

    @property
    def staff_ids(self) -> tuple[str, ...]:
        """Staff IDs that opened the cards, busiest first."""
        return _ranked(m.staff_id for m in self.members if m.staff_id)

    @property
    def channels(self) -> tuple[str, ...]:
        """Channels that opened the cards, busiest first."""
        return _ranked(m.channel_id for m in self.members if m.channel_id)

    @property
    def link_counts(self) -> dict[str, int]:
        """How many member pairs share each attribute kind."""
        out: dict[str, int] = {}
        for link in self.links:
            for k in link.kinds:
                out[k] = out.get(k, 0) + 1
        return dict(sorted(out.items()))


def _ranked(values: Any) -> tuple[str, ...]:
    counts: dict[str, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return tuple(sorted(counts, key=lambda k: (-counts[k], k)))


def gang_ref(gang_id: int) -> str:
    """How a gang is named to people and the police (GANG-000012)."""
    return f"GANG-{gang_id:06d}"


def parse_gang_ref(value: str) -> int:
    """A gang's id from ``12`` or ``GANG-000012`` (InvalidInput otherwise)."""
    v = value.strip().upper().removeprefix("GANG-")
    if not v.isdigit() or not 0 < int(v) < 2**53:
        raise InvalidInput(f"gang {value!r} is not a gang id; give a number or GANG-000012 as "
                           "`telshield gangs list` shows it")
    return int(v)
