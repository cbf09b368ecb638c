"""Routes for users and the caller's own identity."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from telshield.api.auth import current_user, disposal, requires
from telshield.api.schemas import NewUserOut, UserIn, UserOut
from telshield.domain.users import Permission, User
from telshield.wiring import Disposal

router = APIRouter(tags=["users"])
D = Annotated[Disposal, Depends(disposal)]


@router.get("/me", response_model=UserOut)
def me(user: Annotated[User, Depends(current_user)]) -> UserOut:
    """Who the key belongs to."""
    return UserOut.of(user)


@router.get("/users", response_model=list[UserOut])
def list_users(
    d: D, _user: Annotated[User, Depends(requires(Permission.USERS_MANAGE))]
) -> list[UserOut]:
    """Every user (never their keys)."""
    return [UserOut.of(u) for u in d.users.all()]


@router.post("/users", response_model=NewUserOut, status_code=201)
def add_user(d: D, body: UserIn,
             user: Annotated[User, Depends(requires(Permission.USERS_MANAGE))]) -> NewUserOut:
    """Make a user; the API key is in the response and nowhere else."""
    new, key = d.users.add(body.name, body.role, actor=user.name, unit=body.unit)
    return NewUserOut(**UserOut.of(new).model_dump(), key=key)
