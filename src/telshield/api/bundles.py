"""Routes for clue bundles: the numbers each police clue's trace proposed for disposal. Analysts
propose on demand, confirm (whole or a chosen subset, disposing through bulk disposal) or
reject; auditors read; numbers masked for roles that need not see them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from pydantic import BaseModel, Field

from telshield.api.auth import requires
from telshield.api.paging import page
from telshield.api.schemas import MAX_ID, BulkOut
from telshield.domain.bundles import Bundle, parse_status
from telshield.domain.cases import parse_action
from telshield.domain.paging import Page
from telshield.domain.users import Permission, User, mask_number
from telshield.services.bundles import BundleService
from telshield.settings import Settings
from telshield.wiring.bundles import bundles as compose

router = APIRouter(prefix="/v1/clues", tags=["clues"])
Reader = Annotated[User, Depends(requires(Permission.BUNDLES_READ))]
Decider = Annotated[User, Depends(requires(Permission.BUNDLES_DECIDE))]
Id = Annotated[int, Path(ge=1, le=MAX_ID)]


def install(app: FastAPI, settings: Settings) -> None:
    """Serve the bundle routes over the app's disposal services."""
    app.state.bundles = compose(settings, app.state.disposal)
    app.include_router(router)


def service(request: Request) -> BundleService:
    """The bundle service the app was built with."""
    s: BundleService = request.app.state.bundles
    return s


S = Annotated[BundleService, Depends(service)]


def _shown(user: User) -> Callable[[str], str]:
    return (lambda n: n) if user.sees_numbers else mask_number


class MemberOut(BaseModel):
    """A related number: its strength, link kinds, evidence and the analyst's decision."""

    msisdn: str
    strength: float
    kinds: list[str]
    evidence: list[dict[str, Any]]
    decision: str


class BundleOut(BaseModel):
    """A clue's bundle; ``members`` only when one bundle is asked for."""

    id: int
    clue_id: str
    case_ref: str
    msisdn: str
    status: str
    created_at: datetime
    decided_by: str
    decided_at: datetime | None
    note: str
    size: int
    members: list[MemberOut] | None = None

    @classmethod
    def of(cls, b: Bundle, user: User, *, size: int | None = None,
           members: bool = True) -> BundleOut:
        """The bundle as ``user`` may see it."""
        show = _shown(user)
        return cls(
            id=int(b.id or 0), clue_id=b.clue_id, case_ref=b.case_ref, msisdn=show(b.msisdn),
            status=b.status.value, created_at=b.created_at, decided_by=b.decided_by,
            decided_at=b.decided_at, note=b.note,
            size=len(b.members) if size is None else size,
            members=[MemberOut(msisdn=show(m.msisdn), strength=m.strength, kinds=list(m.kinds),
                               evidence=[{**e, "via": show(str(e["via"])) if e.get("via")
                                          else ""} for e in m.evidence],
                               decision=m.decision.value)
                     for m in b.members] if members else None)


class ConfirmIn(BaseModel):
    """Confirm a bundle: every member, or the chosen ones (the others are rejected)."""

    reason: str = Field(min_length=1, max_length=2000, description="why; told to every user")
    members: list[str] | None = Field(default=None, min_length=1, max_length=10_000,
                                      description="the members confirmed (default: all)")
    action: str = Field(default="verify", max_length=16,
                        description="verify, restrict, suspend or confirm")


class RejectIn(BaseModel):
    """Reject a bundle."""

    reason: str = Field(min_length=1, max_length=2000)


class DecidedOut(BaseModel):
    """A decided bundle, what its disposal did, the chosen numbers of other operators."""

    bundle: BundleOut
    disposal: BulkOut | None
    others: list[str]


@router.get("/bundles", response_model=list[BundleOut])
def list_bundles(s: S, user: Reader, p: Annotated[Page, Depends(page)],
                 status: Annotated[str, Query(max_length=20)] = "") -> list[BundleOut]:
    """Clue bundles, newest first, without their members."""
    got = s.list(status=parse_status(status) if status else None, page=p)
    return [BundleOut.of(b, user, size=n, members=False) for b, n in got]


@router.get("/bundles/{bundle_id}", response_model=BundleOut)
def get_bundle(s: S, user: Reader, bundle_id: Id) -> BundleOut:
    """One bundle with its members, strongest first."""
    return BundleOut.of(s.get(bundle_id), user)


@router.post("/{clue_id}/bundle", response_model=BundleOut)
def propose_bundle(s: S, user: Decider,
                   clue_id: Annotated[str, Path(min_length=1, max_length=64)]) -> BundleOut:
    """The clue's bundle, traced now if it has none (404 for a clue not in the feed)."""
    return BundleOut.of(s.propose(clue_id, actor=user.name), user)


@router.post("/bundles/{bundle_id}/confirm", response_model=DecidedOut)
def confirm_bundle(s: S, user: Decider, bundle_id: Id, body: ConfirmIn) -> DecidedOut:
    """Confirm and dispose of the chosen members that are ours, in one transaction (409 if
    decided already or a move is illegal; nothing changes then)."""
    d = s.confirm(bundle_id, actor=user.name, reason=body.reason, members=body.members,
                  kind=parse_action(body.action))
    r = d.disposal
    return DecidedOut(
        bundle=BundleOut.of(d.bundle, user),
        disposal=None if r is None else BulkOut(action=r.action.value, moved=r.moved,
                                                opened=r.opened, unchanged=r.unchanged),
        others=[_shown(user)(m) for m in d.others])


@router.post("/bundles/{bundle_id}/reject", response_model=BundleOut)
def reject_bundle(s: S, user: Decider, bundle_id: Id, body: RejectIn) -> BundleOut:
    """Reject every member; nothing is disposed (409 if decided already)."""
    return BundleOut.of(s.reject(bundle_id, actor=user.name, reason=body.reason), user)
