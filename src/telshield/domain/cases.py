"""Disposal cases (预警处置): the state machine of a suspected number, its actions, appeals and
the provisioning commands sent to the operator's BSS."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from telshield.domain.alerts import Alert, Tier
from telshield.domain.errors import Conflict, InvalidInput


class CaseStatus(StrEnum):
    """Where a case stands."""

    OPEN = "open"  # alert seen, nothing done yet
    VERIFYING = "verifying"  # 二次实名核验: the user must re-verify real name by the deadline
    RESTRICTED = "restricted"  # outgoing calls barred
    SUSPENDED = "suspended"  # 停机
    RELEASED = "released"  # closed in the user's favour
    CONFIRMED = "confirmed"  # closed: fraud confirmed, number blacklisted

    def can_move_to(self, to: CaseStatus) -> bool:
        """Whether the law allows a case in this status to move to ``to``."""
        return to in _MOVES[self]

    @property
    def closed(self) -> bool:
        """Whether the case is closed (a new alert then opens a new case)."""
        return self in (CaseStatus.RELEASED, CaseStatus.CONFIRMED)

    @property
    def barred(self) -> bool:
        """Whether the number is cut off in some way (a release must be provisioned)."""
        return self in (CaseStatus.RESTRICTED, CaseStatus.SUSPENDED, CaseStatus.CONFIRMED)


_S = CaseStatus
_MOVES: dict[CaseStatus, frozenset[CaseStatus]] = {
    _S.OPEN: frozenset({_S.VERIFYING, _S.RESTRICTED, _S.SUSPENDED, _S.RELEASED, _S.CONFIRMED}),
    _S.VERIFYING: frozenset({_S.RESTRICTED, _S.SUSPENDED, _S.RELEASED, _S.CONFIRMED}),
    _S.RESTRICTED: frozenset({_S.VERIFYING, _S.SUSPENDED, _S.RELEASED, _S.CONFIRMED}),
    _S.SUSPENDED: frozenset({_S.RELEASED, _S.CONFIRMED}),
    _S.RELEASED: frozenset(),
    # An appeal that passes can still lift a confirmed block (Art. 32).
    _S.CONFIRMED: frozenset({_S.RELEASED}),
}


# The reason of the suspension the cycle applies when a case's deadline passes (an SLA breach).
ESCALATION_REASON = "deadline passed without re-verification of real name"


class ActionKind(StrEnum):
    """What a disposer (or the policy) does to a case; each leads to one status."""

    VERIFY = "verify"
    RESTRICT = "restrict"
    SUSPEND = "suspend"
    RELEASE = "release"
    CONFIRM = "confirm"

    @property
    def target(self) -> CaseStatus:
        """The status this action moves a case to."""
        return _TARGETS[self]


_TARGETS = {
    ActionKind.VERIFY: _S.VERIFYING,
    ActionKind.RESTRICT: _S.RESTRICTED,
    ActionKind.SUSPEND: _S.SUSPENDED,
    ActionKind.RELEASE: _S.RELEASED,
    ActionKind.CONFIRM: _S.CONFIRMED,
}


def parse_action(value: str) -> ActionKind:
    """The action called ``value`` (raises InvalidInput listing the valid ones)."""
    try:
        return ActionKind(value)
    except ValueError:
        raise InvalidInput(
            f"unknown action {value!r}; use one of {[a.value for a in ActionKind]}"
        ) from None


def _rank(tier: str) -> int:
    try:
        return Tier(tier).rank
    except ValueError:
        return -1


@dataclass(frozen=True)
class Evidence:
    """What a case has seen of its number: the strongest tier, the highest score and the rule
    reasons of every alert it took in. A released case keeps it: a release holds until an alert
    brings something beyond it (Art. 32, see ``is_new``)."""

    tier: str
    score: float
    reasons: tuple[str, ...]  # rule reason codes, sorted

    @classmethod
    def of(cls, alert: Alert) -> Evidence:
        """The evidence of one alert."""
        return cls(alert.tier.value, float(alert.score), _rule_codes(alert))

    def merge(self, alert: Alert) -> Evidence:
        """This evidence with ``alert``'s added."""
        return Evidence(max(self.tier, alert.tier.value, key=_rank), max(self.score, alert.score),
                        tuple(sorted(set(self.reasons) | set(_rule_codes(alert)))))

    def is_new(self, alert: Alert, *, margin: float) -> bool:
        """Whether ``alert`` is new evidence: a stronger tier, a score at least ``margin`` above
        the highest seen, or a rule reason not seen. The model's own reason codes do not count
        (its top contributions shift from run to run); its view is in the score."""
        return (_rank(alert.tier.value) > _rank(self.tier)
                or alert.score >= self.score + margin - 1e-9
                or bool(set(_rule_codes(alert)) - set(self.reasons)))


def _rule_codes(alert: Alert) -> tuple[str, ...]:
    return tuple(c for c in alert.codes if not c.startswith("model:"))


