"""The registration check (入网核验): a SIM application judged before the card exists.

The sales system asks before it activates a SIM: is the applicant sanctioned (限制入网), would
the card take the ID over the per-operator limit (Anti-Telecom-Fraud Law Art. 10), is a staff ID
or terminal opening cards in bulk, do e-channel orders share an address, contact, device or IP.
Each rule is a small pure function of the facts the service gathered and its setting; the
answer is the strongest decision any rule asks for (refuse > verify > allow).

The applicant is named by ``id_hash``, the HMAC the feeds use. A raw ID number sent by mistake
is refused before anything is stored or logged, and the error never repeats it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from telshield.domain.clock import store_to_feed
from telshield.domain.errors import InvalidInput
from telshield.domain.lists import Colour, ListEntry, TargetKind
from telshield.domain.numbers import mask, normalise
from telshield.domain.regrisk import RiskRow
from telshield.domain.statement import (
    TRANSCRIPT_MAX,
    StatementCheck,
    StatementPolicy,
    near_miss,
)

_HASH = re.compile(r"^[0-9a-f]{64}$")
# A resident ID (18: 17 digits and a digit or X check character) or an old 15-digit one.
_RAW_ID = re.compile(r"^([0-9]{17}[0-9Xx]|[0-9]{15})$")
FIELD_MAX = 64  # characters of a channel, staff, terminal, order, IP or device ID


class HolderKind(StrEnum):
    """Who applies: a person, a company, or a machine (IoT card)."""

    INDIVIDUAL = "individual"
    ENTERPRISE = "enterprise"
    IOT = "iot"


class Decision(StrEnum):
    """What the sales system is told to do with the application."""

    ALLOW = "allow"
    RETAKE = "retake"  # record the video statement once more and send the request again
    VERIFY = "verify"  # extra verification: in person, face check
    REFUSE = "refuse"

    @property
    def weight(self) -> int:
        """Precedence: refuse beats verify beats retake beats allow (a retake is pointless
        where the applicant is verified in person anyway)."""
        return {Decision.ALLOW: 0, Decision.RETAKE: 1, Decision.VERIFY: 2,
                Decision.REFUSE: 3}[self]


class Retake(StrEnum):
    """What became of the statement's retake in one check ('' none: no retake asked or sent)."""

    NONE = ""
    ASKED = "asked"  # the statement was a near miss: record it again
    PASSED = "passed"  # the retake, judged strictly, matched
    FAILED = "failed"  # the retake did not match: extra verification, as before
    IGNORED = "ignored"  # a retake sent where none was asked: not read


def check_id_hash(value: str, *, name: str = "id_hash") -> str:
    """``value`` as a 64-hex hash; InvalidInput otherwise (never repeating a raw ID number)."""
    v = value.strip().lower()
    if _RAW_ID.match(value.strip()):
        raise InvalidInput(
            f"{name} looks like a raw ID number: it was refused and not stored; send the "
            "HMAC-SHA256 of the ID (64 lowercase hex digits) as the feeds do")
    if not _HASH.match(v):
        raise InvalidInput(f"{name} must be 64 lowercase hex digits (the HMAC of the document)")
    return v


def _number(value: str, name: str) -> str:
    n = normalise(value) if value else None
    if n is None:
        raise InvalidInput(f"{name} is not a phone number; send E.164 digits like 8613812345678")
    return n


def _field(value: str, name: str, *, required: bool = False) -> str:
    v = value.strip()
    if required and not v:
        raise InvalidInput(f"{name} is required")
    if len(v) > FIELD_MAX:
        raise InvalidInput(f"{name} is at most {FIELD_MAX} characters")
    return v


@dataclass(frozen=True)
class Order:
    """The e-channel order behind an application (empty fields: none given)."""

    order_id: str = ""
    address_hash: str = ""
    contact: str = ""  # the order's contact number, E.164 digits
    ip: str = ""
    device_id: str = ""

    @classmethod
    def new(cls, *, order_id: str = "", address_hash: str = "", contact: str = "", ip: str = "",
            device_id: str = "") -> Order:
        """Validate and build an order (raises InvalidInput on a bad field)."""
        return cls(
            order_id=_field(order_id, "order_id"),
            address_hash=check_id_hash(address_hash, name="address_hash") if address_hash
            else "",
            contact=_number(contact, "contact") if contact else "",
            ip=_field(ip, "ip"),
            device_id=_field(device_id, "device_id"),
        )

    def keys(self) -> dict[str, str]:
        """The order's attributes that velocity is counted on, by name (given ones only)."""
        return {k: v for k, v in (("address_hash", self.address_hash), ("contact", self.contact),
                                  ("ip", self.ip), ("device_id", self.device_id)) if v}


