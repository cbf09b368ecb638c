"""Shared test fixtures (each area's block is marked)."""

from __future__ import annotations

# --- disposal area: every store test runs on SQLite and PostgreSQL ---------------------------
# PostgreSQL comes from TELSHIELD_TEST_DATABASE_URL (default: the server on loopback). When it
# is unreachable the PostgreSQL variants fail, they never skip: in CI they must run.
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from telshield.services.store import FixedClock
from telshield.store.sql import SqlStore, open_store

PG_URL = os.environ.get(
    "TELSHIELD_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@dataclass(frozen=True)
class Target:
    """A database to run on: its URL and the schema (PostgreSQL) that isolates the test."""

    url: str
    schema: str = ""


def _pg_schema() -> Iterator[Target]:
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(PG_URL)
    with admin.begin() as c:
        c.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield Target(PG_URL, schema)
    finally:
        with admin.begin() as c:
            c.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    """A fresh, empty database on each backend."""
    if request.param == "sqlite":
        yield Target(f"sqlite:///{(tmp_path / 'store.db').as_posix()}")
    else:
        yield from _pg_schema()


@pytest.fixture
def store(db: Target) -> Iterator[SqlStore]:
    """A migrated store on each backend."""
    s = open_store(db.url, schema=db.schema)
    yield s
    s.dispose()


@pytest.fixture
def clock() -> FixedClock:
    """A fixed clock at 2026-03-01 09:00 UTC."""
    return FixedClock(datetime(2026, 3, 1, 9, 0, 0))
# --- end of disposal area -------------------------------------------------------------------