@dataclass(frozen=True)
class Case:
    """A disposal case on one number."""

    msisdn: str
    status: CaseStatus
    tier: str
    opened_at: datetime
    updated_at: datetime
    deadline: datetime | None = None  # when the current status escalates by itself
    alert_id: int | None = None
    group_ref: str = ""  # den / gang / terminal the case was disposed with
    id: int | None = None
    evidence: Evidence | None = None  # what its alerts said (None: opened by hand, or older)

    @classmethod
    def open(cls, msisdn: str, *, tier: str, at: datetime, alert_id: int | None = None,
             evidence: Evidence | None = None) -> Case:
        """A new open case."""
        return cls(msisdn, CaseStatus.OPEN, tier, at, at, None, alert_id, evidence=evidence)

    def move_to(self, to: CaseStatus, *, at: datetime, deadline: datetime | None = None,
                group_ref: str = "") -> Case:
        """The case in status ``to`` (disposed with ``group_ref``, if given); raises Conflict
        if the law forbids the move."""
        if not self.status.can_move_to(to):
            allowed = sorted(s.value for s in _MOVES[self.status]) or ["none: the case is closed"]
            raise Conflict(
                f"case {self.id} on {self.msisdn} is {self.status.value} and cannot become "
                f"{to.value}; allowed: {', '.join(allowed)}"
            )
        return replace(self, status=to, updated_at=at, deadline=deadline,
                       group_ref=group_ref or self.group_ref)


@dataclass(frozen=True)
class Action:
    """One step taken on a case: who, when, why, what the user was told and by when."""

    case_id: int
    kind: ActionKind
    actor: str
    at: datetime
    reason: str
    from_status: CaseStatus
    to_status: CaseStatus
    deadline: datetime | None = None
    notice: str = ""  # the text sent to the user, if any
    id: int | None = None


class AppealStatus(StrEnum):
    """Where an appeal stands."""

    PENDING = "pending"
    PASSED = "passed"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Appeal:
    """A user's appeal against a measure, with the documents offered."""

    case_id: int
    reason: str
    documents: tuple[str, ...]
    filed_at: datetime
    filed_by: str
    status: AppealStatus = AppealStatus.PENDING
    decided_by: str = ""
    decided_at: datetime | None = None
    decision_reason: str = ""
    id: int | None = None

    def decide(self, passed: bool, *, by: str, at: datetime, reason: str) -> Appeal:
        """The appeal decided; raises Conflict if it was decided already."""
        if self.status is not AppealStatus.PENDING:
            raise Conflict(f"appeal {self.id} was already {self.status.value}; file a new one")
        status = AppealStatus.PASSED if passed else AppealStatus.REJECTED
        return replace(self, status=status, decided_by=by, decided_at=at, decision_reason=reason)


class CommandKind(StrEnum):
    """A provisioning command for the operator's BSS."""

    RESTRICT = "restrict"
    SUSPEND = "suspend"
    RELEASE = "release"
    NOTIFY = "notify"  # an SMS to the user (notice of verification, reason and appeal channel)


@dataclass(frozen=True)
class Command:
    """One outbox command; ``key`` makes delivery idempotent (the BSS ignores a key it has seen)."""

    kind: CommandKind
    msisdn: str
    key: str
    created_at: datetime
    text: str = ""
    id: int | None = None
    delivered_at: datetime | None = None
    attempts: int = 0

    @classmethod
    def of(
        cls, kind: CommandKind, msisdn: str, *, action_ref: str, at: datetime, text: str = ""
    ) -> Command:
        """A command keyed by the action it carries out, so replays are recognisable."""
        return cls(kind, msisdn, f"{action_ref}:{kind.value}:{msisdn}", at, text)


# The provisioning a move needs, from the old status to the new one.
def commands_for(frm: CaseStatus, to: CaseStatus) -> tuple[CommandKind, ...]:
    """BSS commands that carry a case from ``frm`` to ``to`` out on the network."""
    if to is CaseStatus.RESTRICTED:
        return (CommandKind.RESTRICT, CommandKind.NOTIFY)
    if to in (CaseStatus.SUSPENDED, CaseStatus.CONFIRMED):
        return () if frm in (CaseStatus.SUSPENDED,) else (CommandKind.SUSPEND, CommandKind.NOTIFY)
    if to is CaseStatus.RELEASED:
        return (CommandKind.RELEASE, CommandKind.NOTIFY) if frm.barred else (CommandKind.NOTIFY,)
    if to is CaseStatus.VERIFYING:
        return (CommandKind.NOTIFY,)
    return ()


SEVERITY = {
    CaseStatus.OPEN: 0, CaseStatus.RELEASED: 0, CaseStatus.VERIFYING: 1,
    CaseStatus.RESTRICTED: 2, CaseStatus.SUSPENDED: 3, CaseStatus.CONFIRMED: 4,
}