@dataclass(frozen=True)
class CheckRequest:
    """One SIM application as the sales system sends it."""

    id_hash: str
    holder_kind: HolderKind
    channel_id: str
    staff_id: str
    terminal_id: str
    msisdn: str
    order: Order = Order()
    # The video statement as recognised (None: none sent). Personal data: never shown in a
    # repr, logged or stored; the check keeps only its score and mismatched part.
    transcript: str | None = field(default=None, repr=False)
    # The second recording, sent after a check answered ``retake`` (None: none).
    retake_transcript: str | None = field(default=None, repr=False)

    @classmethod
    def new(cls, *, id_hash: str, holder_kind: str, channel_id: str, staff_id: str,
            terminal_id: str, msisdn: str, order: Order = Order(),
            transcript: str | None = None, retake_transcript: str | None = None
            ) -> CheckRequest:
        """Validate and build a request (raises InvalidInput on a bad field)."""
        h = check_id_hash(id_hash)  # first: a raw ID goes no further
        try:
            kind = HolderKind(holder_kind)
        except ValueError:
            raise InvalidInput(f"holder_kind {holder_kind!r}: use one of "
                               f"{[k.value for k in HolderKind]}") from None
        for name, text in (("transcript", transcript), ("retake_transcript", retake_transcript)):
            if text is not None and len(text) > TRANSCRIPT_MAX:
                raise InvalidInput(f"{name} is at most {TRANSCRIPT_MAX} characters: send the "
                                   "recognised video statement only")
        return cls(h, kind, _field(channel_id, "channel_id", required=True),
                   _field(staff_id, "staff_id", required=True),
                   _field(terminal_id, "terminal_id"), _number(msisdn, "msisdn"), order,
                   transcript, retake_transcript)


@dataclass(frozen=True)
class Reason:
    """Why a rule asked for a decision: a stable code and a sentence for the applicant."""

    code: str
    text: str
    decision: Decision


@dataclass(frozen=True)
class Sanction:
    """A communication sanction (限制入网) on a person."""

    id_hash: str
    authority: str
    ends_at: datetime
    reason: str = ""
    starts_at: datetime | None = None

    def active(self, at: datetime) -> bool:
        """Whether the sanction is in force at ``at``."""
        return (self.starts_at is None or self.starts_at <= at) and at < self.ends_at

    @classmethod
    def listed(cls, entry: ListEntry) -> Sanction | None:
        """A black ID-hash list entry read as a sanction (the store's own 限制入网 list): the
        unit or person who listed it is the authority, its expiry the end (None: no entry of
        that kind)."""
        if entry.kind is not TargetKind.ID_HASH or entry.colour is not Colour.BLACK:
            return None
        by = f"{entry.actor} ({entry.source.value} list entry {entry.id})"
        return cls(entry.value, by, entry.expires_at or datetime.max, entry.reason,
                   entry.created_at)


@dataclass(frozen=True)
class Held:
    """A number registered under an ID: when, and whether it still counts (not cancelled)."""

    registered_at: datetime
    live: bool = True


@dataclass(frozen=True)
class Limits:
    """The settings of the rules (``[registration]``)."""

    # Each count includes the request being checked; a rule fires *above* its setting.
    cards_per_id: int = 5  # Art. 10: cards per ID per operator (refuse above)
    cards_30d_verify: int = 3  # cards per ID in 30 days
    staff_hour_verify: int = 20  # registrations per staff ID per hour: bulk opening
    staff_hour_refuse: int = 60
    terminal_hour_verify: int = 20
    terminal_hour_refuse: int = 60
    order_24h_verify: int = 3  # orders sharing an address, contact, device or IP in 24 h
    statement: StatementPolicy = field(default_factory=StatementPolicy)  # 实名视频声明
    # Channel / staff risk: verify when the Wilson lower bound of the share of a channel's or
    # staff ID's registrations later found bad is above this, with at least risk_min_count.
    risk_share_verify: float = 1.0  # 1.0: never
    risk_min_count: int = 20


