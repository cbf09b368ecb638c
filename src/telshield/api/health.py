"""Liveness and readiness: public by design, so that a load balancer or a process supervisor
can ask without a key. They say nothing about the data: up, and whether the store can serve."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from pydantic import BaseModel

from telshield import __version__

router = APIRouter(tags=["health"])


class HealthOut(BaseModel):
    """The process answers."""

    status: str
    version: str


class ReadyOut(BaseModel):
    """The store is reachable and at the schema this version expects."""

    status: str
    schema_revision: str


class NotReadyOut(BaseModel):
    """Why the API cannot serve yet."""

    error: str
    detail: str


@router.get("/healthz", response_model=HealthOut)
def healthz() -> HealthOut:
    """The process is up (no key needed; checks nothing else)."""
    return HealthOut(status="ok", version=__version__)


@router.get("/readyz", response_model=ReadyOut,
            responses={503: {"model": NotReadyOut, "description": "not ready, and why"}})
def readyz(request: Request) -> ReadyOut:
    """The store is reachable and migrated (no key needed); 503 with the reason otherwise."""
    check: Callable[[], str] = request.app.state.ready
    return ReadyOut(status="ready", schema_revision=check())
