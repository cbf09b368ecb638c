"""Black, white and grey list entries (黑白名单) and the law of which one wins."""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from telshield.domain.clock import store_time
from telshield.domain.errors import InvalidInput
from telshield.domain.numbers import require_canonical

_IMEI = re.compile(r"^[0-9]{14,16}$")
_HASH = re.compile(r"^[0-9a-f]{64}$")


class Colour(StrEnum):
    """What a list entry asks of the network."""

    BLACK = "black"
    WHITE = "white"
    GREY = "grey"


class TargetKind(StrEnum):
    """What an entry names: one number, a prefix, a range of numbers, an IMEI or an ID hash."""

    NUMBER = "number"
    PREFIX = "prefix"
    RANGE = "range"
    IMEI = "imei"
    ID_HASH = "id_hash"


class Source(StrEnum):
    """Where an entry came from."""

    POLICE = "police"  # a police clue or order
    DETECTION = "detection"
    DISPOSAL = "disposal"
    MANUAL = "manual"
    PARTNER = "partner"  # another operator


def check_target(kind: TargetKind, value: str, value_end: str = "") -> None:
    """Raise InvalidInput unless ``value`` (and ``value_end`` for a range) suits ``kind``.
    Numbers, prefixes and range ends must already be canonical (``numbers.require_canonical``):
    a second spelling of a listed number would be a second entry that screening reads as the
    same integer (a white '086...' beside a black '86...' answered allow)."""
    if kind is TargetKind.NUMBER:
        require_canonical(value)
        ok = True
    elif kind is TargetKind.PREFIX:
        require_canonical(value, what="prefix", prefix=True)
        ok = True
    elif kind is TargetKind.RANGE:
        require_canonical(value, what="range start")
        require_canonical(value_end, what="range end")
        ok = len(value) == len(value_end) and value <= value_end
    elif kind is TargetKind.IMEI:
        ok = bool(_IMEI.match(value))
    else:
        ok = bool(_HASH.match(value))
    if not ok:
        raise InvalidInput(
            f"{value!r}{'..' + value_end if value_end else ''} is not a valid {kind.value}: "
            "numbers are E.164 digits without '+', a range is two numbers of equal length "
            "low..high, an IMEI has 14-16 digits, an ID hash is 64 lowercase hex digits"
        )


@dataclass(frozen=True)
class ListEntry:
    """One list entry. Entries are immutable: a change is a new entry at a new list version."""

    kind: TargetKind
    value: str
    colour: Colour
    source: Source
    reason: str
    actor: str
    created_at: datetime
    expires_at: datetime | None = None
    value_end: str = ""  # the high end of a RANGE
    police_ordered: bool = False  # a police-ordered block beats a whitelist entry
    # Whom a white entry is registered to (an industry card's or a registered telemarketing
    # number's company): an *enterprise whitelist* entry, which also caps detection.
    owner: str = ""
    id: int | None = None
    version: int | None = None  # the list version that added it

    @classmethod
    def new(
        cls,
        kind: TargetKind | str,
        value: str,
        colour: Colour | str,
        *,
        source: Source | str,
        reason: str,
        actor: str,
        at: datetime,
        expires_at: datetime | None = None,
        value_end: str = "",
        police_ordered: bool = False,
        owner: str = "",
    ) -> ListEntry:
        """Validate and build an entry (raises InvalidInput on a bad field)."""
        try:
            k, c, s = TargetKind(kind), Colour(colour), Source(source)
        except ValueError as e:
            raise InvalidInput(
                f"{e}; kind is one of {[k.value for k in TargetKind]}, colour one of "
                f"{[c.value for c in Colour]}, source one of {[s.value for s in Source]}"
            ) from None
        if k in (TargetKind.IMEI, TargetKind.ID_HASH):  # numbers are refused unless canonical
            value = value.strip()
        if k is TargetKind.ID_HASH:
            value = value.lower()
        check_target(k, value, value_end if k is TargetKind.RANGE else "")
        if k is not TargetKind.RANGE:
            value_end = ""
        if not reason.strip():
            raise InvalidInput("a list entry needs a reason: say why the number is listed")
        if expires_at is not None:
            expires_at = store_time(expires_at)  # an offset is converted, never dropped
        if expires_at is not None and expires_at <= at:
            raise InvalidInput(f"expiry {expires_at} is not after creation {at}")
        if police_ordered and (c is not Colour.BLACK or s is not Source.POLICE):
            raise InvalidInput("only a black entry from the police can be police-ordered")
        owner = " ".join(owner.split())
        if owner:
            _check_owner(owner, c, k, expires_at)
        return cls(k, value, c, s, reason.strip(), actor, at, expires_at, value_end,
                   police_ordered, owner)

    def active(self, at: datetime) -> bool:
        """Whether the entry is in force at ``at`` (not yet expired)."""
        return self.expires_at is None or at < self.expires_at

    @property
    def enterprise(self) -> bool:
        """Whether this is an enterprise whitelist entry (white, registered to an owner)."""
        return self.colour is Colour.WHITE and bool(self.owner)

    def whitelisted_text(self) -> str:
        """What an alert says of this enterprise whitelist entry: owner and expiry."""
        until = f"{self.expires_at:%Y-%m-%d}" if self.expires_at else "no expiry"
        return f"whitelisted: {self.owner} until {until}"

    def matches_number(self, number: str) -> bool:
        """Whether this number/prefix/range entry covers ``number``."""
        if self.kind is TargetKind.NUMBER:
            return number == self.value
        if self.kind is TargetKind.PREFIX:
            return number.startswith(self.value)
        if self.kind is TargetKind.RANGE:
            return len(number) == len(self.value) and self.value <= number <= self.value_end
        return False

    def with_identity(self, id: int, version: int) -> ListEntry:
        """The entry as stored, with its id and list version."""
        return replace(self, id=id, version=version)