@dataclass(frozen=True)
class Facts:
    """What the service found for one request, counted before it."""

    held: frozenset[str]  # numbers under the ID (the lake's, and those reserved since)
    cards_30d: int  # cards the ID got in the last 30 days
    staff_hour: int  # checks by the staff ID in the last hour
    terminal_hour: int  # checks from the terminal in the last hour
    order_24h: dict[str, int]  # order attribute name -> orders sharing it in 24 h
    sanctions: tuple[Sanction, ...] = ()
    staff_suspended: str = ""  # why the staff ID is suspended ('' = it is not)
    statement: StatementCheck | None = None  # the video statement's check (None: none sent)
    # The retake's check, when the last check of this ID and number asked for one and the
    # request carries it (None otherwise); ``retake_asked``: a retake was asked for this ID and
    # number before (there is only one).
    retake: StatementCheck | None = None
    retake_asked: bool = False
    channel_risk: RiskRow | None = None  # the channel's row of the last risk ranking
    staff_risk: RiskRow | None = None


def sanction_rule(sanctions: Iterable[Sanction], at: datetime) -> list[Reason]:
    """Refuse a sanctioned person (限制入网), naming the authority and the end date."""
    live = [s for s in sanctions if s.active(at)]
    if not live:
        return []
    s = max(live, key=lambda x: x.ends_at)
    # Compared in store time; shown as the date the authority wrote (China time).
    until = "further notice" if s.ends_at >= datetime.max - timedelta(days=1) \
        else f"{store_to_feed(s.ends_at):%Y-%m-%d}"
    return [Reason("sanctioned", f"communication sanction by {s.authority} until {until}",
                   Decision.REFUSE)]


def card_limit_rule(held: frozenset[str], msisdn: str, limit: int) -> list[Reason]:
    """Refuse a card that would take the ID over ``limit`` numbers (Art. 10)."""
    if len(held | {msisdn}) <= limit:
        return []
    return [Reason("card_limit", f"the ID already holds {len(held)} number(s); at most {limit} "
                   "per operator", Decision.REFUSE)]


def cards_30d_rule(cards: int, verify_above: int) -> list[Reason]:
    """Verify an ID that would get more than ``verify_above`` cards in 30 days."""
    if cards <= verify_above:
        return []
    return [Reason("cards_30d", f"{cards} card(s) under the ID in 30 days", Decision.VERIFY)]


def bulk_rule(code: str, what: str, count: int, verify_above: int, refuse_above: int
              ) -> list[Reason]:
    """Verify (or refuse, above the higher setting) bulk opening by a staff ID or terminal."""
    if count > refuse_above:
        return [Reason(code, f"{count} registrations by this {what} in the last hour",
                       Decision.REFUSE)]
    if count > verify_above:
        return [Reason(code, f"{count} registrations by this {what} in the last hour",
                       Decision.VERIFY)]
    return []


def order_rule(shared: dict[str, int], verify_above: int) -> list[Reason]:
    """Verify an e-channel order whose address, contact, device or IP more than
    ``verify_above`` orders share in 24 hours."""
    return [Reason(f"order_{name}", f"{n} order(s) with this {name} in 24 hours",
                   Decision.VERIFY) for name, n in sorted(shared.items()) if n > verify_above]


def staff_rule(suspended: str) -> list[Reason]:
    """Refuse an application from a suspended staff ID."""
    if not suspended:
        return []
    return [Reason("staff_suspended", f"the staff ID is suspended from registering: "
                   f"{suspended}", Decision.REFUSE)]


