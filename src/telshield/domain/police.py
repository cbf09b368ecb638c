"""Police coordination (警企协同): units, their requests to the operator, and the laws a request
follows from arrival to answer.

A unit's officer files a request: a **query** (what the operator knows of a number or an ID) or
a **control** (block or suspend a number, or every number of an ID), each under a legal
document, a case reference and a reason. The operator answers under maker-checker: one person
prepares the request, another approves it (approving executes it and seals the response
package); either may reject it. Each kind has an SLA from arrival; a request still open past
its deadline is escalated and counted as a breach.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from telshield.domain.errors import Conflict, InvalidInput


class RequestKind(StrEnum):
    """What a unit asks for."""

    QUERY = "query"  # the subscriber record and what ties to it
    CONTROL = "control"  # block or suspend


class TargetKind(StrEnum):
    """What a request names."""

    NUMBER = "number"  # an E.164 number
    ID = "id"  # an identity, as its keyed hash (the feeds' id_hash)


class ControlAction(StrEnum):
    """What a control request orders."""

    BLOCK = "block"  # police-ordered blacklist entry: beats any whitelist entry
    SUSPEND = "suspend"  # the numbers' service suspended through disposal (BSS command)


class RequestStatus(StrEnum):
    """Where a request stands."""

    SUBMITTED = "submitted"
    PREPARED = "prepared"  # the maker has checked it and proposes it for approval
    ANSWERED = "answered"  # the checker approved it: executed, response package sealed
    REJECTED = "rejected"

    @property
    def closed(self) -> bool:
        """Whether nothing more happens to a request in this status."""
        return self in (RequestStatus.ANSWERED, RequestStatus.REJECTED)


# The law of moves: a request is prepared before it is approved (answered); it may be rejected
# while open. Nothing leaves a closed status.
_MOVES: dict[RequestStatus, frozenset[RequestStatus]] = {
    RequestStatus.SUBMITTED: frozenset({RequestStatus.PREPARED, RequestStatus.REJECTED}),
    RequestStatus.PREPARED: frozenset({RequestStatus.ANSWERED, RequestStatus.REJECTED}),
    RequestStatus.ANSWERED: frozenset(),
    RequestStatus.REJECTED: frozenset(),
}

_ID_HASH = re.compile(r"[0-9a-f]{64}")
TEXT_MAX = 500
UNIT_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def parse_unit_code(value: str) -> str:
    """A unit's code (letters, digits, '.', '_', '-'; up to 64); InvalidInput otherwise."""
    code = value.strip()
    if not UNIT_CODE.fullmatch(code):
        raise InvalidInput(f"unit code {value!r}: use 1-64 letters, digits, '.', '_' or '-' "
                           "(e.g. NJ-PSB-FZ)")
    return code


def _text(field: str, value: str) -> str:
    v = value.strip()
    if not 1 <= len(v) <= TEXT_MAX:
        raise InvalidInput(f"{field}: give 1-{TEXT_MAX} characters (it is kept in the audit)")
    return v


def mask_id_hash(value: str) -> str:
    """An identity hash as shown in a response: enough to match, not to look up."""
    return value[:6] + "…" + value[-4:] if len(value) > 10 else "…"


@dataclass(frozen=True)
class Unit:
    """A police unit the operator works with."""

    code: str
    name: str
    created_at: datetime


