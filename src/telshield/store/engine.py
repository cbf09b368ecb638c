"""Engines (SQLite in WAL mode, or PostgreSQL) and migrations to the latest schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
import structlog
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection, Engine

from telshield.domain.errors import Unavailable

log = structlog.get_logger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"


def create_engine(url: str, *, schema: str = "") -> Engine:
    """An engine for ``url``: SQLite in WAL mode with writers serialised, or PostgreSQL."""
    if url.startswith("sqlite"):
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 60})

        @sa.event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy, not the driver, decide when transactions begin.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
                cur.execute(f"PRAGMA {pragma}")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            # Take the write lock up front: no deadlock when a reader turns writer.
            read = conn.get_execution_options().get("telshield_read", False)
            conn.exec_driver_sql("BEGIN" if read else "BEGIN IMMEDIATE")

        return engine
    connect_args = {"options": f"-csearch_path={schema}"} if schema else {}
    return sa.create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def migrate(engine: Engine) -> None:
    """Bring the database schema up to the latest migration."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except sa.exc.OperationalError as e:
        raise Unavailable(
            f"cannot reach the store at {engine.url!r}: {e.orig}; check TELSHIELD_STORE__URL "
            "and that the database is running"
        ) from e
    log.info("store.migrated", url=engine.url.render_as_string(hide_password=True))