OWNER_MAX = 128  # characters of an owner's name


def _check_owner(owner: str, colour: Colour, kind: TargetKind, expires_at: datetime | None
                 ) -> None:
    # An owner registers numbers on the enterprise whitelist: a grant to a company, which lapses
    # unless renewed (industry cards and telemarketing registrations are granted for a term).
    if colour is not Colour.WHITE:
        raise InvalidInput("only a white entry has an owner (the enterprise whitelist)")
    if kind not in (TargetKind.NUMBER, TargetKind.PREFIX, TargetKind.RANGE):
        raise InvalidInput("an enterprise whitelist entry names a number, a prefix or a range")
    if expires_at is None:
        raise InvalidInput(f"an enterprise whitelist entry for {owner!r} needs an expiry: "
                           "registrations are granted for a term, renew it when it ends")
    if len(owner) > OWNER_MAX:
        raise InvalidInput(f"an owner's name is at most {OWNER_MAX} characters")


def white_width(entry: ListEntry) -> int:
    """How many leading digits an entry pins: a prefix's length, the digits a range's ends
    share, a number's or identifier's whole length. The fewer, the more numbers it covers."""
    if entry.kind is TargetKind.RANGE:
        same = (a == b for a, b in zip(entry.value, entry.value_end, strict=False))
        return sum(1 for _ in itertools.takewhile(bool, same))
    return len(entry.value)


def too_wide(entry: ListEntry, min_digits: int) -> bool:
    """Whether ``entry`` is a white prefix or range pinning fewer than ``min_digits`` leading
    digits: one person's word would whitelist that many numbers (a white '8' lets every
    blacklisted number through), so such an entry needs an admin (0 = no bound)."""
    return (
        entry.colour is Colour.WHITE
        and entry.kind in (TargetKind.PREFIX, TargetKind.RANGE)
        and white_width(entry) < min_digits
    )


def detection_cap(entries: Iterable[ListEntry], at: datetime) -> ListEntry | None:
    """Among the entries covering one number, the enterprise whitelist entry that caps its
    detection at ``at`` (the one in force longest), or None: none is in force, or a
    police-ordered block covers the number too (the police's word beats a company's)."""
    live = [e for e in entries if e.active(at)]
    if any(e.police_ordered for e in live):
        return None
    owned = [e for e in live if e.enterprise]
    if not owned:
        return None
    return max(owned, key=lambda e: (e.expires_at or datetime.max, e.created_at))


def rank(entry: ListEntry) -> int:
    """Precedence of an entry: police-ordered block > white > black > grey."""
    if entry.colour is Colour.BLACK and entry.police_ordered:
        return 3
    return {Colour.WHITE: 2, Colour.BLACK: 1, Colour.GREY: 0}[entry.colour]


def effective(entries: Iterable[ListEntry], at: datetime) -> ListEntry | None:
    """The entry that decides, among those covering one target: whitelist beats blacklist,
    except a police-ordered block; expired entries do not count."""
    live = [e for e in entries if e.active(at)]
    if not live:
        return None
    return max(live, key=lambda e: (rank(e), e.created_at))


@dataclass(frozen=True)
class ListDiff:
    """What changed between two list versions."""

    from_version: int
    to_version: int
    added: tuple[ListEntry, ...]
    removed: tuple[ListEntry, ...]


@dataclass(frozen=True)
class ListDiffPage:
    """One page of what changed between two list versions: up to a page of entries added and
    removed after the given ids (in id order), the totals of each side, and the id to page on
    from (``None`` on the last page of a side)."""

    from_version: int
    to_version: int
    added: tuple[ListEntry, ...]
    removed: tuple[ListEntry, ...]
    added_total: int
    removed_total: int
    next_added: int | None
    next_removed: int | None


EntryKey = tuple[str, str, str, str, str, bool, str, str]


def entry_key(e: ListEntry) -> EntryKey:
    """What makes two entries the same entry for an import: target, colour, source, police
    order, owner and expiry (not the reason, the actor or when it was made), so a file imported
    twice, or re-run after an unclear crash, adds nothing the second time."""
    return (e.kind.value, e.value, e.value_end, e.colour.value, e.source.value,
            e.police_ordered, e.owner, e.expires_at.isoformat() if e.expires_at else "")


def content_hash(entries: Iterable[ListEntry]) -> str:
    """SHA-256 over the entries' content, in a fixed order: recorded with an import's audit
    event and recomputed from the stored rows, so an entry edited in the database shows."""
    lines = sorted("\t".join(str(x) for x in (*entry_key(e), e.reason)) for e in entries)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()
