"""Routes for black/white/grey lists."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from telshield.api.auth import disposal, requires
from telshield.api.paging import page
from telshield.api.schemas import MAX_ID, NUMBER, DiffOut, EntryIn, EntryOut, PageOut, PoliceBlockIn
from telshield.domain.errors import InvalidInput
from telshield.domain.paging import Page
from telshield.domain.users import Permission, User
from telshield.wiring import Disposal

router = APIRouter(prefix="/lists", tags=["lists"])
D = Annotated[Disposal, Depends(disposal)]
P = Annotated[Page, Depends(page)]


@router.get("", response_model=PageOut[EntryOut])
def list_entries(
    d: D, pg: P, user: Annotated[User, Depends(requires(Permission.LISTS_READ))],
    value: Annotated[str, Query(max_length=64)] = "",
    kind: Annotated[str, Query(max_length=16)] = "",
    colour: Annotated[str, Query(max_length=8)] = "",
    source: Annotated[str, Query(max_length=16)] = "",
) -> PageOut[EntryOut]:
    """Entries in force, newest first."""
    items = d.lists.find(value=value, kind=kind, colour=colour, source=source, page=pg)
    return PageOut(items=[EntryOut.of(e, user) for e in items], limit=pg.limit, offset=pg.offset)


@router.post("", response_model=EntryOut, status_code=201)
def add_entry(d: D, body: EntryIn,
              user: Annotated[User, Depends(requires(Permission.LISTS_WRITE))]) -> EntryOut:
    """Add an entry (police-ordered blocks go through /lists/police-blocks)."""
    if body.source == "police":
        raise InvalidInput("police entries are added by police users at /lists/police-blocks")
    e = d.lists.add(body.kind, body.value, body.colour, source=body.source, reason=body.reason,
                    actor=user.name, expires_at=body.expires_at, value_end=body.value_end,
                    owner=body.owner, wide_ok=user.may(Permission.LISTS_WIDE_WHITE))
    return EntryOut.of(e, user)


@router.post("/police-blocks", response_model=EntryOut, status_code=201)
def add_police_block(
    d: D, body: PoliceBlockIn,
    user: Annotated[User, Depends(requires(Permission.POLICE_BLOCK))],
) -> EntryOut:
    """A police-ordered block: beats any whitelist entry."""
    actor = f"{user.name} ({user.unit})" if user.unit else user.name
    e = d.lists.add(body.kind, body.value, "black", source="police", reason=body.reason,
                    actor=actor, expires_at=body.expires_at, value_end=body.value_end,
                    police_ordered=True)
    return EntryOut.of(e, user)


@router.delete("/{entry_id}")
def remove_entry(
    d: D, entry_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    reason: Annotated[str, Query(min_length=1, max_length=2000)],
    user: Annotated[User, Depends(requires(Permission.LISTS_WRITE))],
) -> dict[str, int]:
    """Remove an entry at a new list version."""
    return {"version": d.lists.remove(entry_id, actor=user.name, reason=reason)}


@router.delete("/police-blocks/{entry_id}")
def lift_police_block(
    d: D, entry_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    reason: Annotated[str, Query(min_length=1, max_length=2000)],
    release_ref: Annotated[str, Query(min_length=1, max_length=128,
                                      description="the police's written release")],
    user: Annotated[User, Depends(requires(Permission.POLICE_BLOCK))],
) -> dict[str, int]:
    """Lift a police-ordered block under a recorded police release (police or an admin)."""
    actor = f"{user.name} ({user.unit})" if user.unit else user.name
    return {"version": d.lists.lift_police_block(entry_id, actor=actor, reason=reason,
                                                 release_ref=release_ref)}


@router.get("/check/{number}", response_model=EntryOut | None)
def check_number(
    d: D, number: Annotated[str, Path(pattern=NUMBER)],
    user: Annotated[User, Depends(requires(Permission.LISTS_READ))],
) -> EntryOut | None:
    """The entry that decides for a number now, or null."""
    e = d.lists.decide(number.lstrip("+"))
    return None if e is None else EntryOut.of(e, user)


@router.get("/diff", response_model=DiffOut)
def diff_versions(
    d: D, user: Annotated[User, Depends(requires(Permission.LISTS_READ))],
    from_version: Annotated[int, Query(ge=0, le=MAX_ID)],
    to_version: Annotated[int, Query(ge=0, le=MAX_ID)],
    limit: Annotated[int | None, Query(ge=1, le=10_000)] = None,
    after_added: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    after_removed: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> DiffOut:
    """Entries added and removed between two list versions: all of them, or with ``limit``
    a page of each side in id order after ``after_added`` / ``after_removed``, with the
    totals and the ids to page on from."""
    if limit is None:
        if after_added or after_removed:
            raise InvalidInput("after_added / after_removed page a diff: give limit too")
        diff = d.lists.diff(from_version, to_version)
        return DiffOut(from_version=diff.from_version, to_version=diff.to_version,
                       added=[EntryOut.of(e, user) for e in diff.added],
                       removed=[EntryOut.of(e, user) for e in diff.removed],
                       added_total=len(diff.added), removed_total=len(diff.removed))
    p = d.lists.diff_page(from_version, to_version, after_added=after_added,
                          after_removed=after_removed, limit=limit)
    return DiffOut(from_version=p.from_version, to_version=p.to_version,
                   added=[EntryOut.of(e, user) for e in p.added],
                   removed=[EntryOut.of(e, user) for e in p.removed],
                   added_total=p.added_total, removed_total=p.removed_total,
                   next_added=p.next_added, next_removed=p.next_removed)


@router.get("/version")
def current_version(
    d: D, _user: Annotated[User, Depends(requires(Permission.LISTS_READ))]
) -> dict[str, int]:
    """The latest list version."""
    return {"version": d.lists.current_version()}