def statement_rule(check: StatementCheck | None, policy: StatementPolicy, *,
                   retake: StatementCheck | None = None, retake_asked: bool = False
                   ) -> list[Reason]:
    """Verify (or refuse, as the policy says) an application whose video statement is missing
    where required, silent, or not the required sentence for this number. A near miss
    (``domain.statement.near_miss``) asks for a retake instead, once per ID and number
    (``retake_asked``: one was asked already); ``retake``, the second recording, is judged as
    strictly as the first (the tail exact), and is final."""
    fail = Decision.REFUSE if policy.refuse_on_fail else Decision.VERIFY
    if retake is not None:
        if retake.silent:
            return [Reason("statement_missing", "the retaken video statement is empty: nothing "
                           "was said", fail)]
        if retake.passed:
            return []
        return [Reason("statement_mismatch", f"the retaken video statement does not match "
                       f"either (score {retake.score:.2f}, {policy.threshold:.2f} needed): "
                       f"{retake.summary()}", fail)]
    if check is None:
        return [Reason("statement_missing", "no video statement was sent; one is required",
                       fail)] if policy.required else []
    if check.silent:
        return [Reason("statement_missing", "the video statement is empty: nothing was said",
                       fail)]
    if check.passed:
        return []
    if not retake_asked and near_miss(check, policy):
        return [Reason("statement_retake", f"the video statement was nearly right (score "
                       f"{check.score:.2f}): {check.summary()}; record it once more and send it "
                       "as retake_transcript", Decision.RETAKE)]
    return [Reason("statement_mismatch", f"the video statement does not match (score "
                   f"{check.score:.2f}, {policy.threshold:.2f} needed): {check.summary()}",
                   fail)]


def risk_rule(code: str, what: str, row: RiskRow | None, share_above: float, min_count: int
              ) -> list[Reason]:
    """Verify an application through a channel or staff ID whose registrations went bad too
    often: the share's Wilson lower bound above ``share_above``, over ``min_count`` or more."""
    if row is None or row.registrations < min_count or row.lower <= share_above:
        return []
    return [Reason(code, row.sentence(what), Decision.VERIFY)]


def judge(request: CheckRequest, facts: Facts, limits: Limits, at: datetime) -> list[Reason]:
    """Every rule's reasons for ``request``, strongest first."""
    reasons = [
        *staff_rule(facts.staff_suspended),
        *sanction_rule(facts.sanctions, at),
        *card_limit_rule(facts.held, request.msisdn, limits.cards_per_id),
        *cards_30d_rule(facts.cards_30d + 1, limits.cards_30d_verify),
        *bulk_rule("staff_bulk", "staff ID", facts.staff_hour + 1, limits.staff_hour_verify,
                   limits.staff_hour_refuse),
        *(bulk_rule("terminal_bulk", "terminal", facts.terminal_hour + 1,
                    limits.terminal_hour_verify, limits.terminal_hour_refuse)
          if request.terminal_id else []),
        *order_rule({k: v + 1 for k, v in facts.order_24h.items()}, limits.order_24h_verify),
        *statement_rule(facts.statement, limits.statement, retake=facts.retake,
                        retake_asked=facts.retake_asked),
        *risk_rule("channel_risk", "channel", facts.channel_risk, limits.risk_share_verify,
                   limits.risk_min_count),
        *risk_rule("staff_risk", "staff ID", facts.staff_risk, limits.risk_share_verify,
                   limits.risk_min_count),
    ]
    return sorted(reasons, key=lambda r: -r.decision.weight)


def decide(reasons: Sequence[Reason]) -> Decision:
    """The strongest decision any reason asks for (allow when none does)."""
    return max((r.decision for r in reasons), key=lambda d: d.weight, default=Decision.ALLOW)


def masked(numbers: Iterable[str]) -> tuple[str, ...]:
    """Numbers as an applicant is shown them (138****5678), sorted."""
    return tuple(mask(n) for n in sorted(numbers))


@dataclass(frozen=True)
class CheckResult:
    """The answer: the decision, why, the numbers already under the ID (masked), and where to
    appeal when refused or sent to verification (Art. 32)."""

    id: int
    decision: Decision
    reasons: tuple[Reason, ...]
    held: tuple[str, ...]  # masked
    appeal_channel: str
    at: datetime
    # The video statement's check (None: none sent): the retake's when one was judged.
    statement: StatementCheck | None = None
    retake: Retake = Retake.NONE


@dataclass(frozen=True)
class StaffSuspension:
    """A staff ID (工号) suspended from registering, and its lifting."""

    staff_id: str
    reason: str
    actor: str
    at: datetime
    lifted_at: datetime | None = None
    lifted_by: str = ""
    id: int | None = None

    @property
    def active(self) -> bool:
        """Whether the suspension is still in force."""
        return self.lifted_at is None


@dataclass(frozen=True)
class CheckRecord:
    """One stored registration check, as the registrations page lists it."""

    id: int
    at: datetime
    actor: str
    channel_id: str
    staff_id: str
    terminal_id: str
    msisdn: str
    decision: Decision
    reasons: tuple[Reason, ...]
