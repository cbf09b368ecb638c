"""Routes for the registration check (入网核验): the sales system asks before it activates a
SIM; analysts suspend staff IDs from registering. ``id_hash`` is validated by the domain, not
here, so that a raw ID number sent by mistake is refused without being echoed back."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from pydantic import BaseModel, Field

from telshield.api.auth import requires
from telshield.domain.registrations import CheckResult, Order, StaffSuspension
from telshield.domain.statement import TRANSCRIPT_MAX, StatementCheck
from telshield.domain.users import Permission, User
from telshield.services.registrations import RegistrationService
from telshield.settings import Settings
from telshield.wiring.registrations import registrations as compose

router = APIRouter(prefix="/registrations", tags=["registrations"])
StaffId = Annotated[str, Path(min_length=1, max_length=64)]


def install(app: FastAPI, settings: Settings) -> None:
    """Serve the registration routes over the app's store and the settings' lake."""
    app.state.registrations = compose(settings, app.state.disposal.store)
    app.include_router(router)
    from telshield.api import regrisk

    regrisk.install(app, settings)  # the risk ranking and the batch audit


def service(request: Request) -> RegistrationService:
    """The registration service the app was built with."""
    s: RegistrationService = request.app.state.registrations
    return s


S = Annotated[RegistrationService, Depends(service)]


class CheckIn(BaseModel):
    """One SIM application. ``id_hash`` is the HMAC of the ID, as the feeds carry it."""

    id_hash: str = Field(max_length=64)
    holder_kind: str = Field(default="individual", max_length=16)
    channel_id: str = Field(max_length=64)
    staff_id: str = Field(max_length=64)
    terminal_id: str = Field(default="", max_length=64)
    msisdn: str = Field(max_length=32, description="the number applied for")
    order_id: str = Field(default="", max_length=64)
    address_hash: str = Field(default="", max_length=64)
    contact: str = Field(default="", max_length=32)
    ip: str = Field(default="", max_length=64)
    device_id: str = Field(default="", max_length=64)
    # Its length is checked by the domain, not here: a 422 would echo the personal text back.
    transcript: str | None = Field(
        default=None,
        description=f"the video statement as the speech recogniser heard it, at most "
        f"{TRANSCRIPT_MAX} characters (absent: none recorded; empty: nothing was said); "
        "checked, never stored")
    retake_transcript: str | None = Field(
        default=None,
        description="the second recording of the video statement, sent with the application "
        "again after a check answered `retake` (same limits as transcript); judged strictly "
        "(the tail exact), once; ignored where no retake was asked")


class StatementOut(BaseModel):
    """What the video statement check found (the transcript itself is not kept)."""

    score: float
    passed: bool
    tail_heard: str
    mismatch: str

    @classmethod
    def of(cls, s: StatementCheck) -> StatementOut:
        """The wire form of a statement check."""
        return cls(score=s.score, passed=s.passed, tail_heard=s.tail_heard,
                   mismatch=s.summary())


class ReasonOut(BaseModel):
    """Why a rule asked for a decision."""

    code: str
    text: str
    decision: str


class CheckOut(BaseModel):
    """The answer: decision, reasons, numbers already under the ID (masked), appeal channel."""

    id: int
    decision: str
    reasons: list[ReasonOut]
    numbers_held: list[str]
    appeal_channel: str
    at: datetime
    statement: StatementOut | None = None
    retake: str = Field(
        default="", description="the statement's retake: asked (record it again and send "
        "retake_transcript), passed, failed, ignored (none was asked), or '' (none)")

    @classmethod
    def of(cls, r: CheckResult) -> CheckOut:
        """The wire form of a check result."""
        return cls(id=r.id, decision=r.decision.value, at=r.at, numbers_held=list(r.held),
                   reasons=[ReasonOut(code=x.code, text=x.text, decision=x.decision.value)
                            for x in r.reasons], appeal_channel=r.appeal_channel,
                   statement=StatementOut.of(r.statement) if r.statement else None,
                   retake=r.retake.value)


class NumbersOut(BaseModel):
    """The numbers under an ID, masked."""

    numbers: list[str]


class SuspendIn(BaseModel):
    """Why a staff ID is suspended, or its suspension lifted."""

    reason: str = Field(min_length=1, max_length=2000)


class SuspensionOut(BaseModel):
    """A staff suspension."""

    staff_id: str
    reason: str
    actor: str
    at: datetime
    lifted_at: datetime | None
    lifted_by: str

    @classmethod
    def of(cls, s: StaffSuspension) -> SuspensionOut:
        """The wire form of a suspension."""
        return cls(staff_id=s.staff_id, reason=s.reason, actor=s.actor, at=s.at,
                   lifted_at=s.lifted_at, lifted_by=s.lifted_by)


@router.post("/check", response_model=CheckOut)
def check(s: S, body: CheckIn,
          user: Annotated[User, Depends(requires(Permission.REGISTRATIONS_CHECK))]) -> CheckOut:
    """Check one SIM application: allow, retake (record the video statement once more and send
    the application again with retake_transcript), verify (in person, face check) or
    refuse."""
    order = Order.new(order_id=body.order_id, address_hash=body.address_hash,
                      contact=body.contact, ip=body.ip, device_id=body.device_id)
    return CheckOut.of(s.check(id_hash=body.id_hash, holder_kind=body.holder_kind,
                               channel_id=body.channel_id, staff_id=body.staff_id,
                               terminal_id=body.terminal_id, msisdn=body.msisdn,
                               actor=user.name, order=order, transcript=body.transcript,
                               retake_transcript=body.retake_transcript))


@router.get("/numbers", response_model=NumbersOut)
def numbers(s: S, id_hash: Annotated[str, Query(max_length=64)],
            user: Annotated[User, Depends(requires(Permission.REGISTRATIONS_NUMBERS))]
            ) -> NumbersOut:
    """The numbers under an ID (名下号码), masked."""
    return NumbersOut(numbers=list(s.numbers(id_hash, actor=user.name)))


Staff = Annotated[User, Depends(requires(Permission.REGISTRATIONS_STAFF))]


@router.get("/staff-suspensions", response_model=list[SuspensionOut])
def suspensions(s: S, _user: Staff, include_lifted: bool = False) -> list[SuspensionOut]:
    """Staff IDs suspended from registering, newest first."""
    return [SuspensionOut.of(x) for x in s.suspended_staff(include_lifted=include_lifted)]


@router.put("/staff-suspensions/{staff_id}", response_model=SuspensionOut, status_code=201)
def suspend(s: S, staff_id: StaffId, body: SuspendIn, user: Staff) -> SuspensionOut:
    """Suspend a staff ID from registering."""
    return SuspensionOut.of(s.suspend_staff(staff_id, reason=body.reason, actor=user.name))


@router.delete("/staff-suspensions/{staff_id}", response_model=SuspensionOut)
def lift(s: S, staff_id: StaffId, reason: Annotated[str, Query(min_length=1, max_length=2000)],
         user: Staff) -> SuspensionOut:
    """Lift a staff ID's suspension."""
    return SuspensionOut.of(s.lift_staff(staff_id, reason=reason, actor=user.name))
