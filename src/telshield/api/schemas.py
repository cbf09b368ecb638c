"""What the API sends and receives; numbers are masked for roles that need not see them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

from telshield.domain.alerts import StoredAlert
from telshield.domain.audit import ChainedEvent, masked
from telshield.domain.cases import Action, Appeal, Case, Command, OffnetReport
from telshield.domain.lists import ListEntry
from telshield.domain.users import User, mask_number

T = TypeVar("T")

NUMBER = r"^\+?[0-9]{3,15}$"
MAX_ID = 2**53  # larger ids cannot exist; keeps drivers from overflowing
MAX_OFFSET = 10**9


def shown(number: str, user: User) -> str:
    """``number`` as ``user`` may see it."""
    return number if user.sees_numbers else mask_number(number)


class PageOut(BaseModel, Generic[T]):
    """One page of a listing."""

    items: list[T]
    limit: int
    offset: int


class EntryIn(BaseModel):
    """A list entry to add."""

    kind: str = Field(description="number, prefix, range, imei or id_hash", max_length=16)
    value: str = Field(max_length=64)
    value_end: str = Field(default="", max_length=64, description="high end of a range")
    colour: str = Field(description="black, white or grey", max_length=8)
    source: str = Field(default="manual", description="detection, disposal, manual, partner",
                        max_length=16)
    reason: str = Field(min_length=1, max_length=2000)
    expires_at: datetime | None = None
    owner: str = Field(
        default="", max_length=128,
        description="the company a white entry is registered to (an industry card, a registered "
        "telemarketing number): an enterprise whitelist entry, which needs expires_at and caps "
        "detection at the watch tier unless a police clue names the number")


class PoliceBlockIn(BaseModel):
    """A police-ordered block (beats any whitelist entry)."""

    kind: str = Field(default="number", max_length=16)
    value: str = Field(max_length=64)
    value_end: str = Field(default="", max_length=64)
    reason: str = Field(min_length=1, max_length=2000, description="the order's reference")
    expires_at: datetime | None = None


class EntryOut(BaseModel):
    """A list entry."""

    id: int | None
    version: int | None
    kind: str
    value: str
    value_end: str
    colour: str
    source: str
    police_ordered: bool
    reason: str
    actor: str
    created_at: datetime
    expires_at: datetime | None
    owner: str = Field(default="", description="enterprise whitelist: whom it is registered to")

    @classmethod
    def of(cls, e: ListEntry, user: User) -> EntryOut:
        """The entry as ``user`` may see it."""
        hide = e.kind.value in ("number", "range") and not user.sees_numbers
        return cls(id=e.id, version=e.version, kind=e.kind.value,
                   value=mask_number(e.value) if hide else e.value,
                   value_end=mask_number(e.value_end) if hide and e.value_end else e.value_end,
                   colour=e.colour.value, source=e.source.value, police_ordered=e.police_ordered,
                   reason=e.reason, actor=e.actor, created_at=e.created_at,
                   expires_at=e.expires_at, owner=e.owner)


class DiffOut(BaseModel):
    """What changed between two list versions."""

    from_version: int
    to_version: int
    added: list[EntryOut]
    removed: list[EntryOut]
    added_total: int = 0  # each side's size (all of it, not only this page)
    removed_total: int = 0
    next_added: int | None = None  # paged (``limit`` given): the after_added of the next page
    next_removed: int | None = None


class AlertOut(BaseModel):
    """An alert with its reasons."""

    id: int
    msisdn: str
    score: float
    tier: str
    open: bool
    reasons: list[dict[str, Any]]
    detected_at: datetime
    window_end: datetime
    model_version: str
    rules_version: str

    @classmethod
    def of(cls, s: StoredAlert, user: User) -> AlertOut:
        """The alert as ``user`` may see it."""
        a = s.alert
        return cls(id=s.id, msisdn=shown(a.msisdn, user), score=a.score, tier=a.tier.value,
                   open=s.is_open, reasons=[r.__dict__ for r in a.reasons],
                   detected_at=a.detected_at, window_end=a.window_end,
                   model_version=a.model_version, rules_version=a.rules_version)


class CaseOut(BaseModel):
    """A disposal case."""

    id: int | None
    msisdn: str
    status: str
    tier: str
    opened_at: datetime
    updated_at: datetime
    deadline: datetime | None
    alert_id: int | None
    group_ref: str

    @classmethod
    def of(cls, c: Case, user: User) -> CaseOut:
        """The case as ``user`` may see it."""
        return cls(id=c.id, msisdn=shown(c.msisdn, user), status=c.status.value, tier=c.tier,
                   opened_at=c.opened_at, updated_at=c.updated_at, deadline=c.deadline,
                   alert_id=c.alert_id, group_ref=c.group_ref)


class ActionIn(BaseModel):
    """An action to take on a case."""

    action: str = Field(description="verify, restrict, suspend, release or confirm",
                        max_length=16)
    reason: str = Field(min_length=1, max_length=2000, description="told to the user")


class BulkIn(ActionIn):
    """An action on a set of numbers (a den, a gang, a terminal), all or nothing."""

    msisdns: list[str] = Field(min_length=1, max_length=200_000)
    group_ref: str = Field(default="", max_length=128)


class BulkOut(BaseModel):
    """What a bulk disposal did."""

    action: str
    moved: int
    opened: int
    unchanged: int


class VerifiedIn(BaseModel):
    """A passed re-verification of real name."""

    note: str = Field(default="", max_length=2000)


class ActionOut(BaseModel):
    """An action taken on a case."""

    id: int | None
    case_id: int
    action: str
    actor: str
    at: datetime
    reason: str
    from_status: str
    to_status: str
    deadline: datetime | None
    notice: str

    @classmethod
    def of(cls, a: Action) -> ActionOut:
        """The action for output (notices show numbers masked already)."""
        return cls(id=a.id, case_id=a.case_id, action=a.kind.value, actor=a.actor, at=a.at,
                   reason=a.reason, from_status=a.from_status.value,
                   to_status=a.to_status.value, deadline=a.deadline, notice=a.notice)


class AppealIn(BaseModel):
    """A user's appeal."""

    reason: str = Field(min_length=1, max_length=4000)
    documents: list[str] = Field(default_factory=list, max_length=50)


