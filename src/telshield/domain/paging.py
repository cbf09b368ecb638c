"""Pagination of listings, shared by the store, services and edges."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Page:
    """Which slice of a listing to return."""

    limit: int = 100
    offset: int = 0
