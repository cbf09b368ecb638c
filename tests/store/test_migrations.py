"""Migrations on SQLite and PostgreSQL: the tables they make are the tables the code declares,
and a store made by an older version is upgraded with its data carried over."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext

from telshield.store.sql import MIGRATIONS, create_engine, migrate
from telshield.store.tables import alerts, metadata

T0 = datetime(2026, 3, 1, 9)


def _upgrade(engine: sa.Engine, to: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, to)


def test_migrations_make_the_declared_tables(db: Any) -> None:
    engine = create_engine(db.url, schema=db.schema)
    migrate(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    # Server defaults and index details are compared loosely by Alembic; tables, columns and
    # their types must match.
    assert [d for d in diff if d[0] in ("add_table", "remove_table", "add_column",
                                        "remove_column")] == []


def test_alerts_of_an_older_store_become_their_first_versions(db: Any) -> None:
    engine = create_engine(db.url, schema=db.schema)
    _upgrade(engine, "0001")
    row = {"msisdn": "8613800000001", "score": 0.75, "tier": "verify", "reasons": [],
           "features": {}, "detected_at": T0, "window_end": T0, "model_version": "",
           "rules_version": "r1"}
    with engine.begin() as conn:
        conn.execute(sa.insert(alerts), [{**row, "is_open": False},
                                         {**row, "tier": "suspend", "is_open": True}])
    migrate(engine)
    with engine.connect() as conn:
        got = conn.execute(sa.select(alerts.c.version, alerts.c.first_seen)).all()
        versions = conn.execute(sa.text("SELECT alert_id, version FROM alert_versions")).all()
    engine.dispose()
    assert sorted(got) == [(1, T0), (1, T0)] and sorted(versions) == [(1, 1), (2, 1)]