class DecisionIn(BaseModel):
    """The decision on an appeal."""

    passed: bool
    reason: str = Field(min_length=1, max_length=2000)


class AppealOut(BaseModel):
    """An appeal."""

    id: int | None
    case_id: int
    reason: str
    documents: list[str]
    filed_at: datetime
    filed_by: str
    status: str
    decided_by: str
    decided_at: datetime | None
    decision_reason: str

    @classmethod
    def of(cls, a: Appeal) -> AppealOut:
        """The appeal for output."""
        return cls(id=a.id, case_id=a.case_id, reason=a.reason, documents=list(a.documents),
                   filed_at=a.filed_at, filed_by=a.filed_by, status=a.status.value,
                   decided_by=a.decided_by, decided_at=a.decided_at,
                   decision_reason=a.decision_reason)


class AuditOut(BaseModel):
    """An audit event with its place in the chain."""

    seq: int
    at: datetime
    actor: str
    action: str
    subject: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str

    @classmethod
    def of(cls, c: ChainedEvent, user: User) -> AuditOut:
        """The event as ``user`` may see it (numbers in the detail masked if need be)."""
        e = c.event if user.sees_numbers else masked(c.event)  # numbers and identities
        return cls(seq=c.seq, at=e.at, actor=e.actor, action=e.action, subject=e.subject,
                   detail=dict(e.detail), prev_hash=c.prev_hash, hash=c.hash)


class VerifyOut(BaseModel):
    """The result of verifying the audit chain."""

    ok: bool
    checked: int
    problem: str
    seq: int | None


class CommandOut(BaseModel):
    """A provisioning command in the outbox."""

    id: int | None
    kind: str
    msisdn: str
    key: str
    created_at: datetime
    delivered_at: datetime | None
    attempts: int

    @classmethod
    def of(cls, c: Command) -> CommandOut:
        """The command for output."""
        return cls(id=c.id, kind=c.kind.value, msisdn=c.msisdn, key=c.key,
                   created_at=c.created_at, delivered_at=c.delivered_at, attempts=c.attempts)


class UserIn(BaseModel):
    """A user to make."""

    name: str = Field(min_length=1, max_length=128)
    role: str = Field(description="admin, analyst, disposer, police or auditor", max_length=16)
    unit: str = Field(default="", max_length=128, description="police unit (police users)")


class UserOut(BaseModel):
    """A user (never the key)."""

    name: str
    role: str
    unit: str
    active: bool
    created_at: datetime

    @classmethod
    def of(cls, u: User) -> UserOut:
        """The user for output."""
        return cls(name=u.name, role=u.role.value, unit=u.unit, active=u.active,
                   created_at=u.created_at)


class NewUserOut(UserOut):
    """A new user with their API key (shown once)."""

    key: str


class OffnetOut(BaseModel):
    """A report line on a suspected number we do not hold, for the operator it belongs to."""

    id: int | None
    operator: str = Field(description="the party the line goes to: china_unicom, "
                                      "china_telecom, international:HK, ...")
    msisdn: str
    kind: str
    region: str
    label: str
    tier: str
    score: float
    screening: str = Field(description="block (from the verify tier up when screening "
                                       "rejects our numbers under re-verification, else at "
                                       "suspend) or label")
    reasons: list[str]
    first_at: datetime
    updated_at: datetime
    alert_id: int | None
    list_entry_id: int | None

    @classmethod
    def of(cls, x: OffnetReport, user: User, screening: str) -> OffnetOut:
        """The line as ``user`` may see it; ``screening`` is what screening does with its
        number's calls (``CaseService.offnet_screening``)."""
        return cls(id=x.id, operator=x.party, msisdn=shown(x.msisdn, user), kind=x.kind,
                   region=x.region, label=x.label, tier=x.tier, score=x.score,
                   screening=screening, reasons=list(x.reasons),
                   first_at=x.first_at, updated_at=x.updated_at, alert_id=x.alert_id,
                   list_entry_id=x.list_entry_id)

