"""The one pagination dependency."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request

from telshield.api.schemas import MAX_OFFSET
from telshield.domain.paging import Page


def page(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=1000, description="items per page")] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="items to skip")] = 0,
) -> Page:
    """The page asked for, capped at the configured largest page."""
    return Page(limit=min(limit, request.app.state.max_page), offset=offset)