@dataclass(frozen=True)
class Policy:
    """The disposal policy: which action each alert tier gets, deadlines, and what users are told.

    A deadline that passes escalates by itself: a number not re-verified in ``verify_hours``
    (Art. 11: 24 h) is suspended, and so is a restricted one not cleared in ``restrict_hours``.
    """

    tier_actions: tuple[tuple[str, str], ...] = (
        ("watch", ""), ("verify", "verify"), ("suspend", "restrict"),
    )
    verify_hours: int = 24
    restrict_hours: int = 72
    appeal_channel: str = "call 10086 or visit a China Mobile shop with your ID card"
    offnet_days: int = 30  # a screening entry on a number we do not hold lasts this long
    new_evidence_margin: float = 0.1  # a released number's score must rise this much to act

    def action_for(self, tier: str) -> ActionKind | None:
        """The action an alert of ``tier`` gets (None: open the case and watch)."""
        name = dict(self.tier_actions).get(tier, "")
        return parse_action(name) if name else None

    def deadline(self, kind: ActionKind, at: datetime) -> datetime | None:
        """When a case moved by ``kind`` escalates if nothing else happens."""
        hours = {ActionKind.VERIFY: self.verify_hours, ActionKind.RESTRICT: self.restrict_hours}
        return at + timedelta(hours=hours[kind]) if kind in hours else None

    def notice(self, kind: ActionKind, masked: str, reason: str) -> str:
        """What the user is told: the measure, its reason and the appeal channel (Art. 32)."""
        if kind is ActionKind.VERIFY:
            return (f"Your number {masked} shows unusual activity ({reason}). Under the "
                    f"Anti-Telecom and Online Fraud Law (Art. 11) please re-verify your real "
                    f"name within {self.verify_hours} h: {self.appeal_channel}. Otherwise the "
                    "number will be suspended.")
        if kind is ActionKind.RELEASE:
            return f"The measure on your number {masked} has been lifted ({reason})."
        measure = {ActionKind.RESTRICT: "restricted (outgoing calls barred)",
                   ActionKind.SUSPEND: "suspended", ActionKind.CONFIRM: "suspended"}[kind]
        return (f"Your number {masked} has been {measure}. Reason: {reason}. To appeal or "
                f"re-verify your real name: {self.appeal_channel} (Anti-Telecom and Online "
                "Fraud Law, Art. 32).")


@dataclass(frozen=True)
class Holder:
    """Who holds a number: one of our subscribers, or someone we cannot dispose of (another
    operator's mobile, a landline, a service number, a foreign number) and whom to tell."""

    msisdn: str
    own: bool
    operator: str = "unknown"  # the operator the numbering plan allocates it to
    kind: str = ""  # mobile / fixed / service / international / invalid
    region: str = ""  # home province, or country for a foreign number
    label: str = ""  # a service number's holder (a bank's 95588), when the plan names it

    @property
    def party(self) -> str:
        """Whom a report line on this number goes to: its operator, or what is known of it."""
        if self.operator not in ("", "unknown"):
            return self.operator
        if self.kind == "international":
            return f"international:{self.region or 'unknown'}"
        return f"{self.kind or 'unknown'}:{self.region or 'unknown'}"


# What the screening lists say about a suspected number we do not hold: from the tier at which
# blocking starts (``block_from``) up it is blocked, below it its calls are labelled. Blocking
# starts where screening refuses our own numbers: at verify when our numbers under
# re-verification are rejected (``screening.tier_verify = reject``, the default), at suspend when
# they are only labelled or warned about; a suspend-tier number is always blocked, a watch-tier
# one always labelled. We cannot ask its holder to re-verify: the report line goes to its
# operator, who can, and the entry expires after ``Policy.offnet_days`` unless the number is
# alerted again.
OFFNET_TIERS = ("watch", "verify", "suspend")  # weakest first
OFFNET_BLOCK_TIERS = ("verify", "suspend")  # where blocking may start
OFFNET_BLOCK_FROM = "verify"  # the default, as screening's default rejects at verify


def offnet_block_from(verify_rejects: bool) -> str:
    """The tier from which numbers we do not hold are blocked: verify when screening rejects our
    own numbers under re-verification (``verify_rejects``), otherwise suspend."""
    return "verify" if verify_rejects else "suspend"


def offnet_blocks(tier: str, block_from: str) -> bool:
    """Whether a number we do not hold, alerted at ``tier``, is blocked (else labelled) when
    blocking starts at ``block_from`` (verify or suspend)."""
    if block_from not in OFFNET_BLOCK_TIERS:
        raise InvalidInput(f"off-net blocking starts at one of {list(OFFNET_BLOCK_TIERS)}, "
                           f"not {block_from!r}")
    return OFFNET_TIERS.index(tier) >= OFFNET_TIERS.index(block_from)


@dataclass(frozen=True)
class OffnetReport:
    """A report line for the operator a suspected number belongs to: one per number, updated in
    place as its alert changes (the strongest tier is kept)."""

    msisdn: str
    party: str
    kind: str
    region: str
    tier: str
    score: float
    reasons: tuple[str, ...]  # reason codes of the alert
    first_at: datetime
    updated_at: datetime
    alert_id: int | None = None
    list_entry_id: int | None = None  # the screening entry (block or label) made for it
    label: str = ""
    id: int | None = None

    def is_blocked(self, block_from: str) -> bool:
        """Whether the number's calls are blocked (otherwise they are labelled) when blocking
        starts at ``block_from`` (the disposal service's ``offnet_block_from``)."""
        return offnet_blocks(self.tier, block_from)