@dataclass(frozen=True)
class PoliceRequest:
    """One request from a unit, with who handled it on the operator's side."""

    unit: str
    kind: RequestKind
    target_kind: TargetKind
    target: str
    legal_doc: str
    case_ref: str
    reason: str
    submitted_by: str
    submitted_at: datetime
    deadline: datetime
    action: ControlAction | None = None
    status: RequestStatus = RequestStatus.SUBMITTED
    prepared_by: str = ""
    prepared_at: datetime | None = None
    decided_by: str = ""
    decided_at: datetime | None = None
    note: str = ""
    escalated_at: datetime | None = None
    id: int | None = None

    @staticmethod
    def new(*, unit: str, kind: str, target_kind: str, target: str, action: str, legal_doc: str,
            case_ref: str, reason: str, by: str, at: datetime, sla: timedelta
            ) -> PoliceRequest:
        """A fresh request, checked: InvalidInput names the field that is wrong."""
        try:
            k, tk = RequestKind(kind), TargetKind(target_kind)
        except ValueError:
            raise InvalidInput(f"kind {kind!r} / target_kind {target_kind!r}: use kind query or "
                               "control, target_kind number or id") from None
        a: ControlAction | None = None
        if k is RequestKind.CONTROL:
            try:
                a = ControlAction(action)
            except ValueError:
                raise InvalidInput(f"action {action!r}: a control request orders block or "
                                   "suspend") from None
        elif action:
            raise InvalidInput("action: only a control request orders an action")
        t = target.strip()
        if tk is TargetKind.NUMBER and not (t.isascii() and t.isdigit() and 3 <= len(t) <= 15):
            raise InvalidInput(f"target {target!r}: a number is 3-15 ASCII digits, E.164 "
                               "without '+' (8613812345678)")
        if tk is TargetKind.ID and not _ID_HASH.fullmatch(t):
            raise InvalidInput("target: an ID is named by its keyed hash (64 lower-case hex "
                               "digits, as the feeds carry it), never the raw ID number")
        return PoliceRequest(
            unit=unit, kind=k, target_kind=tk, target=t, action=a,
            legal_doc=_text("legal_doc", legal_doc), case_ref=_text("case_ref", case_ref),
            reason=_text("reason", reason), submitted_by=by, submitted_at=at,
            deadline=at + sla)

    def _move(self, to: RequestStatus) -> None:
        if to not in _MOVES[self.status]:
            allowed = sorted(s.value for s in _MOVES[self.status]) or ["nothing: it is closed"]
            raise Conflict(f"request {self.id} is {self.status.value}; it can move to "
                           f"{', '.join(allowed)}")

    def prepare(self, *, by: str, at: datetime, note: str = "") -> PoliceRequest:
        """The maker's step: checked and proposed for approval."""
        self._move(RequestStatus.PREPARED)
        return replace(self, status=RequestStatus.PREPARED, prepared_by=by, prepared_at=at,
                       note=note.strip())

    def approve(self, *, by: str, at: datetime, note: str = "") -> PoliceRequest:
        """The checker's step; Conflict when the checker is the maker (two people, always)."""
        self._move(RequestStatus.ANSWERED)
        if by == self.prepared_by:
            raise Conflict(f"{by!r} prepared request {self.id}: another person must approve "
                            "it (maker-checker)")
        return replace(self, status=RequestStatus.ANSWERED, decided_by=by, decided_at=at,
                       note=note.strip() or self.note)

    def reject(self, *, by: str, at: datetime, reason: str) -> PoliceRequest:
        """Refuse the request, saying why (the unit sees the reason)."""
        self._move(RequestStatus.REJECTED)
        return replace(self, status=RequestStatus.REJECTED, decided_by=by, decided_at=at,
                       note=_text("reason", reason))

    def overdue(self, at: datetime) -> bool:
        """Whether the request is still open past its deadline at ``at``."""
        return not self.status.closed and at > self.deadline

    def breached(self, at: datetime) -> bool:
        """Whether the SLA was missed: closed after the deadline, or open past it at ``at``."""
        if self.status.closed and self.decided_at is not None:
            return self.decided_at > self.deadline
        return self.overdue(at)

    @property
    def subject(self) -> str:
        """The audit subject of this request."""
        return f"police_request:{self.id}"


@dataclass(frozen=True)
class Response:
    """The sealed answer to a request: the package as canonical JSON, its HTML report, and
    the SHA-256 of each (recorded in the store; anyone holding a copy can check it)."""

    request_id: int
    package: str  # canonical JSON
    html: str
    sha256: str
    html_sha256: str
    created_at: datetime


def canonical(package: dict[str, Any]) -> str:
    """The one byte-exact JSON form of a package (sorted keys, no spaces, UTF-8)."""
    return json.dumps(package, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


def sha256(text: str) -> str:
    """SHA-256 hex digest of ``text`` as UTF-8."""
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class ClueFeedback:
    """What the operator did with one police clue, told back to its unit."""

    clue_id: str
    unit: str
    outcome: str
    note: str
    by: str
    at: datetime


CLUE_OUTCOMES = ("blocked", "suspended", "traced", "no_subscriber", "not_actioned", "other")


def parse_outcome(value: str) -> str:
    """A clue feedback outcome; InvalidInput listing the valid ones."""
    if value not in CLUE_OUTCOMES:
        raise InvalidInput(f"outcome {value!r}: use one of {list(CLUE_OUTCOMES)}")
    return value
